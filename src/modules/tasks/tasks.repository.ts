import { type Expression, type Kysely, type SelectQueryBuilder, type SqlBool, sql } from 'kysely';
import type { Dialect } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import { likeContains, toCount } from '../../db/sql.js';
import type { TasksTable } from '../../db/tables/tasks.table.js';
import type { SortKey, Status } from './tasks.schemas.js';

/** All SQL about tasks. Every function takes the executor, so the service decides transactions. */
type Db = Kysely<Database>;
export type TaskRow = TasksTable;

export interface TaskFilter {
  status?: Status[];
  priority?: number[];
  tag?: string;
  assigneeId?: string;
  ownerId?: string;
  dueAfter?: string;
  dueBefore?: string;
  /** Already lower-cased. */
  q?: string;
}

/** Whose tasks a list or a count covers: everything (admins) or what one user owns or is assigned. */
export type Visibility = { all: true } | { all: false; userId: string };

export interface Sort {
  key: SortKey;
  descending: boolean;
}

const COLUMNS = [
  'id',
  'owner_id',
  'assignee_id',
  'title',
  'description',
  'status',
  'priority',
  'start_at',
  'due_at',
  'tags',
  'completed_at',
  'version',
  'search_text',
  'created_at',
  'updated_at',
] as const;

type TaskQuery = SelectQueryBuilder<Database, 'tasks', object>;

function applyFilter(query: TaskQuery, filter: TaskFilter): TaskQuery {
  let q = query;
  if (filter.status?.length) q = q.where('tasks.status', 'in', filter.status);
  if (filter.priority?.length) q = q.where('tasks.priority', 'in', filter.priority);
  if (filter.tag !== undefined) {
    const tag = filter.tag;
    // Driven from the tag index: the tasks that carry the tag.
    q = q.where('tasks.id', 'in', (eb) =>
      eb.selectFrom('task_tags').select('task_tags.task_id').where('task_tags.tag', '=', tag),
    );
  }
  if (filter.assigneeId !== undefined) q = q.where('tasks.assignee_id', '=', filter.assigneeId);
  if (filter.ownerId !== undefined) q = q.where('tasks.owner_id', '=', filter.ownerId);
  if (filter.dueAfter !== undefined) q = q.where('tasks.due_at', '>=', filter.dueAfter);
  if (filter.dueBefore !== undefined) q = q.where('tasks.due_at', '<', filter.dueBefore);
  if (filter.q !== undefined) {
    q = q.where(sql<SqlBool>`tasks.search_text like ${likeContains(filter.q)} escape '\\'`);
  }
  return q;
}

/** ORDER BY terms for a sort: the key, tasks without dueAt last in both directions, then id. */
function orderTerms(sort: Sort, table = 'tasks'): Expression<unknown>[] {
  const dir = sql.raw(sort.descending ? 'desc' : 'asc');
  const col = (name: string) => sql.ref(`${table}.${name}`);
  const keys: Record<SortKey, Expression<unknown>[]> = {
    createdAt: [sql`${col('created_at')} ${dir}`],
    updatedAt: [sql`${col('updated_at')} ${dir}`],
    // Undated last both ways; each direction matches one index (see migration 0003).
    dueAt: sort.descending
      ? [sql`(${col('due_at')} is not null) desc`, sql`${col('due_at')} desc`]
      : [sql`(${col('due_at')} is null) asc`, sql`${col('due_at')} asc`],
    priority: [sql`${col('priority')} ${dir}`],
    title: [sql`${col('title')} ${dir}`],
  };
  return [...keys[sort.key], sql`${col('id')} ${dir}`];
}

function ordered<Q extends { orderBy: (e: Expression<unknown>) => Q }>(
  query: Q,
  terms: Expression<unknown>[],
): Q {
  let q = query;
  for (const term of terms) q = q.orderBy(term);
  return q;
}

/** Where a version 2 page starts: just after the last item of the previous one. */
export interface Position {
  v: string | number | null;
  id: string;
}

const SORT_COLUMN = {
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  dueAt: 'due_at',
  priority: 'priority',
  title: 'title',
} as const satisfies Record<SortKey, keyof TaskRow>;

export function positionOf(row: TaskRow, sort: Sort): Position {
  return { v: row[SORT_COLUMN[sort.key]], id: row.id };
}

/**
 * The rows after a position in the sort's order (keyset pagination): a row-value comparison on
 * (key, id), which walks the sort's index, so every page costs the same. Tasks without dueAt come
 * after all dated ones in both directions.
 */
function afterPosition(sort: Sort, position: Position) {
  const op = sql.raw(sort.descending ? '<' : '>');
  const column = sql.ref(`tasks.${SORT_COLUMN[sort.key]}`);
  const id = sql.ref('tasks.id');
  if (sort.key !== 'dueAt') return sql<SqlBool>`((${column}, ${id}) ${op} (${position.v}, ${position.id}))`;
  // Undated tasks come last in both directions: after an undated position only undated ones
  // follow; after a dated one, the later dated ones and then every undated one.
  if (position.v === null) return sql<SqlBool>`(${column} is null and ${id} ${op} ${position.id})`;
  if (!sort.descending) {
    // One row comparison on the whole (due_at is null, due_at, id) index key: a single seek.
    return sql<SqlBool>`(((${column} is null), ${column}, ${id}) > (false, ${position.v}, ${position.id}))`;
  }
  return sql<SqlBool>`(((${column} is not null), ${column}, ${id}) < (true, ${position.v}, ${position.id}))`;
}

function branches(
  db: Db,
  visibility: Visibility,
  filter: TaskFilter,
  after: { sort: Sort; position: Position } | null = null,
): TaskQuery[] {
  let base = applyFilter(db.selectFrom('tasks'), filter);
  if (after) base = base.where(afterPosition(after.sort, after.position));
  if (visibility.all) return [base];
  // Owned, and assigned-but-not-owned: disjoint, and each walks its own index.
  return [
    base.where('tasks.owner_id', '=', visibility.userId),
    base.where('tasks.assignee_id', '=', visibility.userId).where('tasks.owner_id', '!=', visibility.userId),
  ];
}

export async function listTasks(
  db: Db,
  visibility: Visibility,
  filter: TaskFilter,
  sort: Sort,
  limit: number,
  offset: number,
  after: Position | null = null,
): Promise<TaskRow[]> {
  const parts = branches(db, visibility, filter, after ? { sort, position: after } : null);
  if (parts.length === 1) {
    const [only] = parts as [TaskQuery];
    return ordered(only.select(COLUMNS), orderTerms(sort)).limit(limit).offset(offset).execute();
  }
  // Each branch is cut to the rows the page can need before the two are merged. SQLite takes
  // ORDER BY and LIMIT inside a compound SELECT only within a subquery, hence the wrapping.
  const needed = offset + limit;
  const [owned, assigned] = parts.map((part) =>
    ordered(part.select(COLUMNS), orderTerms(sort)).limit(needed),
  ) as [ReturnType<typeof selectColumns>, ReturnType<typeof selectColumns>];
  const union = db
    .selectFrom(owned.as('o'))
    .selectAll()
    .unionAll(db.selectFrom(assigned.as('a')).selectAll());
  const merged = db.selectFrom(union.as('t')).selectAll();
  return ordered(merged, orderTerms(sort, 't')).limit(limit).offset(offset).execute();
}

function selectColumns(query: TaskQuery) {
  return query.select(COLUMNS);
}

export async function countTasks(db: Db, visibility: Visibility, filter: TaskFilter): Promise<number> {
  const counts = await Promise.all(
    branches(db, visibility, filter).map((part) =>
      part.select((eb) => eb.fn.countAll().as('n')).executeTakeFirst(),
    ),
  );
  return counts.reduce((sum, row) => sum + toCount(row?.n), 0);
}

export interface StatsRow {
  status: Status;
  priority: number;
  n: unknown;
  overdue: unknown;
}

export async function taskStats(db: Db, visibility: Visibility, now: string): Promise<StatsRow[]> {
  const rows = await Promise.all(
    branches(db, visibility, {}).map((part) =>
      part
        .select((eb) => [
          'tasks.status',
          'tasks.priority',
          eb.fn.countAll().as('n'),
          sql<number>`sum(case when tasks.due_at < ${now} and tasks.status <> 'done' then 1 else 0 end)`.as(
            'overdue',
          ),
        ])
        .groupBy(['tasks.status', 'tasks.priority'])
        .execute(),
    ),
  );
  return rows.flat() as StatsRow[];
}

/** `lock` (PostgreSQL only) holds the row until the transaction ends, so writers queue, not race. */
export async function findTask(db: Db, id: string, lock = false): Promise<TaskRow | undefined> {
  const query = db.selectFrom('tasks').select(COLUMNS).where('id', '=', id);
  return (lock ? query.forUpdate() : query).executeTakeFirst();
}

async function writeTags(db: Db, taskId: string, tags: string[]): Promise<void> {
  await db.deleteFrom('task_tags').where('task_id', '=', taskId).execute();
  if (tags.length > 0)
    await db
      .insertInto('task_tags')
      .values(tags.map((tag) => ({ task_id: taskId, tag })))
      .execute();
}

export async function insertTask(db: Db, row: TaskRow): Promise<void> {
  await db.insertInto('tasks').values(row).execute();
  await writeTags(db, row.id, JSON.parse(row.tags) as string[]);
}

export type TaskChanges = Omit<TaskRow, 'id' | 'owner_id' | 'version' | 'created_at'>;

/**
 * The one conditional statement that makes concurrent writers safe: it applies only while the
 * stored version is still `expectedVersion`, and the database computes the next version.
 */
export async function updateTaskIfVersion(
  db: Db,
  id: string,
  expectedVersion: number,
  changes: TaskChanges,
  tagsChanged: boolean,
): Promise<TaskRow | undefined> {
  const row = await db
    .updateTable('tasks')
    .set((eb) => ({ ...changes, version: eb('version', '+', 1) }))
    .where('id', '=', id)
    .where('version', '=', expectedVersion)
    .returning(COLUMNS)
    .executeTakeFirst();
  if (row && tagsChanged) await writeTags(db, id, JSON.parse(changes.tags) as string[]);
  return row;
}

export async function deleteTask(db: Db, id: string, expectedVersion: number | null): Promise<boolean> {
  let query = db.deleteFrom('tasks').where('id', '=', id);
  if (expectedVersion !== null) query = query.where('version', '=', expectedVersion);
  const result = await query.executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** A deleted user's assigned tasks lose their assignee, each with a new version. */
export async function unassignAll(db: Db, userId: string, now: string): Promise<void> {
  await db
    .updateTable('tasks')
    .set((eb) => ({ assignee_id: null, version: eb('version', '+', 1), updated_at: now }))
    .where('assignee_id', '=', userId)
    .execute();
}

export type { Dialect };
