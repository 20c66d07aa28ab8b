import { uuidv7 } from 'uuidv7';
import { ApiError } from '../../errors.js';
import { type Actor, actorOf, diffFields, SYSTEM_ACTOR } from '../../lib/change-log.js';
import type { ReplyRecorder } from '../../lib/idempotency.js';
import { type CursorPage, type CursorRequest, type Page, type PageRequest, pageOf } from '../../lib/lists.js';
import type { AppContext } from '../../lib/module.js';
import { atLeast, type Principal } from '../../lib/principal.js';
import * as repo from './comments.repository.js';
import type { Comment, CommentInput } from './comments.schemas.js';

/** What a comment.updated lists when it differs (`edited` is derived: it flips on the first edit). */
const DIFFED = ['body', 'edited', 'authorId'] as const;

function toComment(row: repo.CommentRow): Comment {
  return {
    id: row.id,
    taskId: row.task_id,
    authorId: row.author_id,
    body: row.body,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    edited: row.edited === 1,
  };
}

/**
 * The comment rules. A comment is as visible as its task: every decision starts from the task
 * service's `access` (404 for a caller who may not read the task), then the caller's role in the
 * task's project (403), then the project's archived flag (409 project_archived).
 */
export class CommentsService {
  constructor(private readonly ctx: AppContext) {}

  private get db() {
    return this.ctx.database.db;
  }

  private now(): string {
    return new Date(this.ctx.clock()).toISOString();
  }

  /**
   * PostgreSQL: writes hold the task's row until they commit, so a task deleted meanwhile takes the
   * new comment with it (instead of a foreign-key failure) and its rules are read as they stand.
   */
  private get lock(): boolean {
    return this.ctx.database.dialect === 'postgres';
  }

  async list(caller: Principal, taskId: string, request: PageRequest): Promise<Page<Comment>> {
    await this.ctx.services.tasks.access(caller, taskId);
    const { page, size } = request;
    const [rows, total] = await Promise.all([
      repo.listComments(this.db, taskId, size, (page - 1) * size),
      repo.countComments(this.db, taskId),
    ]);
    return pageOf(rows.map(toComment), total, request);
  }

  /** Version 2: the comments after the cursor's position; every page costs the same. */
  async listAfter(caller: Principal, taskId: string, request: CursorRequest): Promise<CursorPage<Comment>> {
    await this.ctx.services.tasks.access(caller, taskId);
    const { limit, cursor } = request;
    const { cursors } = this.ctx;
    const binding = { list: 'comments', caller: caller.userId, taskId };
    const after = cursor === undefined ? null : positionFrom(cursors.open(binding, cursor));
    const rows = await repo.listComments(this.db, taskId, limit + 1, 0, after);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > limit && last ? cursors.sign(binding, { at: last.created_at, id: last.id }) : null;
    return { items: page.map(toComment), nextCursor };
  }

  async get(caller: Principal, id: string): Promise<Comment> {
    const row = await repo.findComment(this.db, id);
    if (!row) throw new ApiError('not_found');
    await this.ctx.services.tasks.access(caller, row.task_id);
    return toComment(row);
  }

  /** Commenters and up (admins act as owners); a viewer, or an assignee that is no member → 403. */
  /**
   * Records a comment event in `db`, a change-log transaction: in the task's project, in the
   * task's activity; the task's assignee sees it (it may read the task's comments).
   */
  private record(
    db: repo.Db,
    type: 'comment.created' | 'comment.updated' | 'comment.deleted',
    actor: Actor,
    at: string,
    task: { id: string; projectId: string; assigneeId: string | null },
    comment: Comment,
    changes: ReturnType<typeof diffFields> = null,
  ): void {
    this.ctx.changes.record(db, {
      type,
      at,
      actor,
      projectId: task.projectId,
      subject: { type: 'comment', id: comment.id },
      taskId: task.id,
      changes,
      data: comment,
      viewers: task.assigneeId === null ? [] : [task.assigneeId],
    });
  }

  /**
   * A user is about to be deleted (users port, after its lone projects went): its comments that
   * stay lose their author (the foreign key nulls it when the row goes), one comment.updated each.
   */
  async userDeleted(db: repo.Db, userId: string, at: string): Promise<void> {
    for (const row of await repo.commentsOf(db, userId)) {
      const before = toComment(row);
      const after = { ...before, authorId: null };
      const task = { id: row.task_id, projectId: row.project_id, assigneeId: row.assignee_id };
      this.record(db, 'comment.updated', SYSTEM_ACTOR, at, task, after, diffFields(before, after, DIFFED));
    }
  }

  async create(
    caller: Principal,
    taskId: string,
    body: string,
    recorder?: ReplyRecorder<Comment>,
  ): Promise<Comment> {
    return this.ctx.changes.transaction(this.db, async (trx) => {
      const access = await this.ctx.services.tasks.access(caller, taskId, trx, this.lock);
      if (!atLeast(access.role, 'commenter')) {
        throw new ApiError('forbidden', { detail: 'Commenting needs the commenter role in the project' });
      }
      if (access.archived) throw new ApiError('project_archived');
      const now = this.now();
      const row: repo.CommentRow = {
        id: uuidv7(),
        task_id: taskId,
        author_id: caller.userId,
        body,
        edited: 0,
        created_at: now,
        updated_at: now,
      };
      await repo.insertComment(trx, row);
      const comment = toComment(row);
      this.record(trx, 'comment.created', actorOf(caller), now, taskOf(access.row), comment);
      await recorder?.(trx, comment);
      return comment;
    });
  }

  /**
   * The author only, while it is still commenter or up (an admin is not the author of others'
   * comments). A body equal to the stored one, or none, changes nothing (`edited` stays).
   */
  async update(caller: Principal, id: string, input: CommentInput): Promise<Comment> {
    return this.ctx.changes.transaction(this.db, async (trx) => {
      const row = await this.visible(caller, id, trx);
      const { role, archived } = row.access;
      if (row.comment.author_id !== caller.userId || !atLeast(role, 'commenter')) {
        throw new ApiError('forbidden', { detail: 'Only its author may change a comment' });
      }
      if (archived) throw new ApiError('project_archived');
      if (input.body === undefined || input.body === row.comment.body) return toComment(row.comment);
      const now = this.now();
      const updated = await repo.updateBody(trx, id, input.body, now);
      // Deleted meanwhile (SQLite has no row lock to queue on): it is gone, as for a later request.
      if (!updated) throw new ApiError('not_found');
      const after = toComment(updated);
      const changes = diffFields(toComment(row.comment), after, DIFFED);
      this.record(trx, 'comment.updated', actorOf(caller), now, taskOf(row.access.row), after, changes);
      return after;
    });
  }

  /** Its author (commenter or up), or an owner of the project (admins act as owners). */
  async delete(caller: Principal, id: string): Promise<void> {
    await this.ctx.changes.transaction(this.db, async (trx) => {
      const { comment, access } = await this.visible(caller, id, trx);
      const author = comment.author_id === caller.userId && atLeast(access.role, 'commenter');
      if (!author && access.role !== 'owner') {
        throw new ApiError('forbidden', {
          detail: 'Only its author or a project owner may delete a comment',
        });
      }
      if (access.archived) throw new ApiError('project_archived');
      // A delete that loses a race to another delete finds nothing: 404.
      const deleted = await repo.deleteComment(trx, id);
      if (!deleted) throw new ApiError('not_found');
      this.record(
        trx,
        'comment.deleted',
        actorOf(caller),
        this.now(),
        taskOf(access.row),
        toComment(deleted),
      );
    });
  }

  /** A comment and the caller's standing to its task, inside a write's transaction; else 404. */
  private async visible(caller: Principal, id: string, trx: repo.Db) {
    const comment = await repo.findComment(trx, id);
    if (!comment) throw new ApiError('not_found');
    const access = await this.ctx.services.tasks.access(caller, comment.task_id, trx, this.lock);
    return { comment, access };
  }
}

function taskOf(row: { id: string; project_id: string; assignee_id: string | null }) {
  return { id: row.id, projectId: row.project_id, assigneeId: row.assignee_id };
}

/** The position a (signed) cursor carries, checked for its shape. */
function positionFrom(value: unknown): repo.Position {
  const p = value as Partial<repo.Position> | null;
  if (typeof p !== 'object' || p === null || typeof p.at !== 'string' || typeof p.id !== 'string') {
    throw new ApiError('invalid_cursor');
  }
  return { at: p.at, id: p.id };
}
