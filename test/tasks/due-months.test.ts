import { CompiledQuery, type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/migrator.js';
import type { Database } from '../../src/db/schema.js';
import type { Sort, TaskFilter } from '../../src/modules/tasks/task-fields.js';
import {
  FEW_DUE,
  FEW_DUE_IN_PROJECT,
  listTasks,
  MERGE_MAX_PROJECTS,
  type Position,
  PROBE,
  positionOf,
  type Visibility,
} from '../../src/modules/tasks/tasks.repository.js';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from '../helpers/database.js';
import { userRow } from '../helpers/rows.js';

/**
 * A due range sorted by another key. Due dates follow creation dates, so neither the sort's index
 * (the matches sit at its far end) nor the due index (the matches out of the sort's order) serves a
 * wide one. An admin's list is a merge over the range's months (migration 0012's `(month, key, id)`
 * indexes); in a user's list, a project where the range matches few tasks reads them from the
 * project's due index and sorts them, one where it matches many walks the project in order.
 */
let database: TestDatabase;
const executed: CompiledQuery[] = [];
let logged: Kysely<Database>;
/** About two years of tasks, 45 created a day (two at each instant), four in five with a due date. */
const TASKS = 30_000;
/** Tasks due in months far apart, one each: a range over all of them spans more months than a merge takes. */
const FAR = MERGE_MAX_PROJECTS + 10;
const ADMIN: Visibility = { all: true };
const USER: Visibility = { all: false, userId: 'owner' };

/** SQL for day `d` of a 336-day calendar from 2030 (12 months of 28 days): `YYYY-MM-DD`. */
const day = (d: string) =>
  `(2030 + (${d}) / 336) || '-' || substr('010203040506070809101112', 2 * (((${d}) / 28) % 12) + 1, 2)
    || '-' || substr('01020304050607080910111213141516171819202122232425262728', 2 * ((${d}) % 28) + 1, 2)`;
/** The due date of day `d` as the filters take it. */
const dueDay = (d: number) => {
  const month = Math.floor(d / 28) % 12;
  return `${2030 + Math.floor(d / 336)}-${String(month + 1).padStart(2, '0')}-${String((d % 28) + 1).padStart(2, '0')}`;
};

beforeAll(async () => {
  database = await createTestDatabase();
  await migrateToLatest(database.handle);
  const db = database.handle.db;
  const at = '2030-01-01T00:00:00.000Z';
  await db.insertInto('users').values(userRow('owner', at)).execute();
  // Skewed sizes: `big` 60 % of the tasks, p1 20 %, p2 1 %, p3 0.5 %; `other`, 18.5 %, is not the
  // user's (some of its tasks are assigned to it).
  const projects = ['big', 'p1', 'p2', 'p3', 'other'];
  await db
    .insertInto('projects')
    .values(
      projects.map((id) => ({
        id,
        name: id,
        description: '',
        owner_id: 'owner',
        personal: 0,
        archived: 0,
        search_text: id,
        version: 1,
        created_at: at,
        updated_at: at,
      })),
    )
    .execute();
  await db
    .insertInto('project_members')
    .values(
      projects
        .slice(0, 4)
        .map((project_id) => ({ project_id, user_id: 'owner', role: 'owner' as const, added_at: at })),
    )
    .execute();
  // One statement each (a recursive CTE, on both databases). Ties on every key (the id decides).
  await sql`
    insert into tasks (id, owner_id, project_id, parent_id, assignee_id, title, description, status,
      priority, start_at, due_at, tags, completed_at, version, search_text, created_at, updated_at)
    with recursive n(i) as (select 0 union all select i + 1 from n where i < ${TASKS - 1})
    select 'task-' || (100000 + i), 'owner',
      case when i % 200 < 120 then 'big' when i % 200 < 160 then 'p1' when i % 200 < 162 then 'p2'
        when i % 200 < 163 then 'p3' else 'other' end,
      null, case when i % 40 = 19 then 'owner' else null end,
      'title ' || (100 + (i * 7919) % 500), '', 'todo', (i % 3) + 1, null,
      case when i % 5 = 0 then null
        else ${sql.raw(day('i / 45 + (i * 7919) % 60'))} || 'T0' || (i % 7) || ':00:00.000Z' end,
      '[]', null, 1, 'x',
      ${sql.raw(day('i / 45'))} || 'T' || (100000 + (i / 2) % 23),
      ${sql.raw(day('i / 45 + i % 3'))} || 'T' || (100000 + i % 11)
    from n`.execute(db);
  await sql`
    insert into tasks (id, owner_id, project_id, parent_id, assignee_id, title, description, status,
      priority, start_at, due_at, tags, completed_at, version, search_text, created_at, updated_at)
    with recursive n(i) as (select 0 union all select i + 1 from n where i < ${FAR - 1})
    select 'task-far-' || (1000 + i), 'owner', 'big', null, null, 'title far', '', 'todo', 2, null,
      (2100 + i / 12) || '-' || substr('010203040506070809101112', 2 * (i % 12) + 1, 2) || '-01T00:00:00.000Z',
      '[]', null, 1, 'x', '2031-06-01T' || (200000 + i), '2031-06-01T' || (200000 + i)
    from n`.execute(db);
  // The tables the list reads, not the whole database (see admin-dense.test.ts).
  if (database.handle.dialect === 'postgres') await sql`analyze tasks, projects, project_members`.execute(db);
  logged = db.withPlugin({
    transformQuery: ({ node, queryId }) => {
      executed.push(db.getExecutor().compileQuery(node, queryId));
      return node;
    },
    transformResult: async ({ result }) => result,
  });
}, 60_000);
afterAll(async () => {
  await database?.drop();
});

const sqlite = () => database.handle.dialect === 'sqlite';

/** Every visible task the range matches, sorted in JavaScript (code points, then id): what the pages must add up to. */
async function plainSort(visibility: Visibility, filter: TaskFilter, sort: Sort): Promise<string[]> {
  let query = database.handle.db
    .selectFrom('tasks')
    .select(['id', 'created_at', 'updated_at', 'title', 'priority', 'project_id', 'assignee_id'])
    .where('due_at', 'is not', null);
  if (filter.dueAfter) query = query.where('due_at', '>=', filter.dueAfter);
  if (filter.dueBefore) query = query.where('due_at', '<', filter.dueBefore);
  if (!visibility.all)
    query = query.where((eb) =>
      eb.or([eb('project_id', '!=', 'other'), eb('assignee_id', '=', visibility.userId)]),
    );
  const rows = await query.execute();
  const column = (
    { createdAt: 'created_at', updatedAt: 'updated_at', title: 'title', priority: 'priority' } as const
  )[sort.key as 'createdAt'];
  const sign = sort.descending ? -1 : 1;
  const cmp = (x: string | number, y: string | number) =>
    typeof x === 'number' || typeof y === 'number'
      ? Number(x) - Number(y)
      : Array.from(x)
            .map((c) => c.codePointAt(0) ?? 0)
            .join(',') ===
          Array.from(y)
            .map((c) => c.codePointAt(0) ?? 0)
            .join(',')
        ? 0
        : x < y
          ? -1
          : 1;
  rows.sort((a, b) => sign * (cmp(a[column], b[column]) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
  return rows.map((row) => row.id);
}

/** Every page by position (version 2) and by offset (version 1). */
async function walk(
  visibility: Visibility,
  filter: TaskFilter,
  sort: Sort,
  size: number,
  db: Kysely<Database> = database.handle.db,
) {
  const byPosition: string[] = [];
  let after: Position | null = null;
  for (;;) {
    const rows = await listTasks(db, visibility, filter, sort, size + 1, 0, after);
    byPosition.push(...rows.slice(0, size).map((row) => row.id));
    const last = rows[size - 1];
    if (rows.length <= size || !last) break;
    after = positionOf(last, sort);
  }
  const byOffset: string[] = [];
  for (let offset = 0; ; offset += size * 4) {
    const rows = await listTasks(db, visibility, filter, sort, size * 4, offset);
    byOffset.push(...rows.map((row) => row.id));
    if (rows.length < size * 4) break;
  }
  return { byPosition, byOffset };
}

/** A merged page's statement (not the loose scan of the months, a recursive CTE, nor the count per project). */
const isMerge = (query: CompiledQuery) =>
  /union all/i.test(query.sql) && /order by/i.test(query.sql) && !/with recursive/i.test(query.sql);

/**
 * The probe's statement: the sort's index read in order up to PROBE entries (a parameter), in a
 * subquery filtered outside (the plugin also sees the subquery alone), no union.
 */
const isProbe = (query: CompiledQuery) =>
  /^select .* from \(select /i.test(query.sql) &&
  !/union all|with recursive/i.test(query.sql) &&
  query.parameters.includes(PROBE);

interface PgNode {
  'Node Type': string;
  'Index Name'?: string;
  Plans?: PgNode[];
}
const labels = (node: PgNode): string[] => [
  `${node['Node Type']}${node['Index Name'] ? ` using ${node['Index Name']}` : ''}`,
  ...(node.Plans ?? []).flatMap(labels),
];

/**
 * The plan of the merged page a list sent, and its branches' steps: SQLite's co-routines b0, b1, …;
 * the inputs of PostgreSQL's Append (scans switched off: small tables make them cheapest, and the
 * plan should show whether an index CAN serve).
 */
async function branchPlans(): Promise<{ lines: string[]; arms: string[][] }> {
  const page = executed.find(isMerge);
  if (!page) throw new Error('no merged page was read');
  const db = database.handle.db;
  if (sqlite()) {
    const result = await db.executeQuery<{ detail: string }>(
      CompiledQuery.raw(`explain query plan ${page.sql}`, [...page.parameters]),
    );
    const lines = result.rows.map((row) => row.detail);
    const arms: string[][] = [];
    for (const line of lines) {
      if (/^(CO-ROUTINE|MATERIALIZE) b\d+$/.test(line)) arms.push([]);
      else arms.at(-1)?.push(line);
    }
    return { lines, arms };
  }
  const root = await db.transaction().execute(async (trx) => {
    await sql`set local enable_seqscan = off`.execute(trx);
    const result = await trx.executeQuery<{ 'QUERY PLAN': [{ Plan: PgNode }] }>(
      CompiledQuery.raw(`explain (format json) ${page.sql}`, [...page.parameters]),
    );
    return (result.rows[0]?.['QUERY PLAN'] ?? [])[0]?.Plan as PgNode;
  });
  const appends: PgNode[] = [];
  const visit = (node: PgNode) => {
    if (/^(Merge )?Append$/.test(node['Node Type'])) appends.push(node);
    else for (const child of node.Plans ?? []) visit(child);
  };
  visit(root);
  return { lines: labels(root), arms: appends.flatMap((node) => (node.Plans ?? []).map(labels)) };
}

/**
 * The probe's plan: the steps of its inner read (SQLite's co-routine or the lines before the outer
 * query's; PostgreSQL's Limit under the Subquery Scan), scans switched off on PostgreSQL.
 */
async function probePlan(): Promise<{ lines: string[]; inner: string[] }> {
  const probe = executed.find(isProbe);
  if (!probe) throw new Error('no probe was read');
  const db = database.handle.db;
  if (sqlite()) {
    const result = await db.executeQuery<{ id: number; parent: number; detail: string }>(
      CompiledQuery.raw(`explain query plan ${probe.sql}`, [...probe.parameters]),
    );
    const lines = result.rows.map((row) => row.detail);
    const head = result.rows.find((row) => /^(CO-ROUTINE|MATERIALIZE) tasks$/.test(row.detail));
    const inner = head ? result.rows.filter((row) => row.parent === head.id).map((row) => row.detail) : [];
    return { lines, inner };
  }
  const root = await db.transaction().execute(async (trx) => {
    await sql`set local enable_seqscan = off`.execute(trx);
    const result = await trx.executeQuery<{ 'QUERY PLAN': [{ Plan: PgNode }] }>(
      CompiledQuery.raw(`explain (format json) ${probe.sql}`, [...probe.parameters]),
    );
    return (result.rows[0]?.['QUERY PLAN'] ?? [])[0]?.Plan as PgNode;
  });
  let scan: PgNode | undefined;
  const visit = (node: PgNode) => {
    if (node['Node Type'] === 'Subquery Scan') scan = node;
    else for (const child of node.Plans ?? []) visit(child);
  };
  visit(root);
  return { lines: labels(root), inner: scan ? (scan.Plans ?? []).flatMap(labels) : [] };
}

const WIDE: TaskFilter = { dueBefore: `${dueDay(450)}T00:00:00.000Z` };
const BETWEEN: TaskFilter = {
  dueAfter: `${dueDay(100)}T12:00:00.000Z`,
  dueBefore: `${dueDay(500)}T03:00:00.000Z`,
};
const WEEK: TaskFilter = {
  dueAfter: `${dueDay(300)}T00:00:00.000Z`,
  dueBefore: `${dueDay(307)}T00:00:00.000Z`,
};
const SORTS: Sort[] = [
  { key: 'createdAt', descending: true },
  { key: 'createdAt', descending: false },
  { key: 'title', descending: false },
  { key: 'priority', descending: true },
  { key: 'updatedAt', descending: false },
];
const label = (sort: Sort) => `${sort.descending ? '-' : ''}${sort.key}`;

describe('an admin’s list of a due range that many tasks match, sorted by another key', () => {
  it.each(SORTS.map((sort) => [label(sort), sort] as const))(
    'sort=%s: a merge of one branch per month, each read in order from the month’s index (no sort)',
    async (_name, sort) => {
      for (const filter of [WIDE, BETWEEN]) {
        const matches = await plainSort(ADMIN, filter, sort);
        expect(matches.length).toBeGreaterThan(FEW_DUE);
        executed.length = 0;
        // Past PROBE by offset: no probe, the merge (by title the probe would fill page 1).
        const rows = await listTasks(logged, ADMIN, filter, sort, 21, PROBE);
        expect(rows.map((row) => row.id)).toEqual(matches.slice(PROBE, PROBE + 21));
        const { lines, arms } = await branchPlans();
        expect(arms.length, lines.join('\n')).toBeGreaterThan(10);
        const index = sqlite()
          ? /^SEARCH tasks USING (COVERING )?INDEX tasks_due_month_\w+ \(<expr>=\?/
          : /^Index (Only )?Scan using tasks_due_month_\w+$/;
        for (const arm of arms) {
          expect(
            arm.some((line) => index.test(line)),
            lines.join('\n'),
          ).toBe(true);
          expect(
            arm.filter((line) => /^(USE TEMP B-TREE FOR|(Incremental )?Sort$)/.test(line)),
            lines.join('\n'),
          ).toEqual([]);
        }
      }
    },
  );

  it.each(SORTS.map((sort) => [label(sort), sort] as const))(
    'sort=%s: every page, by position and by offset, is a plain sort of the matches',
    async (_name, sort) => {
      for (const filter of [WIDE, BETWEEN]) {
        const expected = await plainSort(ADMIN, filter, sort);
        const { byPosition, byOffset } = await walk(ADMIN, filter, sort, 1_000);
        expect(byPosition).toEqual(expected);
        expect(byOffset).toEqual(expected);
      }
    },
  );

  it.each(SORTS.map((sort) => [label(sort), sort] as const))(
    'sort=%s: the probe reads the sort’s index in order (no sort step), at most PROBE entries',
    async (_name, sort) => {
      executed.length = 0;
      const matches = await plainSort(ADMIN, WIDE, sort);
      const rows = await listTasks(logged, ADMIN, WIDE, sort, 21, 0);
      expect(rows.map((row) => row.id)).toEqual(matches.slice(0, 21));
      const { lines, inner } = await probePlan();
      const index = `tasks_${{ createdAt: 'created', updatedAt: 'updated', title: 'title', priority: 'priority' }[sort.key as 'title']}`;
      const read = sqlite()
        ? new RegExp(`^SCAN tasks USING (COVERING )?INDEX ${index}$`)
        : new RegExp(`^Index Scan( Backward)? using ${index}$`);
      expect(
        inner.some((line) => read.test(line)),
        lines.join('\n'),
      ).toBe(true);
      expect(
        inner.filter((line) => /^(USE TEMP B-TREE FOR|(Incremental )?Sort$)/.test(line)),
        lines.join('\n'),
      ).toEqual([]);
      if (!sqlite()) expect(inner[0], lines.join('\n')).toBe('Limit');
    },
  );

  it('a page the probe fills is its answer; one it cannot fill is the months merge; every page a plain sort', async () => {
    // By title the matches are spread along the sort (the probe fills the pages but the last); by
    // -createdAt the newest tasks are due after the range (the merge), then nearly all match (the probe).
    for (const sort of [SORTS[2], SORTS[0]] as Sort[]) {
      for (const size of [20, 100]) {
        const expected = await plainSort(ADMIN, WIDE, sort);
        const paths = { probe: 0, months: 0 };
        const counting = database.handle.db.withPlugin({
          transformQuery: ({ node, queryId }) => {
            const query = database.handle.db.getExecutor().compileQuery(node, queryId);
            if (isMerge(query)) paths.months += 1;
            return node;
          },
          transformResult: async ({ result }) => result,
        });
        let after: Position | null = null;
        const byPosition: string[] = [];
        for (;;) {
          const before = paths.months;
          const rows = await listTasks(counting, ADMIN, WIDE, sort, size + 1, 0, after);
          if (paths.months === before) paths.probe += 1;
          byPosition.push(...rows.slice(0, size).map((row) => row.id));
          const last = rows[size - 1];
          if (rows.length <= size || !last) break;
          after = positionOf(last, sort);
        }
        expect(byPosition).toEqual(expected);
        expect(paths.probe, `${label(sort)} ${size}`).toBeGreaterThan(0);
        expect(paths.months, `${label(sort)} ${size}`).toBeGreaterThan(0);
        // Version 1: the probe serves offset + size up to PROBE (pages past it: the walk above).
        const v1 = { ...paths };
        const byOffset: string[] = [];
        for (let offset = 0; offset + size <= PROBE; offset += size) {
          const before = paths.months;
          const rows = await listTasks(counting, ADMIN, WIDE, sort, size, offset);
          if (paths.months === before) paths.probe += 1;
          byOffset.push(...rows.map((row) => row.id));
        }
        expect(byOffset).toEqual(expected.slice(0, byOffset.length));
        if (sort.key === 'title') {
          expect(paths.probe - v1.probe).toBeGreaterThan(0);
          expect(paths.months - v1.months).toBeGreaterThan(0);
        }
      }
    }
  });

  it('a range over more months than a merge takes is read as before, the same rows', async () => {
    const sort: Sort = { key: 'createdAt', descending: true };
    const filter: TaskFilter = { dueBefore: '2200-01-01T00:00:00.000Z' };
    const expected = await plainSort(ADMIN, filter, sort);
    const rows = await listTasks(database.handle.db, ADMIN, filter, sort, 500, 0);
    expect(rows.map((row) => row.id)).toEqual(expected.slice(0, 500));
    executed.length = 0;
    await listTasks(logged, ADMIN, filter, sort, 21, 0);
    expect(executed.some(isMerge)).toBe(false);
  });
});

describe('a user’s list of a due range', () => {
  // SQLite has no statistics to weigh the reads; PostgreSQL's choose by themselves.
  it.runIf(!testDatabaseUrl)(
    'SQLite: a project the range matches few tasks of is read from its due index and sorted; a dense one walks in order',
    async () => {
      const sort: Sort = { key: 'createdAt', descending: true };
      executed.length = 0;
      await listTasks(logged, USER, WIDE, sort, 21, 0);
      const { lines, arms } = await branchPlans();
      // big, p1, p2, p3 (in id order: big, p1, p2, p3), then the assigned tasks of `other`.
      expect(arms.length, lines.join('\n')).toBe(5);
      const [big, p1, p2, p3] = arms;
      // The wide range matches thousands of big's and p1's tasks, fewer than FEW_DUE_IN_PROJECT of p2's and p3's.
      const dueIndex = sqlite()
        ? /^SEARCH tasks USING (COVERING )?INDEX tasks_project_due_sort \(project_id=\? AND <expr>=\? AND due_at<\?\)/
        : /^(Bitmap )?Index (Only )?Scan using tasks_project_due_sort(_desc)?$/;
      const sortStep = /^(USE TEMP B-TREE FOR ORDER BY|(Incremental )?Sort$)/;
      for (const arm of [p2, p3]) {
        expect(
          arm?.some((line) => dueIndex.test(line)),
          lines.join('\n'),
        ).toBe(true);
        expect(
          arm?.some((line) => sortStep.test(line)),
          lines.join('\n'),
        ).toBe(true);
      }
      for (const arm of [big, p1]) {
        expect(
          arm?.some((line) => sortStep.test(line)),
          lines.join('\n'),
        ).toBe(false);
      }
    },
  );

  it.each(SORTS.map((sort) => [label(sort), sort] as const))(
    'sort=%s: every page, by position and by offset, is a plain sort of the matches',
    async (_name, sort) => {
      for (const filter of [WIDE, WEEK]) {
        const expected = await plainSort(USER, filter, sort);
        if (filter === WIDE) expect(expected.length).toBeGreaterThan(FEW_DUE_IN_PROJECT);
        const { byPosition, byOffset } = await walk(USER, filter, sort, filter === WEEK ? 50 : 1_000);
        expect(byPosition).toEqual(expected);
        expect(byOffset).toEqual(expected);
      }
    },
  );
});
