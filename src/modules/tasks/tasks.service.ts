import type { Kysely } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { Database } from '../../db/schema.js';
import { ApiError } from '../../errors.js';
import { type Actor, actorOf, diffFields, SYSTEM_ACTOR } from '../../lib/change-log.js';
import { etagOf, ifMatchPasses } from '../../lib/conditional.js';
import type { ReplyRecorder } from '../../lib/idempotency.js';
import { type CursorPage, type CursorRequest, type Page, type PageRequest, pageOf } from '../../lib/lists.js';
import type { AppContext } from '../../lib/module.js';
import { atLeast, callerProjectRole, type Principal, type ProjectRole } from '../../lib/principal.js';
import type { Subtree } from './subtasks.js';
import * as tree from './subtasks.repository.js';
import { FIELDS, type TaskChanges, type TaskRow } from './task-fields.js';
import { positionFrom, toFilter, toSort, visibilityOf } from './task-lists.js';
import { authorizeWrite, checkState, type Target, targetProject } from './task-rules.js';
import {
  CHANGING,
  columnsOf,
  completedAtOf,
  DEFAULTS,
  type State,
  sameState,
  stateOf,
  stripUndefined,
  toRow,
  toTask,
} from './task-state.js';
import * as repo from './tasks.repository.js';
import type { Task, TaskInput, TaskListFilters, TaskListQuery, TaskStats } from './tasks.schemas.js';

export { toRow, toTask };

export type WriteMode = 'patch' | 'put';

/** A task as one caller stands to it (what comments, activity and the task rules decide by). */
export interface TaskAccess {
  row: TaskRow;
  /** The caller's role in the task's project (admins: owner); null when not a member. */
  role: ProjectRole | null;
  /** Whether the caller is the task's assignee. */
  assignee: boolean;
  /** The project is archived: read-only. */
  archived: boolean;
  /** The project is its owner's personal project. */
  personal: boolean;
}

const NO_SUBTREE: Subtree = [];

/** What a task.updated lists when it differs: every field but the identity, version and times. */
const DIFFED = (Object.keys(FIELDS) as (keyof Task)[]).filter(
  (name) => !['id', 'version', 'createdAt', 'updatedAt'].includes(name),
);

function assignees(...tasks: Task[]): string[] {
  return tasks.flatMap((task) => (task.assigneeId === null ? [] : [task.assigneeId]));
}

/** The task rules: visibility, who may change what, versions, the merged-result checks. */
export class TasksService {
  constructor(private readonly ctx: AppContext) {}

  private get db() {
    return this.ctx.database.db;
  }

  /**
   * The task and the caller's standing to it, when the caller may see it (a member of its project,
   * its assignee, an admin); everyone else gets 404, as if it did not exist.
   */
  async access(caller: Principal, id: string, db = this.db, lock = false): Promise<TaskAccess> {
    const found = await repo.findTaskAccess(db, id, caller.userId, lock);
    if (!found) throw new ApiError('not_found');
    const { project_archived, project_personal, member_role, ...row } = found;
    const role = callerProjectRole(caller, member_role);
    const assignee = row.assignee_id === caller.userId;
    if (role === null && !assignee) throw new ApiError('not_found');
    return { row, role, assignee, archived: project_archived === 1, personal: project_personal === 1 };
  }

  /**
   * Create in the named project (editor and up; archived → 409) or the caller's personal one. The
   * parent, when given, must be a task of that project with room for one more level.
   */
  async create(
    caller: Principal,
    input: TaskInput & { title: string },
    recorder?: ReplyRecorder<Task>,
  ): Promise<Task> {
    return this.ctx.changes.transaction(this.db, async (trx) => {
      const target: Target =
        input.projectId === undefined
          ? {
              id: await this.ctx.services.projects.personalProjectId(caller.userId, trx),
              known: true,
              personal: true,
            }
          : await targetProject(this.ctx, caller, input.projectId, trx);
      const state: State = {
        ...DEFAULTS,
        parentId: null,
        ...stripUndefined(input),
        projectId: target.id,
        title: input.title,
      };
      if (state.parentId !== null) await this.lockTree(trx, [target.id]);
      await checkState(this.ctx, trx, state, null, target, NO_SUBTREE);
      const now = new Date().toISOString();
      const task: Task = {
        id: uuidv7(),
        ownerId: caller.userId,
        ...state,
        completedAt: completedAtOf(state, null, now),
        version: 1,
        createdAt: now,
        updatedAt: now,
      };
      await repo.insertTask(trx, toRow(task));
      this.record(trx, 'task.created', actorOf(caller), now, task, null, assignees(task));
      await recorder?.(trx, task);
      return task;
    });
  }

  async get(caller: Principal, id: string): Promise<Task> {
    return toTask((await this.access(caller, id)).row);
  }

  async list(caller: Principal, query: TaskListQuery, request: PageRequest): Promise<Page<Task>> {
    const { page, size } = request;
    const filter = toFilter(query);
    const sort = toSort(query.sort ?? '-createdAt');
    const visibility = visibilityOf(caller);
    const [rows, total] = await Promise.all([
      repo.listTasks(this.db, visibility, filter, sort, size, (page - 1) * size),
      repo.countTasks(this.db, visibility, filter),
    ]);
    return pageOf(rows.map(toTask), total, request);
  }

  /** Version 2: a page after the cursor's position; every page costs the same. */
  async listAfter(
    caller: Principal,
    filters: TaskListQuery,
    request: CursorRequest,
  ): Promise<CursorPage<Task>> {
    const { limit, cursor } = request;
    const { cursors } = this.ctx;
    const filter = toFilter(filters);
    const sort = toSort(filters.sort ?? '-createdAt');
    // Bound to the caller, the filters and the sort; not to the limit.
    const binding = { list: 'tasks', caller: caller.userId, filter, sort };
    const after = cursor === undefined ? null : positionFrom(cursors.open(binding, cursor), sort);
    const rows = await repo.listTasks(this.db, visibilityOf(caller), filter, sort, limit + 1, 0, after);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > limit && last ? cursors.sign(binding, repo.positionOf(last, sort)) : null;
    return { items: page.map(toTask), nextCursor };
  }

  /** GET /tasks/stats, through the cache (stats-cache.ts), which decides whether to compute. */
  stats(caller: Principal, query: Pick<TaskListFilters, 'projectId' | 'parentId'> = {}): Promise<TaskStats> {
    const filter = toFilter(query);
    return this.ctx.services.statsCache.get(caller, filter, async (now) => {
      const rows = await repo.taskStats(this.db, visibilityOf(caller), filter, now);
      const stats: TaskStats = {
        total: 0,
        byStatus: { todo: 0, in_progress: 0, done: 0 },
        byPriority: { low: 0, medium: 0, high: 0 },
        overdue: 0,
      };
      let nextDue: string | null = null;
      for (const row of rows) {
        const n = Number(row.n);
        stats.total += n;
        stats.byStatus[row.status] += n;
        stats.byPriority[FIELDS.priority.decode(row.priority)] += n;
        stats.overdue += Number(row.overdue ?? 0);
        if (row.next_due !== null && (nextDue === null || row.next_due < nextDue)) nextDue = row.next_due;
      }
      return { stats, nextDue };
    });
  }

  /**
   * The task for a write, with the rules in the contract's order: visibility (404), the caller's
   * role (403), an archived project (409). A guest gets 403 for whatever it may not do, whether or
   * not it can see the task, so the answer tells it nothing of tasks it cannot see.
   */
  private async forWrite(caller: Principal, id: string, statusOnly: boolean, db = this.db, lock = false) {
    const forbidden = () =>
      new ApiError('forbidden', { detail: 'A guest may change only the status of a task assigned to it' });
    if (caller.role === 'guest' && !statusOnly) throw forbidden();
    let access: TaskAccess;
    try {
      access = await this.access(caller, id, db, lock);
    } catch (error) {
      if (caller.role === 'guest' && error instanceof ApiError && error.code === 'not_found')
        throw forbidden();
      throw error;
    }
    authorizeWrite(caller, access, statusOnly);
    if (access.archived) throw new ApiError('project_archived');
    return access;
  }

  /**
   * PATCH (merge) or PUT (replace; an omitted projectId or parentId keeps its value). Checks in the
   * contract's order: visibility (404), the caller's role and the target project's (403), archived
   * projects (409), If-Match (412), the merged result (422). The write is one conditional statement
   * on the version read; a move takes the subtasks along. Without If-Match, PostgreSQL writers
   * queue on a row lock; a write that still loses (another process, on SQLite) merges again.
   */
  async update(
    caller: Principal,
    id: string,
    input: TaskInput,
    mode: WriteMode,
    ifMatch: string | undefined,
  ): Promise<Task> {
    const lock = ifMatch === undefined && this.ctx.database.dialect === 'postgres';
    const statusOnly = mode === 'patch' && Object.keys(input).every((f) => f === 'status');
    const treeChange = input.parentId !== undefined || input.projectId !== undefined;
    for (let attempt = 0; ; attempt += 1) {
      const written = await this.ctx.changes.transaction(this.db, async (trx) => {
        // Projects before the task row, as every parent change takes them: a move that waits on
        // this task's row then never holds what this write waits for.
        const locked: string[] = [];
        if (treeChange && this.ctx.database.dialect === 'postgres') {
          const before = await this.forWrite(caller, id, statusOnly, trx);
          locked.push(before.row.project_id, ...(input.projectId ? [input.projectId] : []));
          await this.lockTree(trx, locked);
        }
        const access = await this.forWrite(caller, id, statusOnly, trx, lock);
        const current = toTask(access.row);
        const given = stripUndefined(input);
        const next: State =
          mode === 'put'
            ? {
                ...DEFAULTS,
                projectId: current.projectId,
                parentId: current.parentId,
                ...given,
                title: input.title ?? current.title,
              }
            : { ...stateOf(current), ...given };
        const moved = next.projectId !== current.projectId;
        const target: Target = moved
          ? await targetProject(this.ctx, caller, next.projectId, trx)
          : { id: current.projectId, known: true, personal: access.personal };
        if (ifMatch !== undefined && !ifMatchPasses(ifMatch, current.version)) {
          throw new ApiError('precondition_failed', { headers: { etag: etagOf(current.version) } });
        }
        const reparented = moved || next.parentId !== current.parentId;
        const unlocked = [current.projectId, next.projectId].filter((p) => !locked.includes(p));
        if (reparented && unlocked.length > 0) await this.lockTree(trx, unlocked);
        const subtree = reparented ? await tree.descendants(trx, id) : NO_SUBTREE;
        await checkState(this.ctx, trx, next, current, target, subtree);
        if (sameState(next, stateOf(current))) return current;

        const now = new Date().toISOString();
        const changes = columnsOf(
          { ...current, ...next, completedAt: completedAtOf(next, current, now), updatedAt: now },
          CHANGING,
        ) as TaskChanges;
        const tags = JSON.stringify(next.tags) !== JSON.stringify(current.tags) ? next.tags : null;
        const updated = await repo.updateTaskIfVersion(trx, id, current.version, changes, tags);
        if (!updated) return null;
        const after = toTask(updated);
        const actor = actorOf(caller);
        // A move: the old project's members (at the move) see it and the subtasks' moves too.
        const oldMembers = moved ? await repo.memberIds(trx, current.projectId) : [];
        this.record(trx, 'task.updated', actor, now, after, diffFields(current, after, DIFFED), [
          ...oldMembers,
          ...assignees(current, after),
        ]);
        if (moved && subtree.length > 0) {
          const ids = subtree.map((d) => d.id);
          // Held (PostgreSQL) until the move: no write of a subtask slips in between.
          const lock = this.lockRows ? 'no key update' : null;
          const before = new Map((await repo.findTasks(trx, ids, lock)).map((row) => [row.id, toTask(row)]));
          for (const row of await tree.moveTasks(trx, ids, next.projectId, now)) {
            const movedTask = toTask(row);
            const was = before.get(row.id) ?? movedTask;
            this.record(trx, 'task.updated', actor, now, movedTask, diffFields(was, movedTask, DIFFED), [
              ...oldMembers,
              ...assignees(movedTask),
            ]);
          }
        }
        return after;
      });
      if (written) return written;
      // Someone else wrote first. With If-Match that is a failed precondition; without, merge again.
      if (ifMatch !== undefined || attempt >= 9) {
        const latest = await repo.findTask(this.db, id);
        if (!latest) throw new ApiError('not_found');
        throw new ApiError('precondition_failed', { headers: { etag: etagOf(latest.version) } });
      }
    }
  }

  /**
   * PostgreSQL: parent changes in these projects queue until this transaction ends, so concurrent
   * ones cannot together make a cycle or a sixth level. SQLite runs one writer at a time anyway.
   */
  private get lockRows(): boolean {
    return this.ctx.database.dialect === 'postgres';
  }

  private async lockTree(db: Kysely<Database>, projectIds: string[]): Promise<void> {
    if (this.ctx.database.dialect === 'postgres') await tree.lockProjects(db, projectIds);
  }

  /**
   * Who is assigned a task of the project: they see its events, the project's deletion included
   * (its tasks go without events of their own), or their stats would never learn of it.
   */
  assigneesIn(db: Kysely<Database>, projectId: string): Promise<string[]> {
    return repo.assigneesIn(db, projectId);
  }

  /**
   * A member removed from a project (projects module, in its transaction): its tasks there lose
   * their assignee, each with a new version.
   */
  async unassignMember(
    db: Kysely<Database>,
    projectId: string,
    userId: string,
    at: string,
    actor: Actor,
  ): Promise<void> {
    for (const row of await repo.unassign(db, userId, at, projectId)) {
      const after = toTask(row);
      const changes = { assigneeId: { from: userId, to: null } };
      this.record(db, 'task.updated', actor, at, after, changes, [userId]);
    }
  }

  /**
   * A user is about to be deleted (users port, after the projects module removed its lone and
   * personal projects): the tasks left that it is assigned lose their assignee (a new version),
   * those it owns keep going with `ownerId: null` (the foreign key, when the row goes); one
   * task.updated each, by the system, with every field that changes.
   */
  async userDeleted(db: Kysely<Database>, userId: string, at: string): Promise<void> {
    const owned = (await repo.tasksOwnedBy(db, userId)).map(toTask);
    const unassigned = new Map((await repo.unassign(db, userId, at)).map((row) => [row.id, toTask(row)]));
    const touched = new Map(owned.map((task) => [task.id, task]));
    for (const task of unassigned.values()) touched.set(task.id, task);
    for (const task of touched.values()) {
      const after: Task = {
        ...(unassigned.get(task.id) ?? task),
        ...(task.ownerId === userId ? { ownerId: null } : {}),
      };
      const before: Task = unassigned.has(task.id)
        ? { ...after, assigneeId: userId, ownerId: task.ownerId }
        : task;
      this.record(db, 'task.updated', SYSTEM_ACTOR, at, after, diffFields(before, after, DIFFED), [
        ...assignees(before, after),
      ]);
    }
  }

  /** Records a task event in `db`, a change-log transaction (see lib/change-log.ts). */
  private record(
    db: Kysely<Database>,
    type: 'task.created' | 'task.updated' | 'task.deleted',
    actor: Actor,
    at: string,
    task: Task,
    changes: ReturnType<typeof diffFields>,
    viewers: string[],
  ): void {
    if (type === 'task.updated' && changes === null) return;
    this.ctx.changes.record(db, {
      type,
      at,
      actor,
      projectId: task.projectId,
      subject: { type: 'task', id: task.id },
      taskId: task.id,
      changes: type === 'task.updated' ? changes : null,
      data: task,
      viewers,
    });
  }

  /** Editors and up (admins); archived → 409; the subtasks go too (foreign key). */
  async delete(caller: Principal, id: string, ifMatch: string | undefined): Promise<void> {
    const access = await this.access(caller, id);
    if (!atLeast(access.role, 'editor')) {
      throw new ApiError('forbidden', { detail: 'Deleting tasks in this project needs the editor role' });
    }
    if (access.archived) throw new ApiError('project_archived');
    const version = Number(access.row.version);
    if (ifMatch !== undefined && !ifMatchPasses(ifMatch, version)) {
      throw new ApiError('precondition_failed', { headers: { etag: etagOf(version) } });
    }
    const deleted = await this.ctx.changes.transaction(this.db, async (trx) => {
      // The project first, as a move does: a delete whose cascade reaches subtasks that a move of
      // an ancestor is updating then waits for the move instead of deadlocking with it.
      await this.lockTree(trx, [access.row.project_id]);
      // The subtree as it is deleted: under the project's lock no subtask comes or goes, and
      // (PostgreSQL) its rows are held, so the events carry what was deleted.
      const subtree = await tree.descendants(trx, id);
      const lock = this.lockRows ? 'update' : null;
      const rows = await repo.findTasks(trx, [id, ...subtree.map((d) => d.id)], lock);
      if (!(await repo.deleteTask(trx, id, ifMatch !== undefined ? version : null))) return false;
      const byId = new Map(rows.map((row) => [row.id, toTask(row)]));
      // Deepest subtasks first, the task itself last (ties by id): a reader applying them in
      // order never holds a subtask whose parent it already removed.
      const order = [...subtree]
        .sort((a, b) => b.n - a.n || (a.id < b.id ? -1 : 1))
        .map((d) => d.id)
        .concat(id);
      const actor = actorOf(caller);
      const now = new Date().toISOString();
      for (const taskId of order) {
        const task = byId.get(taskId);
        if (task) this.record(trx, 'task.deleted', actor, now, task, null, assignees(task));
      }
      return true;
    });
    if (deleted) return;
    const latest = await repo.findTask(this.db, id);
    // A delete that loses a race to another delete finds nothing: 404.
    if (!latest) throw new ApiError('not_found');
    throw new ApiError('precondition_failed', { headers: { etag: etagOf(latest.version) } });
  }
}
