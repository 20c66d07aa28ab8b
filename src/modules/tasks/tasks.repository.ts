import {
  type Expression,
  type ExpressionBuilder,
  type Kysely,
  PostgresAdapter,
  type SelectQueryBuilder,
  type SqlBool,
  sql,
} from 'kysely';
import type { Database } from '../../db/schema.js';
import { likeContains, toCount } from '../../db/sql.js';
import type { ProjectRole } from '../../lib/principal.js';
import {
  FIELDS,
  FILTERS,
  type FilterName,
  type NewTaskRow,
  type Sort,
  type Status,
  sortColumn,
  type TaskChanges,
  type TaskFilter,
  type TaskRow,
} from './task-fields.js';

/** All SQL about tasks. Every function takes the executor, so the service decides transactions. */
type Db = Kysely<Database>;

/**
 * Whose tasks a list or a count covers: every project's (admins), or those of the projects one user
 * is a member of and those assigned to it.
 */
export type Visibility = { all: true } | { all: false; userId: string };

type TaskQuery = SelectQueryBuilder<Database, 'tasks', object>;

/**
 * The filters of the table of task fields, each one condition (all of them AND). `probeTags`: a
 * read that walks one project's tasks in order checks each task's tag by the tag table's key,
 * instead of first listing every task that carries the tag (per branch, per page).
 */
function applyFilter(query: TaskQuery, filter: TaskFilter, probeTags = false, unindexed = false): TaskQuery {
  let q = query;
  for (const name of Object.keys(FILTERS) as FilterName[]) {
    const value = filter[name];
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    const spec = FILTERS[name];
    if (spec.op === 'tag' && probeTags) {
      q = q.where(({ exists, selectFrom }) =>
        exists(
          selectFrom('task_tags')
            .select('task_tags.task_id')
            .whereRef('task_tags.task_id', '=', 'tasks.id')
            .where('task_tags.tag', '=', String(value)),
        ),
      );
    } else if (spec.op === 'tag') {
      // Driven from the tag index: the tasks that carry the tag.
      q = q.where('tasks.id', 'in', (eb) =>
        eb.selectFrom('task_tags').select('task_tags.task_id').where('task_tags.tag', '=', String(value)),
      );
    } else if (spec.op === 'parent') {
      // Both walk the parent index: one task's subtasks, or the top-level tasks.
      q =
        value === 'none'
          ? q.where('tasks.parent_id', 'is', null)
          : q.where('tasks.parent_id', '=', String(value));
    } else if (spec.op === 'search') {
      q = q.where(sql<SqlBool>`tasks.search_text like ${likeContains(String(value))} escape '\\'`);
    } else if (unindexed) {
      // SQLite: `+x` is no index's column, so the filter cannot take the read away from the index
      // the branch is meant to be read by.
      q = q.where(sql`+${sql.ref(`tasks.${FIELDS[spec.field].column}`)}`, spec.op, value);
    } else {
      q = q.where(sql.ref(`tasks.${FIELDS[spec.field].column}`), spec.op, value);
    }
  }
  return q;
}

/**
 * ORDER BY terms for a sort: the key, then id, both in the sort's direction. A nullable key puts
 * its nulls last both ways, by a leading `(x is null)` term that matches one index per direction
 * (ascending walks `(x is null), x, id`; descending walks `(x is not null), x, id` backwards).
 * After a null position only nulls follow, so that term is constant; SQLite walks the index in
 * order only without it (it does not match an ORDER BY expression to a constrained index one).
 */
function orderTerms(sort: Sort, table: string, afterNull: boolean, postgres: boolean): Expression<unknown>[] {
  const dir = sql.raw(sort.descending ? 'desc' : 'asc');
  const { column, nullable } = sortColumn(sort.key);
  const col = sql.ref(`${table}.${column}`);
  const id = sql`${sql.ref(`${table}.id`)} ${dir}`;
  if (!nullable || (afterNull && !postgres)) return [sql`${col} ${dir}`, id];
  return sort.descending
    ? [sql`(${col} is not null) desc`, sql`${col} desc`, id]
    : [sql`(${col} is null) asc`, sql`${col} asc`, id];
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

export function positionOf(row: TaskRow, sort: Sort): Position {
  return { v: row[sortColumn(sort.key).column], id: row.id };
}

/**
 * The rows after a position in the sort's order (keyset pagination): a seek on the sort's index
 * key, so every page costs the same. A nullable key's nulls come after all its values in both
 * directions: after a value, the further values and then every null; after a null, the nulls
 * further by id. `(x is null) = true` names the index expression, or SQLite cannot seek on it.
 */
function afterPosition(sort: Sort, position: Position) {
  const op = sql.raw(sort.descending ? '<' : '>');
  const { column: name, nullable } = sortColumn(sort.key);
  const column = sql.ref(`tasks.${name}`);
  const id = sql.ref('tasks.id');
  if (!nullable) return sql<SqlBool>`((${column}, ${id}) ${op} (${position.v}, ${position.id}))`;
  if (!sort.descending) {
    return position.v === null
      ? sql<SqlBool>`((${column} is null) = true and ${column} is null and ${id} > ${position.id})`
      : sql<SqlBool>`(((${column} is null), ${column}, ${id}) > (false, ${position.v}, ${position.id}))`;
  }
  return position.v === null
    ? sql<SqlBool>`((${column} is not null) = false and ${column} is null and ${id} < ${position.id})`
    : sql<SqlBool>`(((${column} is not null), ${column}, ${id}) < (true, ${position.v}, ${position.id}))`;
}

function branches(
  db: Db,
  visibility: Visibility,
  filter: TaskFilter,
  after: { sort: Sort; position: Position } | null = null,
  {
    dense = false,
    whole = false,
  }: {
    /** SQLite, an admin's list whose filter matches many tasks: checked row by row in the sort's order. */
    dense?: boolean;
    /** A count or stats: every visible task, in no order (see `unarchived`). */
    whole?: boolean;
  } = {},
): TaskQuery[] {
  let base = applyFilter(db.selectFrom('tasks'), filter, dense, dense);
  if (after) base = base.where(afterPosition(after.sort, after.position));
  // Without a projectId filter a list covers unarchived projects only; with one, the projects named.
  const named = (filter.projectId?.length ?? 0) > 0;
  // A list: each task's project looked up by its key, as a scalar subquery: no read of every
  // project, and PostgreSQL cannot turn it into a join that would read the tasks out of the sort's
  // order. A count or stats (`whole`) reads every visible task in no order: the archived projects,
  // few, are read once instead (NOT IN a hashed subquery; an admin's stats at 1M tasks: 0.7 s
  // instead of over 5 s on PostgreSQL, 3.9 s instead of 8.4 s on SQLite).
  const unarchived = (q: TaskQuery): TaskQuery => {
    if (named) return q;
    if (whole) {
      return q.where('tasks.project_id', 'not in', (eb) =>
        eb.selectFrom('projects as ap').select('ap.id').where('ap.archived', '=', 1),
      );
    }
    return q.where(
      (eb) =>
        eb.selectFrom('projects as ap').select('ap.archived').whereRef('ap.id', '=', 'tasks.project_id'),
      '=',
      0,
    );
  };
  if (visibility.all) return [unarchived(base)];
  const { userId } = visibility;
  const memberOf = (eb: ExpressionBuilder<Database, 'tasks'>) =>
    eb
      .selectFrom('project_members')
      .select('project_members.project_id')
      .where('project_members.user_id', '=', userId);
  // The member projects' tasks, and the assigned tasks of other projects: disjoint, and each is
  // looked up by its own index (the project's tasks; the assignee's).
  const member = named
    ? base.where('tasks.project_id', 'in', memberOf)
    : base.where('tasks.project_id', 'in', (eb) =>
        eb
          .selectFrom('project_members as pm')
          .innerJoin('projects as p', 'p.id', 'pm.project_id')
          .select('pm.project_id')
          .where('pm.user_id', '=', userId)
          .where('p.archived', '=', 0),
      );
  // Read by the assignee index: SQLite, without statistics, would drive it from a filter's index
  // (every `todo` task, a third of the table) and check the assignee on each.
  const sqlite = !(db.getExecutor().adapter instanceof PostgresAdapter);
  const mine = unarchived(
    applyFilter(db.selectFrom('tasks'), filter, true, sqlite)
      .where('tasks.assignee_id', '=', userId)
      .where('tasks.project_id', 'not in', memberOf),
  );
  if (!after) return [member, mine];
  if (sqlite || after.position.v === null)
    return [member, mine.where(afterPosition(after.sort, after.position))];
  // PostgreSQL, a page after a position with a value: the position applies outside an `OFFSET 0`
  // subquery of the user's assigned tasks, which the planner keeps as it is. Given the position
  // with the assignee, it would read the global sort index's range past the position (for `dueAt`,
  // hundreds of thousands of entries by page 1,000 at 1M tasks) instead of the assignee's few
  // tasks. After a null position (the nulls of `dueAt`, by id) the position stays inside.
  const fenced = db.selectFrom(mine.selectAll('tasks').offset(0).as('tasks'));
  // The subquery is named `tasks` and has every column of the table, so it reads as the table.
  const assigned = (fenced as unknown as TaskQuery).where(afterPosition(after.sort, after.position));
  return [member, assigned];
}

/**
 * The most member projects a user's list reads one by one (see listTasks); past it, one query over
 * all of them. SQLite allows 500 terms in a compound SELECT: these and the assigned branch.
 */
export const MERGE_MAX_PROJECTS = 499;

/**
 * The projects whose tasks a user's list covers as a member, in id order: the named ones it is a
 * member of (archived too), or every unarchived one; at most `cap` of them.
 */
async function memberProjects(db: Db, userId: string, filter: TaskFilter, cap: number): Promise<string[]> {
  let query = db
    .selectFrom('project_members as pm')
    .select('pm.project_id')
    .where('pm.user_id', '=', userId)
    .orderBy('pm.project_id')
    .limit(cap);
  const named = filter.projectId ?? [];
  query =
    named.length > 0
      ? query.where('pm.project_id', 'in', named)
      : query.innerJoin('projects as p', 'p.id', 'pm.project_id').where('p.archived', '=', 0);
  return (await query.execute()).map((row) => row.project_id);
}

/** At most this many matches of an admin's filter are read from the filter's index and sorted in memory. */
export const FEW_DUE = 10_000;

/**
 * The filters of an admin's list that SQLite, which has no statistics, may read from the wrong
 * index: a due range, a priority or a tag alone (a due range sorted by dueAt, a priority sorted by
 * priority are one index already).
 */
function indexedFilterOf(filter: TaskFilter, sort: Sort): 'due' | 'priority' | 'tag' | null {
  const names = Object.keys(filter).filter((name) => filter[name as FilterName] !== undefined);
  if (names.length === 0) return null;
  if (names.every((n) => n === 'dueAfter' || n === 'dueBefore')) return sort.key === 'dueAt' ? null : 'due';
  if (names.length > 1) return null;
  if (names[0] === 'priority') return sort.key === 'priority' ? null : 'priority';
  return names[0] === 'tag' ? 'tag' : null;
}

/**
 * How an admin's list filtered by nothing but a due range, a priority or a tag is read. The filter's
 * matches are counted on its index first (FEW_DUE + 1 entries at most). At most FEW_DUE: on SQLite
 * `few`, from the filter's index and sorted. More: a due range is read by `months` (the merge of
 * dueMonthsPage, on both databases: neither index alone serves a wide range sorted by another key);
 * a priority or a tag on SQLite `dense`, walking the sort's index and checking the filter row by
 * row (SQLite would read every match from the filter's index and sort them, a third of the table
 * for a priority: 8 s at 1M tasks). Otherwise `as is`: without statistics SQLite cannot weigh the
 * reads; PostgreSQL's statistics choose by themselves.
 */
async function adminRead(
  db: Db,
  filter: TaskFilter,
  sort: Sort,
  postgres: boolean,
): Promise<'few' | 'dense' | 'months' | 'as is'> {
  const kind = indexedFilterOf(filter, sort);
  if (kind === null || (postgres && kind !== 'due')) return 'as is';
  // A constant, not the id: the due index holds no id, so SQLite would read each match's row
  // (10,001 rows: 89 ms at 1M tasks, against 1 ms from the index alone).
  const matches = applyFilter(db.selectFrom('tasks'), filter)
    .select(sql<number>`1`.as('one'))
    .limit(FEW_DUE + 1);
  const row = await db
    .selectFrom(matches.as('r'))
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirst();
  if (toCount(row?.n) <= FEW_DUE) return postgres ? 'as is' : 'few';
  return kind === 'due' ? 'months' : 'dense';
}

/**
 * The sort's terms (a key without nulls) as expressions no index serves, so the WHERE picks the
 * index and the matches are sorted: SQLite's `+x`; on PostgreSQL `coalesce(x, x)`, the same value,
 * type and collation.
 */
function unindexedTerms(sort: Sort, postgres: boolean): Expression<unknown>[] {
  const dir = sql.raw(sort.descending ? 'desc' : 'asc');
  const { column } = sortColumn(sort.key);
  const hide = (name: string) => {
    const ref = sql.ref(`tasks.${name}`);
    return postgres ? sql`coalesce(${ref}, ${ref})` : sql`+${ref}`;
  };
  return [sql`${hide(column)} ${dir}`, sql`${hide('id')} ${dir}`];
}

/**
 * The month of a task's due date (`YYYY-MM`), written as migration 0012's indexes name it (literal
 * arguments: a parameter would not match the index expression).
 */
const dueMonth = () => sql<string>`substr(${sql.ref('tasks.due_at')}, 1, 7)`;

/**
 * The months holding a due date in the filter's range, in order: a loose index scan in one
 * statement (a recursive CTE), one seek per month on migration 0012's index (the first month after
 * the last one found). Null past `cap` months.
 */
async function dueMonths(db: Db, filter: TaskFilter, cap: number): Promise<string[] | null> {
  const month = sql`substr(t.due_at, 1, 7)`;
  const low = filter.dueAfter === undefined ? sql`` : sql`and ${month} >= ${filter.dueAfter.slice(0, 7)}`;
  const high = filter.dueBefore === undefined ? sql`` : sql`and ${month} <= ${filter.dueBefore.slice(0, 7)}`;
  const next = (after: ReturnType<typeof sql>) =>
    sql`(select ${month} from tasks t where t.due_at is not null ${after} ${high} order by ${month} limit 1)`;
  const { rows } = await sql<{ month: string }>`with recursive m(month) as (
      select ${next(low)}
      union all
      select ${next(sql`and ${month} > m.month`)} from m where m.month is not null
    )
    select month from m where month is not null limit ${cap + 1}`.execute(db);
  return rows.length > cap ? null : rows.map((row) => row.month);
}

/**
 * An admin's page of a due range that many tasks match, sorted by another key: a merge of one
 * branch per month of the range holding tasks, each read in the sort's order from migration 0012's
 * `(month, key, id)` index from the position, up to the rows the page can need. The months inside
 * the range match whole; its first and last check the exact bounds row by row, so a page reads at
 * most (months × page) entries plus, at worst, those two months' tasks outside the range. Null past
 * MERGE_MAX_PROJECTS months (SQLite's limit on a compound SELECT): the caller reads it as is.
 */
async function dueMonthsPage(
  db: Db,
  filter: TaskFilter,
  sort: Sort,
  terms: (table: string) => Expression<unknown>[],
  limit: number,
  offset: number,
  position: { sort: Sort; position: Position } | null,
  postgres: boolean,
): Promise<TaskRow[] | null> {
  const months = await dueMonths(db, filter, MERGE_MAX_PROJECTS);
  if (months === null) return null;
  const parts = months.map((month) => {
    const bounds: TaskFilter = {};
    if (filter.dueAfter !== undefined && month === filter.dueAfter.slice(0, 7))
      bounds.dueAfter = filter.dueAfter;
    if (filter.dueBefore !== undefined && month === filter.dueBefore.slice(0, 7))
      bounds.dueBefore = filter.dueBefore;
    // SQLite: the bounds as `+due_at`, so the month's index, not the due one, reads the branch.
    const [only] = branches(db, { all: true }, bounds, position, { dense: !postgres }) as [TaskQuery];
    return only.where(dueMonth(), '=', month).where('tasks.due_at', 'is not', null);
  });
  return mergedPage(db, parts, sort, terms, limit, offset);
}

/**
 * How many entries of the sort's index an admin's due-range page reads in order before it falls
 * back to the months merge. Where the matches are spread along the sort (`dueBefore` sorted by
 * `title`), a page of 21 (the default page and one more) is found within 2,000 entries while at
 * least 1 % of the tasks past the position match (a page of 101, the largest, at 5 %). Read through
 * the table for the due date, 2,000 rows cost 1 ms warm on SQLite and 8 ms on PostgreSQL at 1M tasks
 * (a probe that fills the page stops sooner), well under the merge's floor (one branch per month, 17
 * there: 30 ms and more), so a failed probe adds little to it.
 */
export const PROBE = 2_000;

/**
 * An admin's due-range page from a bounded probe: the first PROBE entries of the sort's index after
 * the position, in order (a subquery with its own ORDER BY … LIMIT), checked for the range and an
 * unarchived project outside it. The matches among them are exactly the first ones after the
 * position, so a complete page (offset + limit rows) is the answer; otherwise null (the probe ran
 * out before the page did, or version 1's offset + limit exceeds PROBE: nothing to probe).
 */
async function probePage(
  db: Db,
  filter: TaskFilter,
  terms: (table: string) => Expression<unknown>[],
  limit: number,
  offset: number,
  position: { sort: Sort; position: Position } | null,
): Promise<TaskRow[] | null> {
  if (offset + limit > PROBE) return null;
  let read = db.selectFrom('tasks').selectAll('tasks');
  if (position) read = read.where(afterPosition(position.sort, position.position));
  const probe = ordered(read, terms('tasks')).limit(PROBE);
  // The subquery is named `tasks` and has every column of the table, so the filters read it as the table.
  const probed = db.selectFrom(probe.as('tasks')) as unknown as TaskQuery;
  const matches = applyFilter(probed, filter).where(
    (eb) => eb.selectFrom('projects as ap').select('ap.archived').whereRef('ap.id', '=', 'tasks.project_id'),
    '=',
    0,
  );
  const rows = await ordered(matches.selectAll('tasks'), terms('tasks'))
    .limit(limit)
    .offset(offset)
    .execute();
  return rows.length === limit ? rows : null;
}

/**
 * A page merged from several branches, each read in the sort's order and cut to the rows the page
 * can need. The branches carry only the sort key and the id, which the sort's index holds, so a
 * branch without filters reads no table row; the page's rows are read by id at the end. SQLite
 * takes ORDER BY and LIMIT inside a compound SELECT only within a subquery, hence the wrapping.
 */
async function mergedPage(
  db: Db,
  parts: TaskQuery[],
  sort: Sort,
  terms: (table: string) => Expression<unknown>[],
  limit: number,
  offset: number,
  /** Branches read from a filter's index and sorted (their order written so that no index serves it). */
  sorted: ReadonlySet<TaskQuery> = new Set(),
): Promise<TaskRow[]> {
  const { column } = sortColumn(sort.key);
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const arms = parts.map((part, i) =>
    db
      .selectFrom(
        ordered(
          part.select(['tasks.id', sql.ref(`tasks.${column}`).as(column)]),
          sorted.has(part) ? unindexedTerms(sort, postgres) : terms('tasks'),
        )
          .limit(offset + limit)
          .as(`b${i}`),
      )
      .selectAll(),
  );
  const [first, ...rest] = arms;
  if (!first) return [];
  const union = rest.reduce((all, arm) => all.unionAll(arm), first);
  const page = ordered(db.selectFrom(union.as('t')).select('t.id'), terms('t'))
    .limit(limit)
    .offset(offset);
  const rows = db.selectFrom(page.as('m')).innerJoin('tasks', 'tasks.id', 'm.id').selectAll('tasks');
  return ordered(rows, terms('tasks')).execute();
}

/**
 * A page of tasks in the sort's order. An admin's list is one ordered read of an index. A user's
 * is a merge: the tasks of each member project (each read in order from that project's index for
 * the sort, migration 0010, up to the rows the page can need) and its assigned tasks elsewhere, so
 * nothing sorts the user's tasks in memory however many it sees. A user in more than
 * MERGE_MAX_PROJECTS projects gets a merge of two branches, all member projects' tasks at once
 * (correct, but that branch sorts in memory). A due range sorted by another key: an admin's list
 * that matches many tasks is first a bounded probe of the sort's index (probePage: exact when it
 * fills the page), else a merge over the range's months (dueMonthsPage); in a user's, each
 * project where it matches few tasks reads them from its due index and sorts them (sparseDueProjects).
 */
export async function listTasks(
  db: Db,
  visibility: Visibility,
  filter: TaskFilter,
  sort: Sort,
  limit: number,
  offset: number,
  after: Position | null = null,
): Promise<TaskRow[]> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const terms = (table: string) => orderTerms(sort, table, after?.v === null, postgres);
  const position = after ? { sort, position: after } : null;
  if (visibility.all) {
    const read = await adminRead(db, filter, sort, postgres);
    if (read === 'months') {
      const page =
        (await probePage(db, filter, terms, limit, offset, position)) ??
        (await dueMonthsPage(db, filter, sort, terms, limit, offset, position, postgres));
      if (page) return page;
    }
    const [only] = branches(db, visibility, filter, position, { dense: read === 'dense' }) as [TaskQuery];
    const sortTerms = read === 'few' ? unindexedTerms(sort, postgres) : terms('tasks');
    return ordered(only.selectAll('tasks'), sortTerms).limit(limit).offset(offset).execute();
  }
  const parts = branches(db, visibility, filter, position);
  const [, assigned] = parts as [TaskQuery, TaskQuery];
  const projects = await memberProjects(db, visibility.userId, filter, MERGE_MAX_PROJECTS + 1);
  if (projects.length > MERGE_MAX_PROJECTS) return mergedPage(db, parts, sort, terms, limit, offset);
  // The projects were chosen above (membership, archived, the projectId filter).
  const { projectId: _named, ...rest } = filter;
  let base = applyFilter(db.selectFrom('tasks'), rest, true);
  if (position) base = base.where(afterPosition(sort, position.position));
  const sparse = await sparseDueProjects(db, projects, rest, sort);
  const sorted = new Set<TaskQuery>();
  const perProject = projects.map((id) => {
    const part = base.where('tasks.project_id', '=', id);
    if (!sparse.has(id)) return part;
    // Sought on the project's due index: `(due_at is null) = false` names its second column.
    const few = part.where(sql<SqlBool>`(${sql.ref('tasks.due_at')} is null) = false`);
    sorted.add(few);
    return few;
  });
  return mergedPage(db, [...perProject, assigned], sort, terms, limit, offset, sorted);
}

/** At most this many matches of a due range in one project are read from its due index and sorted. */
export const FEW_DUE_IN_PROJECT = 200;

/**
 * SQLite: the member projects in which the list's due range (sorted by another key) matches at most
 * FEW_DUE_IN_PROJECT tasks, counted on each project's due index (migration 0010's
 * `(project_id, (due_at is null), due_at, id)`, FEW_DUE_IN_PROJECT + 1 entries at most each, one
 * statement). Their branches read those matches and sort them; walking the project in the sort's
 * order and checking the due date row by row would read up to the whole project before a page of
 * matches (due dates follow creation dates). A project with more matches keeps that walk.
 */
async function sparseDueProjects(
  db: Db,
  projects: string[],
  filter: TaskFilter,
  sort: Sort,
): Promise<Set<string>> {
  // PostgreSQL's statistics weigh the two reads by themselves (user 1 at 1M tasks: 40–90 ms a page
  // without this count, 120–780 ms with it, its 51 × 201 entries read through the heap).
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  if (postgres || sort.key === 'dueAt' || (filter.dueAfter === undefined && filter.dueBefore === undefined))
    return new Set();
  const due: TaskFilter = {};
  if (filter.dueAfter !== undefined) due.dueAfter = filter.dueAfter;
  if (filter.dueBefore !== undefined) due.dueBefore = filter.dueBefore;
  const counts = projects.map((id) =>
    db
      .selectFrom(
        applyFilter(db.selectFrom('tasks'), due)
          .select('tasks.project_id')
          .where('tasks.project_id', '=', id)
          .where(sql<SqlBool>`(${sql.ref('tasks.due_at')} is null) = false`)
          .limit(FEW_DUE_IN_PROJECT + 1)
          .as('m'),
      )
      .select((eb) => [eb.fn.max('m.project_id').as('project'), eb.fn.countAll().as('n')]),
  );
  const [first, ...rest] = counts;
  if (!first) return new Set();
  const rows = await rest.reduce((all, arm) => all.unionAll(arm), first).execute();
  const dense = new Set(
    rows.flatMap((row) => (toCount(row.n) > FEW_DUE_IN_PROJECT && row.project ? [row.project] : [])),
  );
  return new Set(projects.filter((id) => !dense.has(id)));
}

export async function countTasks(db: Db, visibility: Visibility, filter: TaskFilter): Promise<number> {
  const counts = await Promise.all(
    branches(db, visibility, filter, null, { whole: true }).map((part) =>
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
  /** The earliest dueAt at or after `now` of the group's not-done tasks: when `overdue` changes next. */
  next_due: string | null;
}

/**
 * The counts by status and priority of the tasks a list would cover, their overdue ones at `now`,
 * and when the next one falls due. The branches are one statement (UNION ALL), so they read one
 * snapshot: a task moving between them is never counted twice or not at all.
 */
export async function taskStats(
  db: Db,
  visibility: Visibility,
  filter: TaskFilter,
  now: string,
): Promise<StatsRow[]> {
  const [first, ...rest] = branches(db, visibility, filter, null, { whole: true }).map((part) =>
    part
      .select((eb) => [
        'tasks.status',
        'tasks.priority',
        eb.fn.countAll().as('n'),
        sql<number>`sum(case when tasks.due_at < ${now} and tasks.status <> 'done' then 1 else 0 end)`.as(
          'overdue',
        ),
        sql<
          string | null
        >`min(case when tasks.due_at >= ${now} and tasks.status <> 'done' then tasks.due_at end)`.as(
          'next_due',
        ),
      ])
      .groupBy(['tasks.status', 'tasks.priority']),
  );
  if (!first) return [];
  let query = first;
  for (const part of rest) query = query.unionAll(part);
  return (await query.execute()) as StatsRow[];
}

/** A task with what decides who may see and change it: its project's flags and one user's membership. */
export type TaskAccessRow = TaskRow & {
  project_archived: number;
  project_personal: number;
  member_role: ProjectRole | null;
};

/**
 * A task, its project's flags and the stored role of `userId` in that project, in one read (so a
 * membership change counts on the very next request, on every instance). `lock` (PostgreSQL only)
 * holds the task row until the transaction ends.
 */
export async function findTaskAccess(
  db: Db,
  id: string,
  userId: string,
  lock = false,
): Promise<TaskAccessRow | undefined> {
  const query = db
    .selectFrom('tasks')
    .innerJoin('projects as p', 'p.id', 'tasks.project_id')
    .leftJoin('project_members as pm', (join) =>
      join.onRef('pm.project_id', '=', 'tasks.project_id').on('pm.user_id', '=', userId),
    )
    .selectAll('tasks')
    .select(['p.archived as project_archived', 'p.personal as project_personal', 'pm.role as member_role'])
    .where('tasks.id', '=', id);
  // NO KEY UPDATE: writers of this task queue, while foreign-key checks against it (a subtask
  // naming it as parent, a comment) do not wait, so two tasks' writers never deadlock that way.
  return (lock ? query.forNoKeyUpdate('tasks') : query).executeTakeFirst();
}

/** `lock` (PostgreSQL only) holds the row until the transaction ends, so writers queue, not race. */
export async function findTask(db: Db, id: string, lock = false): Promise<TaskRow | undefined> {
  const query = db.selectFrom('tasks').selectAll('tasks').where('id', '=', id);
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

export async function insertTask(db: Db, row: NewTaskRow): Promise<void> {
  await db.insertInto('tasks').values(row).execute();
  await writeTags(db, row.id, FIELDS.tags.decode(row.tags));
}

/**
 * The one conditional statement that makes concurrent writers safe: it applies only while the
 * stored version is still `expectedVersion`, and the database computes the next version.
 */
export async function updateTaskIfVersion(
  db: Db,
  id: string,
  expectedVersion: number,
  changes: TaskChanges,
  /** The new tags when they changed, else null. */
  tags: string[] | null,
): Promise<TaskRow | undefined> {
  const row = await db
    .updateTable('tasks')
    .set((eb) => ({ ...changes, version: eb('version', '+', 1) }))
    .where('id', '=', id)
    .where('version', '=', expectedVersion)
    .returningAll()
    .executeTakeFirst();
  if (row && tags) await writeTags(db, id, tags);
  return row;
}

export async function deleteTask(db: Db, id: string, expectedVersion: number | null): Promise<boolean> {
  let query = db.deleteFrom('tasks').where('id', '=', id);
  if (expectedVersion !== null) query = query.where('version', '=', expectedVersion);
  const result = await query.executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/**
 * A user is no assignee any more, each such task with a new version: anywhere (the user is being
 * deleted), or in one project (it was removed from it).
 */
export async function unassign(db: Db, userId: string, now: string, projectId?: string): Promise<TaskRow[]> {
  let query = db
    .updateTable('tasks')
    .set((eb) => ({ assignee_id: null, version: eb('version', '+', 1), updated_at: now }))
    .where('assignee_id', '=', userId);
  if (projectId !== undefined) query = query.where('project_id', '=', projectId);
  return query.returningAll().execute();
}

/**
 * Tasks by id, in id order; `lock` (PostgreSQL only) holds them until the transaction ends, with
 * the strength the write that follows takes anyway (`update`: a delete; `no key update`: an
 * update), so their writers queue and what is read is what is written over.
 */
export async function findTasks(
  db: Db,
  ids: string[],
  lock: 'update' | 'no key update' | null = null,
): Promise<TaskRow[]> {
  if (ids.length === 0) return [];
  const query = db.selectFrom('tasks').selectAll('tasks').where('id', 'in', ids).orderBy('id');
  if (lock === 'update') return query.forUpdate().execute();
  if (lock === 'no key update') return query.forNoKeyUpdate().execute();
  return query.execute();
}

/** The tasks a user owns (that survive it with `ownerId: null`). */
export async function tasksOwnedBy(db: Db, userId: string): Promise<TaskRow[]> {
  return db.selectFrom('tasks').selectAll('tasks').where('owner_id', '=', userId).orderBy('id').execute();
}

/** The user ids of a project's members. */
export async function memberIds(db: Db, projectId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('project_members')
    .select('user_id')
    .where('project_id', '=', projectId)
    .execute();
  return rows.map((row) => row.user_id);
}

/** The users assigned a task of a project (in a personal project, users who are not its members). */
export async function assigneesIn(db: Db, projectId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('tasks')
    .select('assignee_id')
    .distinct()
    .where('project_id', '=', projectId)
    .where('assignee_id', 'is not', null)
    .execute();
  return rows.flatMap((row) => (row.assignee_id === null ? [] : [row.assignee_id]));
}

/** Whether a user is a member of a project (any role): who may be assigned in a shared project. */
export async function isMember(db: Db, projectId: string, userId: string): Promise<boolean> {
  const row = await db
    .selectFrom('project_members')
    .select('project_members.user_id')
    .where('project_members.project_id', '=', projectId)
    .where('project_members.user_id', '=', userId)
    .executeTakeFirst();
  return row !== undefined;
}
