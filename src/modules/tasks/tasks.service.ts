import { uuidv7 } from 'uuidv7';
import { ApiError, type FieldError, fieldError } from '../../errors.js';
import { etagOf, ifMatchPasses } from '../../lib/conditional.js';
import { type CursorPage, type CursorRequest, type Page, type PageRequest, pageOf } from '../../lib/lists.js';
import type { AppContext } from '../../lib/module.js';
import { callerProjectRole, type Principal, type ProjectRole } from '../../lib/principal.js';
import {
  FIELDS,
  FILTERS,
  type Field,
  type FieldName,
  type FilterName,
  INPUTS,
  type NewTaskRow,
  type Sort,
  type SortKey,
  sortColumn,
  type TaskChanges,
  type TaskFilter,
  type TaskRow,
  type WritableName,
} from './task-fields.js';
import * as repo from './tasks.repository.js';
import type { Task, TaskInput, TaskListFilters, TaskListQuery } from './tasks.schemas.js';

const FIELD_NAMES = Object.keys(FIELDS) as FieldName[];
/** What an update writes: every field but those fixed at creation. */
const CHANGING = FIELD_NAMES.filter((name) => !FIELDS[name].fixed);
const WRITABLE = Object.keys(INPUTS) as WritableName[];

export function toTask(row: TaskRow): Task {
  // Each field decodes its own column; Object.fromEntries loses the per-key types FIELDS guarantees.
  return Object.fromEntries(
    FIELD_NAMES.map((name) => {
      const f: Field = FIELDS[name];
      return [name, f.decode(row[f.column])];
    }),
  ) as Task;
}

/** The stored columns of some of a task's fields, and the search text the server keeps. */
function columnsOf(task: Task, names: readonly FieldName[]): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const name of names) {
    const f: Field = FIELDS[name];
    row[f.column] = f.encode(task[name]);
  }
  // Lower-cased here: SQLite's lower() folds ASCII only.
  row.search_text = `${task.title}\n${task.description}`.toLowerCase();
  return row;
}

/** The row that stores a task. */
export function toRow(task: Task): NewTaskRow {
  return columnsOf(task, FIELD_NAMES) as NewTaskRow;
}

/** The writable state of a task, as the API names it. */
type State = Pick<Task, WritableName>;
type Defaults = {
  [K in WritableName as (typeof INPUTS)[K] extends { default: unknown } ? K : never]: Task[K];
};

const DEFAULTS = Object.fromEntries(
  Object.entries(INPUTS).flatMap(([name, input]) => ('default' in input ? [[name, input.default]] : [])),
) as Record<string, unknown> as Defaults;

function stateOf(task: Task): State {
  return Object.fromEntries(WRITABLE.map((name) => [name, task[name]])) as State;
}

function sameState(a: State, b: State): boolean {
  return (Object.keys(a) as (keyof State)[]).every(
    (key) => JSON.stringify(a[key]) === JSON.stringify(b[key]),
  );
}

/** Set when status becomes done, kept while it stays done, cleared when it leaves done. */
function completedAtOf(state: State, previous: Task | null, now: string): string | null {
  if (state.status !== 'done') return null;
  return previous?.status === 'done' ? previous.completedAt : now;
}

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

/** The task rules: visibility, who may change what, versions, the merged-result checks. */
export class TasksService {
  constructor(private readonly ctx: AppContext) {}

  private get db() {
    return this.ctx.database.db;
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
    const { users } = this.ctx.services;
    if (assigneeChanged && state.assigneeId !== null && !(await users.exists(state.assigneeId, db))) {
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

  /** The task when the caller may see it; everyone else gets 404, as if it did not exist. */
  private async visible(caller: Principal, id: string, db = this.db, lock = false): Promise<TaskRow> {
    const row = await repo.findTask(db, id, lock);
    if (!row) throw new ApiError('not_found');
    if (caller.role !== 'admin' && row.owner_id !== caller.userId && row.assignee_id !== caller.userId) {
      throw new ApiError('not_found');
    }
    return row;
  }

  async create(caller: Principal, input: TaskInput & { title: string }): Promise<Task> {
    const state: State = { ...DEFAULTS, ...stripUndefined(input), title: input.title };
    await this.checkState(state, true);
    const now = new Date().toISOString();
    const task: Task = {
      id: uuidv7(),
      ownerId: caller.userId,
      projectId: await this.ctx.services.projects.personalProjectId(caller.userId),
      parentId: null,
      ...state,
      completedAt: completedAtOf(state, null, now),
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    await this.db.transaction().execute((trx) => repo.insertTask(trx, toRow(task)));
    return task;
  }

  async get(caller: Principal, id: string): Promise<Task> {
    return toTask(await this.visible(caller, id));
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
      stats.byPriority[FIELDS.priority.decode(row.priority)] += n;
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
    const lock = ifMatch === undefined && this.ctx.database.dialect === 'postgres';
    for (let attempt = 0; ; attempt += 1) {
      const written = await this.db.transaction().execute(async (trx) => {
        const row = await this.visible(caller, id, trx, lock);
        const current = toTask(row);
        // The owner and admins may change everything.
        const mayEditAll = row.owner_id === caller.userId || caller.role === 'admin';
        if (!mayEditAll) {
          // The assignee may change the status and nothing else, even to its current value.
          const fields = Object.keys(input);
          if (mode === 'put' || fields.some((f) => f !== 'status') || caller.role === 'guest') {
            throw new ApiError('forbidden', { detail: 'The assignee may change only the status' });
          }
        }
        if (ifMatch !== undefined && !ifMatchPasses(ifMatch, current.version)) {
          throw new ApiError('precondition_failed', { headers: { etag: etagOf(current.version) } });
        }
        const given = stripUndefined(input);
        const next: State =
          mode === 'put'
            ? { ...DEFAULTS, ...given, title: input.title ?? current.title }
            : { ...stateOf(current), ...given };
        await this.checkState(next, next.assigneeId !== current.assigneeId, trx);
        if (sameState(next, stateOf(current))) return current;

        const now = new Date().toISOString();
        const changes = columnsOf(
          { ...current, ...next, completedAt: completedAtOf(next, current, now), updatedAt: now },
          CHANGING,
        ) as TaskChanges;
        const tags = JSON.stringify(next.tags) !== JSON.stringify(current.tags) ? next.tags : null;
        const updated = await repo.updateTaskIfVersion(trx, id, current.version, changes, tags);
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

/** A position a (signed) cursor carries, checked for the type the sort key declares. */
function positionFrom(value: unknown, sort: Sort): repo.Position {
  const p = value as Partial<repo.Position> | null;
  const { position, nullable } = sortColumn(sort.key);
  const valueOk = (p?.v === null && nullable) || typeof p?.v === position;
  if (typeof p !== 'object' || p === null || typeof p.id !== 'string' || !valueOk) {
    throw new ApiError('invalid_cursor');
  }
  return { v: p.v ?? null, id: p.id };
}

function visibilityOf(caller: Principal): repo.Visibility {
  return caller.role === 'admin' ? { all: true } : { all: false, userId: caller.userId };
}

/** A query value (normalised by validation, like a body's) as the field stores it. */
function storedValue(name: FieldName, value: unknown): unknown {
  const f: Field = FIELDS[name];
  return f.encode(value);
}

/** The query's filters as stored values; a range's upper bound must be above its lower one. */
function toFilter(query: TaskListFilters): TaskFilter {
  const filter: Record<string, unknown> = {};
  const names = Object.keys(FILTERS) as FilterName[];
  for (const name of names) {
    const raw = query[name];
    if (raw === undefined) continue;
    const spec = FILTERS[name];
    if (spec.op === 'tag') {
      filter[name] = String(raw);
    } else if (spec.op === 'search') {
      // Matched against the search text, which is stored lower-cased.
      filter[name] = String(raw).toLowerCase();
    } else if (spec.op === 'in') {
      filter[name] = [...new Set(raw as unknown[])].map((v) => storedValue(spec.field, v));
    } else {
      filter[name] = storedValue(spec.field, raw);
    }
  }
  for (const name of names) {
    const spec = FILTERS[name];
    if (!('above' in spec)) continue;
    const [low, high] = [filter[spec.above], filter[name]] as (string | number | undefined)[];
    if (low !== undefined && high !== undefined && low >= high) {
      throw fieldError(`/query/${name}`, 'invalid_range', `must be after ${spec.above}`);
    }
  }
  // Every value above is the stored form its filter compares; the loop loses the per-key types.
  return filter as TaskFilter;
}

function toSort(sort: string): Sort {
  const descending = sort.startsWith('-');
  return { key: (descending ? sort.slice(1) : sort) as SortKey, descending };
}
