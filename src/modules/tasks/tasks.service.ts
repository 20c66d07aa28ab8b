import { uuidv7 } from 'uuidv7';
import type { DatabaseHandle } from '../../db/database.js';
import { ApiError, type FieldError, fieldError } from '../../errors.js';
import { etagOf, ifMatchPasses } from '../../lib/conditional.js';
import type { CursorSigner } from '../../lib/cursor.js';
import { toIsoMillis } from '../../lib/date-time.js';
import type { Principal } from '../../plugins/auth.js';
import { findUserById } from '../users/users.repository.js';
import type { CursorPage, Page } from '../users/users.service.js';
import * as repo from './tasks.repository.js';
import {
  PRIORITIES,
  type Priority,
  type SortKey,
  type Status,
  type Task,
  type TaskCursorQueryType,
  type TaskInput,
  type TaskListQueryType,
} from './tasks.schemas.js';

const PRIORITY_RANK: Record<Priority, number> = { low: 1, medium: 2, high: 3 };

export function toTask(row: repo.TaskRow): Task {
  return {
    id: row.id,
    ownerId: row.owner_id,
    assigneeId: row.assignee_id,
    title: row.title,
    description: row.description,
    status: row.status,
    priority: PRIORITIES[row.priority - 1] ?? 'medium',
    startAt: row.start_at,
    dueAt: row.due_at,
    tags: JSON.parse(row.tags) as string[],
    completedAt: row.completed_at,
    version: Number(row.version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The writable state of a task, as the API names it. */
interface State {
  title: string;
  description: string;
  status: Status;
  priority: Priority;
  startAt: string | null;
  dueAt: string | null;
  tags: string[];
  assigneeId: string | null;
}

const DEFAULTS: Omit<State, 'title'> = {
  description: '',
  status: 'todo',
  priority: 'medium',
  startAt: null,
  dueAt: null,
  tags: [],
  assigneeId: null,
};

function stateOf(task: Task): State {
  const { title, description, status, priority, startAt, dueAt, tags, assigneeId } = task;
  return { title, description, status, priority, startAt, dueAt, tags, assigneeId };
}

/** Input date-times in their canonical form (UTC, milliseconds). */
function normalized(input: TaskInput): TaskInput {
  const out: TaskInput = { ...input };
  if (typeof input.startAt === 'string') out.startAt = toIsoMillis(input.startAt);
  if (typeof input.dueAt === 'string') out.dueAt = toIsoMillis(input.dueAt);
  return out;
}

function sameState(a: State, b: State): boolean {
  return (Object.keys(a) as (keyof State)[]).every(
    (key) => JSON.stringify(a[key]) === JSON.stringify(b[key]),
  );
}

/** Rows for a state: what the database stores, including what the server keeps itself. */
function rowChanges(
  state: State,
  previous: { status: Status; completedAt: string | null } | null,
  now: string,
) {
  const completedAt =
    state.status === 'done' ? (previous?.status === 'done' ? previous.completedAt : now) : null;
  return {
    assignee_id: state.assigneeId,
    title: state.title,
    description: state.description,
    status: state.status,
    priority: PRIORITY_RANK[state.priority],
    start_at: state.startAt,
    due_at: state.dueAt,
    tags: JSON.stringify(state.tags),
    completed_at: completedAt,
    search_text: `${state.title}\n${state.description}`.toLowerCase(),
    updated_at: now,
  };
}

export type WriteMode = 'patch' | 'put';

/** Conditional write outcomes the route turns into headers. */
export interface Written {
  task: Task;
}

/** The task rules: visibility, who may change what, versions, the merged-result checks. */
export class TasksService {
  constructor(
    private readonly database: DatabaseHandle,
    private readonly cursors: CursorSigner,
  ) {}

  private get db() {
    return this.database.db;
  }

  /**
   * The rules on the whole (merged) state, after the schema: startAt ≤ dueAt, and an assignee that
   * names a user. One 422 lists every one that fails.
   */
  private async checkState(state: State, assigneeChanged: boolean, db = this.db): Promise<void> {
    const errors: FieldError[] = [];
    if (state.startAt !== null && state.dueAt !== null && state.startAt > state.dueAt) {
      errors.push({ pointer: '/dueAt', code: 'invalid_range', detail: 'must not be before startAt' });
    }
    if (assigneeChanged && state.assigneeId !== null && !(await findUserById(db, state.assigneeId))) {
      errors.push({ pointer: '/assigneeId', code: 'not_found', detail: 'names no user' });
    }
    if (errors.length > 0) {
      const n = errors.length;
      throw new ApiError('validation_failed', {
        detail: `${n} field${n === 1 ? ' is' : 's are'} invalid`,
        errors,
      });
    }
  }

  /** The task when the caller may see it; everyone else gets 404, as if it did not exist. */
  private async visible(caller: Principal, id: string, db = this.db, lock = false): Promise<repo.TaskRow> {
    const row = await repo.findTask(db, id, lock);
    if (!row) throw new ApiError('not_found');
    if (caller.role !== 'admin' && row.owner_id !== caller.userId && row.assignee_id !== caller.userId) {
      throw new ApiError('not_found');
    }
    return row;
  }

  async create(caller: Principal, input: TaskInput & { title: string }): Promise<Task> {
    const state: State = { ...DEFAULTS, ...stripUndefined(normalized(input)), title: input.title };
    await this.checkState(state, true);
    const now = new Date().toISOString();
    const row: repo.TaskRow = {
      id: uuidv7(),
      owner_id: caller.userId,
      version: 1,
      created_at: now,
      ...rowChanges(state, null, now),
    };
    await this.db.transaction().execute((trx) => repo.insertTask(trx, row));
    return toTask(row);
  }

  async get(caller: Principal, id: string): Promise<Task> {
    return toTask(await this.visible(caller, id));
  }

  async list(caller: Principal, query: TaskListQueryType): Promise<Page<Task>> {
    const page = query.page ?? 1;
    const size = query.size ?? 20;
    const filter = toFilter(query);
    const sort = toSort(query.sort ?? '-createdAt');
    const visibility = visibilityOf(caller);
    const [rows, total] = await Promise.all([
      repo.listTasks(this.db, visibility, filter, sort, size, (page - 1) * size),
      repo.countTasks(this.db, visibility, filter),
    ]);
    return { items: rows.map(toTask), total, page, size, pages: Math.ceil(total / size) };
  }

  /** Version 2: a page after the cursor's position; every page costs the same. */
  async listAfter(caller: Principal, query: TaskCursorQueryType): Promise<CursorPage<Task>> {
    const { limit = 20, cursor, ...filters } = query;
    const filter = toFilter(filters);
    const sort = toSort(filters.sort ?? '-createdAt');
    // Bound to the caller, the filters and the sort; not to the limit.
    const binding = { list: 'tasks', caller: caller.userId, filter, sort };
    const after = cursor === undefined ? null : positionFrom(this.cursors.open(binding, cursor), sort);
    const rows = await repo.listTasks(this.db, visibilityOf(caller), filter, sort, limit + 1, 0, after);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > limit && last ? this.cursors.sign(binding, repo.positionOf(last, sort)) : null;
    return { items: page.map(toTask), nextCursor };
  }

  async stats(caller: Principal) {
    const rows = await repo.taskStats(this.db, visibilityOf(caller), new Date().toISOString());
    const stats = {
      total: 0,
      byStatus: { todo: 0, in_progress: 0, done: 0 },
      byPriority: { low: 0, medium: 0, high: 0 },
      overdue: 0,
    };
    for (const row of rows) {
      const n = Number(row.n);
      stats.total += n;
      stats.byStatus[row.status] += n;
      stats.byPriority[PRIORITIES[row.priority - 1] ?? 'medium'] += n;
      stats.overdue += Number(row.overdue ?? 0);
    }
    return stats;
  }

  /**
   * PATCH (merge) or PUT (replace). Checks in the contract's order: visibility (404), fields the
   * caller may not change (403), If-Match (412), the merged result (422). The write is one
   * conditional statement on the version read. Without If-Match, PostgreSQL writers queue on a row
   * lock; a write that still loses (another process, on SQLite) re-reads and merges again.
   */
  async update(
    caller: Principal,
    id: string,
    input: TaskInput,
    mode: WriteMode,
    ifMatch: string | undefined,
  ): Promise<Task> {
    const lock = ifMatch === undefined && this.database.dialect === 'postgres';
    for (let attempt = 0; ; attempt += 1) {
      const written = await this.db.transaction().execute(async (trx) => {
        const row = await this.visible(caller, id, trx, lock);
        const current = toTask(row);
        const isOwner = row.owner_id === caller.userId || caller.role === 'admin';
        if (!isOwner) {
          // The assignee may change the status and nothing else, even to its current value.
          const fields = Object.keys(input);
          if (mode === 'put' || fields.some((f) => f !== 'status') || caller.role === 'guest') {
            throw new ApiError('forbidden', { detail: 'The assignee may change only the status' });
          }
        }
        if (ifMatch !== undefined && !ifMatchPasses(ifMatch, current.version)) {
          throw new ApiError('precondition_failed', { headers: { etag: etagOf(current.version) } });
        }
        const given = stripUndefined(normalized(input));
        const next: State =
          mode === 'put'
            ? { ...DEFAULTS, ...given, title: input.title ?? current.title }
            : { ...stateOf(current), ...given };
        await this.checkState(next, next.assigneeId !== current.assigneeId, trx);
        if (sameState(next, stateOf(current))) return current;

        const changes = rowChanges(next, current, new Date().toISOString());
        const tagsChanged = JSON.stringify(next.tags) !== JSON.stringify(current.tags);
        const updated = await repo.updateTaskIfVersion(trx, id, current.version, changes, tagsChanged);
        return updated ? toTask(updated) : null;
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

  async delete(caller: Principal, id: string, ifMatch: string | undefined): Promise<void> {
    const row = await this.visible(caller, id);
    if (row.owner_id !== caller.userId && caller.role !== 'admin') {
      throw new ApiError('forbidden', { detail: 'Only the owner may delete a task' });
    }
    const version = Number(row.version);
    if (ifMatch !== undefined && !ifMatchPasses(ifMatch, version)) {
      throw new ApiError('precondition_failed', { headers: { etag: etagOf(version) } });
    }
    const deleted = await this.db
      .transaction()
      .execute((trx) => repo.deleteTask(trx, id, ifMatch !== undefined ? version : null));
    if (deleted) return;
    const latest = await repo.findTask(this.db, id);
    // A delete that loses a race to another delete finds nothing: 404.
    if (!latest) throw new ApiError('not_found');
    throw new ApiError('precondition_failed', { headers: { etag: etagOf(latest.version) } });
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A position a (signed) cursor carries, checked for the shape the sort needs. */
function positionFrom(value: unknown, sort: repo.Sort): repo.Position {
  const p = value as Partial<repo.Position> | null;
  const numeric = sort.key === 'priority';
  const valueOk =
    (p?.v === null && sort.key === 'dueAt') ||
    (numeric ? typeof p?.v === 'number' : typeof p?.v === 'string');
  if (typeof p !== 'object' || p === null || typeof p.id !== 'string' || !valueOk) {
    throw new ApiError('invalid_cursor');
  }
  return { v: p.v ?? null, id: p.id };
}

function visibilityOf(caller: Principal): repo.Visibility {
  return caller.role === 'admin' ? { all: true } : { all: false, userId: caller.userId };
}

function toFilter(raw: TaskListQueryType): repo.TaskFilter {
  const query = {
    ...raw,
    ...(raw.dueAfter !== undefined ? { dueAfter: toIsoMillis(raw.dueAfter) } : {}),
    ...(raw.dueBefore !== undefined ? { dueBefore: toIsoMillis(raw.dueBefore) } : {}),
  };
  if (query.dueAfter !== undefined && query.dueBefore !== undefined && query.dueAfter >= query.dueBefore) {
    throw fieldError('/query/dueBefore', 'invalid_range', 'must be after dueAfter');
  }
  const filter: repo.TaskFilter = {};
  if (query.status) filter.status = [...new Set(query.status)];
  if (query.priority) filter.priority = [...new Set(query.priority)].map((p) => PRIORITY_RANK[p]);
  if (query.tag !== undefined) filter.tag = query.tag.toLowerCase();
  if (query.assigneeId !== undefined) filter.assigneeId = query.assigneeId;
  if (query.ownerId !== undefined) filter.ownerId = query.ownerId;
  if (query.dueAfter !== undefined) filter.dueAfter = query.dueAfter;
  if (query.dueBefore !== undefined) filter.dueBefore = query.dueBefore;
  if (query.q !== undefined) filter.q = query.q.toLowerCase();
  return filter;
}

function toSort(sort: string): repo.Sort {
  const descending = sort.startsWith('-');
  return { key: (descending ? sort.slice(1) : sort) as SortKey, descending };
}
