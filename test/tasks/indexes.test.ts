import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompiledQuery, type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/migrator.js';
import type { Database } from '../../src/db/schema.js';
import type { ProjectRole } from '../../src/lib/principal.js';
import {
  SORTS,
  type Sort,
  STATUSES,
  sortColumn,
  type TaskFilter,
} from '../../src/modules/tasks/task-fields.js';
import {
  countTasks,
  findTask,
  insertTask,
  listTasks,
  positionOf,
  taskStats,
  type Visibility,
} from '../../src/modules/tasks/tasks.repository.js';
import {
  createTestDatabase,
  openLoggedConnection,
  type TestDatabase,
  testDatabaseUrl,
} from '../helpers/database.js';
import { userRow } from '../helpers/rows.js';

let database: TestDatabase;
/** A second connection to the same database whose log hands over every statement it executes. */
let logged: Kysely<Database>;
const executed: CompiledQuery[] = [];
const sqliteFile = join(tmpdir(), `taskforge-plans-${randomBytes(6).toString('hex')}.db`);

const users = ['user-0', 'user-1', 'user-2', 'user-3'];
const PROJECTS = 10;
const ARCHIVED = 8;
const NOT_A_MEMBER = 9;
/** A task with subtasks (the first task of proj-1). */
let parentId: string;

beforeAll(async () => {
  // SQLite: a file, so that the logging connection sees the same data.
  database = await createTestDatabase(testDatabaseUrl ? {} : { sqliteFile });
  await migrateToLatest(database.handle);
  const db = database.handle.db;
  const at = (n: number) => new Date(Date.UTC(2030, 0, 1) + n * 60_000).toISOString();
  for (const [i, id] of users.entries()) {
    await db
      .insertInto('users')
      .values(userRow(id, at(i)))
      .execute();
    await db
      .insertInto('projects')
      .values({
        id: `inbox-${id}`,
        name: 'Inbox',
        description: '',
        owner_id: id,
        personal: 1,
        archived: 0,
        search_text: 'inbox',
        version: 1,
        created_at: at(i),
        updated_at: at(i),
      })
      .execute();
    await db
      .insertInto('project_members')
      .values({ project_id: `inbox-${id}`, user_id: id, role: 'owner', added_at: at(i) })
      .execute();
  }
  // Shared projects of user-0: user-1 is a member of most (one of them archived), not of the last;
  // user-1 is also assigned tasks in the others' personal projects.
  for (let p = 0; p < PROJECTS; p += 1) {
    await db
      .insertInto('projects')
      .values({
        id: `proj-${p}`,
        name: `Project ${p}`,
        description: '',
        owner_id: 'user-0',
        personal: 0,
        archived: p === ARCHIVED ? 1 : 0,
        search_text: `project ${p}`,
        version: 1,
        created_at: at(10 + p),
        updated_at: at(10 + p),
      })
      .execute();
    const members: [string, ProjectRole][] = [['user-0', 'owner']];
    if (p !== NOT_A_MEMBER)
      members.push(['user-1', (['viewer', 'commenter', 'editor'] as const)[p % 3] ?? 'viewer']);
    if (p % 2 === 0) members.push(['user-2', 'editor']);
    for (const [user_id, role] of members) {
      await db
        .insertInto('project_members')
        .values({ project_id: `proj-${p}`, user_id, role, added_at: at(10 + p) })
        .execute();
    }
  }
  const firstOf = new Map<string, string>();
  for (let i = 0; i < 200; i += 1) {
    const title = `task ${i}`;
    const id = `task-${String(i).padStart(4, '0')}`;
    const owner = users[i % users.length] ?? 'user-0';
    const shared = i % 3 === 1;
    const project_id = shared ? `proj-${i % PROJECTS}` : `inbox-${owner}`;
    // A project's later tasks are subtasks of its first.
    const parent_id = shared ? (firstOf.get(project_id) ?? null) : null;
    if (shared && parent_id === null) firstOf.set(project_id, id);
    await insertTask(db, {
      id,
      owner_id: owner,
      project_id,
      parent_id,
      assignee_id: !shared && i % 3 === 0 ? (users[(i + 1) % users.length] ?? null) : null,
      title,
      description: '',
      status: STATUSES[i % 3] ?? 'todo',
      priority: (i % 3) + 1,
      start_at: null,
      due_at: i % 4 === 0 ? null : at(i * 7),
      tags: JSON.stringify(i % 5 === 0 ? ['home'] : ['work']),
      completed_at: null,
      version: 1,
      search_text: title,
      created_at: at(i),
      updated_at: at(i),
    });
  }
  parentId = firstOf.get('proj-1') ?? 'missing';
  logged = openLoggedConnection(database, sqliteFile, executed);
});
afterAll(async () => {
  await logged?.destroy();
  await database.drop();
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${sqliteFile}${suffix}`, { force: true });
});

async function explain(query: CompiledQuery): Promise<string[]> {
  return explainWith(query, { sortOff: false });
}

async function explainWith(query: CompiledQuery, { sortOff }: { sortOff: boolean }): Promise<string[]> {
  const handle = database.handle;
  if (handle.dialect === 'sqlite') {
    const result = await handle.db.executeQuery<{ detail: string }>(
      CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]),
    );
    return result.rows.map((row) => row.detail);
  }
  return handle.db.transaction().execute(async (trx) => {
    // Small tables make a sequential scan cheapest; switched off, the plan shows whether an index CAN serve.
    await sql`set local enable_seqscan = off`.execute(trx);
    if (sortOff) await sql`set local enable_sort = off`.execute(trx);
    const result = await trx.executeQuery<{ 'QUERY PLAN': string }>(
      CompiledQuery.raw(`explain ${query.sql}`, [...query.parameters]),
    );
    return result.rows.map((row) => row['QUERY PLAN']);
  });
}

/** The plan of every statement a page of the list sends (the rows and the count). */
async function plansOf(visibility: Visibility, filter: TaskFilter, sort: Sort): Promise<string[][]> {
  executed.length = 0;
  await listTasks(logged, visibility, filter, sort, 20, 40);
  await countTasks(logged, visibility, filter);
  const statements = [...executed];
  expect(statements.length).toBeGreaterThan(0);
  return Promise.all(statements.map(explain));
}

const sqlite = () => database.handle.dialect === 'sqlite';

/**
 * A full read of tasks, task_tags, projects or project_members: SQLite's SCAN without an index;
 * PostgreSQL's Seq Scan.
 */
function fullScans(plans: string[][]): string[] {
  const pattern = sqlite()
    ? /^SCAN (tasks|task_tags|projects|project_members|p|pm|ap)\b(?! USING (COVERING )?INDEX)/
    : /Seq Scan on (tasks|task_tags|projects|project_members)\b/;
  return plans.flat().filter((line) => pattern.test(line.trim()));
}

/** A sort step: rows put in order after they were read, rather than read in order from an index. */
function sortsInMemory(plan: string[]): boolean {
  const pattern = sqlite() ? /^USE TEMP B-TREE FOR/ : /^(->\s*)?(Incremental )?Sort\s+\(/;
  return plan.some((line) => pattern.test(line.trim()));
}

/** An index looked up by a condition on `column` (not a walk over the whole index). */
function looksUp(plans: string[][], column: string): boolean {
  const pattern = sqlite()
    ? new RegExp(`^SEARCH (tasks|task_tags) USING .*INDEX \\S+ \\(.*\\b${column}( IN \\(|[=<>])`)
    : new RegExp(`Index Cond: .*\\b${column}\\b`);
  return plans.flat().some((line) => pattern.test(line.trim()));
}

const show = (plans: string[][]) => plans.map((plan) => plan.join('\n')).join('\n;\n');

const DEFAULT_SORT: Sort = { key: 'createdAt', descending: true };
/** Each filter alone, with the column an index must be able to look it up by. */
const FILTERS: [string, TaskFilter, string][] = [
  ['status', { status: ['todo'] }, 'status'],
  ['status (several)', { status: ['todo', 'done'] }, 'status'],
  ['priority', { priority: [3] }, 'priority'],
  ['priority (several)', { priority: [1, 3] }, 'priority'],
  ['tag', { tag: 'home' }, 'tag'],
  ['assigneeId', { assigneeId: 'user-1' }, 'assignee_id'],
  ['ownerId', { ownerId: 'user-2' }, 'owner_id'],
  ['projectId', { projectId: ['proj-1'] }, 'project_id'],
  [
    'projectId (several, an archived one too)',
    { projectId: ['proj-1', 'proj-4', `proj-${ARCHIVED}`] },
    'project_id',
  ],
  ['dueAfter', { dueAfter: '2030-01-02T00:00:00.000Z' }, 'due_at'],
  ['dueBefore', { dueBefore: '2030-01-02T00:00:00.000Z' }, 'due_at'],
  [
    'dueAfter and dueBefore',
    { dueAfter: '2030-01-01T12:00:00.000Z', dueBefore: '2030-01-02T00:00:00.000Z' },
    'due_at',
  ],
];
const SORT_CASES: [string, Sort][] = SORTS.flatMap((key) => [
  [key, { key, descending: false }] as [string, Sort],
  [`-${key}`, { key, descending: true }] as [string, Sort],
]);
const ADMIN: Visibility = { all: true };
const USER: Visibility = { all: false, userId: 'user-1' };

describe('each filter alone can be served by an index', () => {
  it.each(FILTERS)(
    '%s: admins look it up by its index, without a full scan',
    async (_name, filter, column) => {
      const plans = await plansOf(ADMIN, filter, DEFAULT_SORT);
      expect(fullScans(plans), show(plans)).toEqual([]);
      expect(looksUp(plans, column), show(plans)).toBe(true);
    },
  );

  it.each(FILTERS)(
    '%s: a user’s member-project and assigned branches, without a full scan',
    async (_name, filter) => {
      const plans = await plansOf(USER, filter, DEFAULT_SORT);
      expect(fullScans(plans), show(plans)).toEqual([]);
    },
  );

  it.each(FILTERS.filter(([name]) => !name.startsWith('projectId')))(
    '%s: a user’s assigned branch is read by the assignee index (SQLite: not driven from the filter’s)',
    async (_name, filter) => {
      const plans = await plansOf(USER, filter, DEFAULT_SORT);
      const assigned = sqlite()
        ? /^SEARCH tasks USING INDEX tasks_assignee_created \(assignee_id=\?/
        : /Index Cond: .*assignee_id/;
      // SQLite has no statistics to weigh the filter's index against the assignee's; PostgreSQL does.
      if (sqlite())
        expect(
          plans.flat().some((line) => assigned.test(line.trim())),
          show(plans),
        ).toBe(true);
    },
  );

  it('q is the one filter allowed to scan; within a user’s tasks it still does not', async () => {
    const q: TaskFilter = { q: 'task 1' };
    expect((await plansOf(ADMIN, q, DEFAULT_SORT)).length).toBeGreaterThan(0);
    const plans = await plansOf(USER, q, DEFAULT_SORT);
    expect(fullScans(plans), show(plans)).toEqual([]);
  });
});

describe('each sort alone can be served by an index', () => {
  it.each(SORT_CASES)('sort=%s: admins read the page in order from an index', async (_name, sort) => {
    const plans = await plansOf(ADMIN, {}, sort);
    expect(fullScans(plans), show(plans)).toEqual([]);
    const [list] = plans;
    expect(sortsInMemory(list ?? []), show(plans)).toBe(false);
  });

  it.each(SORT_CASES)(
    'sort=%s: a user’s branches look up its projects’ tasks and its assigned ones by index',
    async (_name, sort) => {
      const plans = await plansOf(USER, {}, sort);
      expect(fullScans(plans), show(plans)).toEqual([]);
      expect(looksUp(plans, 'project_id'), show(plans)).toBe(true);
      expect(looksUp(plans, 'assignee_id'), show(plans)).toBe(true);
    },
  );
});

describe('stats', () => {
  it('a user’s counts read only its own and assigned tasks, by index', async () => {
    executed.length = 0;
    await taskStats(logged, USER, {}, '2030-01-02T00:00:00.000Z');
    const plans = await Promise.all([...executed].map(explain));
    expect(plans.length).toBeGreaterThan(0);
    expect(fullScans(plans), show(plans)).toEqual([]);
  });
});

describe('version 2 keyset pages', () => {
  it.each(SORT_CASES)(
    'sort=%s: a page after a position seeks into the sort index, in order (same cost for every page)',
    async (_name, sort) => {
      const row = await findTask(database.handle.db, 'task-0050');
      if (!row) throw new Error('task-0050 is missing');
      // A value of the key's type: task-0050's, or a stand-in for a column this seed leaves empty.
      const { v, id } = positionOf(row, sort);
      const value = v ?? (sortColumn(sort.key).position === 'number' ? 1 : 'm');
      executed.length = 0;
      await listTasks(logged, ADMIN, {}, sort, 21, 0, { v: value, id });
      // Few rows after the position make a sort cheapest; switched off, PostgreSQL shows whether an index CAN serve.
      const plans = await Promise.all([...executed].map((query) => explainWith(query, { sortOff: true })));
      expect(fullScans(plans), show(plans)).toEqual([]);
      const [list] = plans;
      expect(sortsInMemory(list ?? []), show(plans)).toBe(false);
    },
  );
});

describe('version 2 keyset pages after a null position', () => {
  const NULLABLE = SORT_CASES.filter(([, sort]) => sortColumn(sort.key).nullable);

  it('the table has nullable sort keys to check', () => {
    expect(NULLABLE.length).toBeGreaterThanOrEqual(2);
  });

  it.each(NULLABLE)(
    'sort=%s: the page after a task without the key seeks into the sort index by id, in order',
    async (_name, sort) => {
      // task-0048 has no dueAt; the rows after it are the nulls further by id.
      executed.length = 0;
      await listTasks(logged, ADMIN, {}, sort, 21, 0, { v: null, id: 'task-0048' });
      // Few rows make a sort of the nulls cheapest; switched off, PostgreSQL shows whether an index CAN serve.
      const plans = await Promise.all([...executed].map((query) => explainWith(query, { sortOff: true })));
      expect(fullScans(plans), show(plans)).toEqual([]);
      const [list] = plans;
      expect(sortsInMemory(list ?? []), show(plans)).toBe(false);
      // The seek includes the id bound: the page starts at the position, whatever came before it.
      expect(looksUp(plans, sortColumn(sort.key).column), show(plans)).toBe(true);
      expect(looksUp(plans, 'id'), show(plans)).toBe(true);
    },
  );
});

describe('projects and subtasks', () => {
  it('the seed has what the cases below need', async () => {
    const db = database.handle.db;
    const memberships = await db
      .selectFrom('project_members')
      .selectAll()
      .where('user_id', '=', 'user-1')
      .execute();
    expect(memberships.length).toBeGreaterThanOrEqual(PROJECTS);
    const assignedElsewhere = await db
      .selectFrom('tasks')
      .select('id')
      .where('assignee_id', '=', 'user-1')
      .where(
        'project_id',
        'not in',
        memberships.map((m) => m.project_id),
      )
      .execute();
    expect(assignedElsewhere.length).toBeGreaterThan(0);
    const subtasks = await db.selectFrom('tasks').select('id').where('parent_id', '=', parentId).execute();
    expect(subtasks.length).toBeGreaterThan(1);
  });

  const PROJECT_FILTERS: [string, TaskFilter][] = [
    ['projectId', { projectId: ['proj-1', `proj-${ARCHIVED}`, `proj-${NOT_A_MEMBER}`] }],
    ['parentId', { parentId: 'task-0001' }],
    ['parentId=none', { parentId: 'none' }],
  ];

  it.each(PROJECT_FILTERS)('%s: a user’s list and count read no table in full', async (_name, filter) => {
    const plans = await plansOf(USER, filter, DEFAULT_SORT);
    expect(fullScans(plans), show(plans)).toEqual([]);
  });

  it('projectId: a user’s list looks the named projects’ tasks up by index', async () => {
    const plans = await plansOf(USER, { projectId: ['proj-1', 'proj-4'] }, DEFAULT_SORT);
    expect(looksUp(plans, 'project_id'), show(plans)).toBe(true);
  });

  it.each([
    ['admin', ADMIN],
    ['user', USER],
  ] as const)(
    'parentId: the %s’s list looks one task’s subtasks up by the parent index',
    async (_name, who) => {
      const plans = await plansOf(who, { parentId }, DEFAULT_SORT);
      expect(fullScans(plans), show(plans)).toEqual([]);
      expect(looksUp(plans, 'parent_id'), show(plans)).toBe(true);
    },
  );

  it('stats with projectId and parentId read no table in full', async () => {
    for (const filter of [{}, { projectId: ['proj-1'] }, { parentId }]) {
      for (const who of [ADMIN, USER]) {
        executed.length = 0;
        await taskStats(logged, who, filter, '2030-01-02T00:00:00.000Z');
        const plans = await Promise.all([...executed].map(explain));
        expect(fullScans(plans), show(plans)).toEqual([]);
      }
    }
  });

  it.each(SORT_CASES)(
    'sort=%s: a user’s page after a position seeks into its projects’ and its assigned tasks by index',
    async (_name, sort) => {
      const row = await findTask(database.handle.db, 'task-0050');
      if (!row) throw new Error('task-0050 is missing');
      const { v, id } = positionOf(row, sort);
      const value = v ?? (sortColumn(sort.key).position === 'number' ? 1 : 'm');
      executed.length = 0;
      await listTasks(logged, USER, {}, sort, 21, 0, { v: value, id });
      const plans = await Promise.all([...executed].map((query) => explainWith(query, { sortOff: false })));
      expect(fullScans(plans), show(plans)).toEqual([]);
      expect(looksUp(plans, 'project_id'), show(plans)).toBe(true);
      expect(looksUp(plans, 'assignee_id'), show(plans)).toBe(true);
    },
  );
});

/** The plan of a statement as a tree: SQLite's rows (id, parent) or PostgreSQL's JSON plan. */
interface PlanNode {
  label: string;
  children: PlanNode[];
}

/**
 * `dearSorts` (PostgreSQL): sorts are made dear instead of switched off, for a page whose assigned
 * branch must sort (after a position with a value, tasks.repository.ts: an `OFFSET 0` subquery).
 */
async function planTree(query: CompiledQuery, dearSorts = false): Promise<PlanNode> {
  const handle = database.handle;
  if (handle.dialect === 'sqlite') {
    const result = await handle.db.executeQuery<{ id: number; parent: number; detail: string }>(
      CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]),
    );
    const nodes = new Map<number, PlanNode>([[0, { label: 'root', children: [] }]]);
    for (const row of result.rows) {
      const node = { label: row.detail, children: [] };
      nodes.set(row.id, node);
      nodes.get(row.parent)?.children.push(node);
    }
    return nodes.get(0) as PlanNode;
  }
  interface PgNode {
    'Node Type': string;
    'Index Name'?: string;
    Plans?: PgNode[];
  }
  const toNode = (n: PgNode): PlanNode => ({
    label: `${n['Node Type']}${n['Index Name'] ? ` using ${n['Index Name']}` : ''}`,
    children: (n.Plans ?? []).map(toNode),
  });
  return handle.db.transaction().execute(async (trx) => {
    // Small tables make a scan cheapest; switched off, the plan shows whether an index CAN serve.
    // Small tables make a scan and a sort cheapest; switched off, the plan shows whether an index CAN serve.
    await sql`set local enable_seqscan = off`.execute(trx);
    // A page whose assigned branch must sort: with sorts off that one sort's penalty (PostgreSQL
    // 15: a cost of 1e10) would make every other choice a tie (a project's branch could show any
    // index), so sorts stay on and each comparison costs 400 times as much.
    if (dearSorts) await sql`set local cpu_operator_cost = 1`.execute(trx);
    else await sql`set local enable_sort = off`.execute(trx);
    const result = await trx.executeQuery<{ 'QUERY PLAN': [{ Plan: PgNode }] }>(
      CompiledQuery.raw(`explain (format json) ${query.sql}`, [...query.parameters]),
    );
    return toNode((result.rows[0]?.['QUERY PLAN'] ?? [])[0]?.Plan as PgNode);
  });
}

function descendants(node: PlanNode): PlanNode[] {
  return node.children.flatMap((child) => [child, ...descendants(child)]);
}

/** The branches of a merged page: SQLite's co-routines b0, b1, …; the inputs of PostgreSQL's Append. */
function branchesOf(tree: PlanNode): PlanNode[] {
  const all = [tree, ...descendants(tree)];
  if (sqlite()) return all.filter((node) => /^(CO-ROUTINE|MATERIALIZE) b\d+$/.test(node.label));
  return all.filter((node) => /^(Merge )?Append$/.test(node.label)).flatMap((node) => node.children);
}

const showTree = (node: PlanNode, depth = 0): string =>
  [`${'  '.repeat(depth)}${node.label}`, ...node.children.map((child) => showTree(child, depth + 1))].join(
    '\n',
  );

describe('a user’s list: one ordered read per member project, merged', () => {
  // user-1 is a member of proj-0…proj-7 and its Inbox (proj-8 is archived, proj-9 not its own).
  const MEMBER_PROJECTS = 9;

  it.each(SORT_CASES)(
    'sort=%s: each project’s branch reads that project’s sort index in order (no sort step), page 1 and after a position',
    async (_name, sort) => {
      const row = await findTask(database.handle.db, 'task-0050');
      if (!row) throw new Error('task-0050 is missing');
      const { v, id } = positionOf(row, sort);
      const value = v ?? (sortColumn(sort.key).position === 'number' ? 1 : 'm');
      for (const after of [
        null,
        { v: value, id },
        ...(sortColumn(sort.key).nullable ? [{ v: null, id }] : []),
      ]) {
        executed.length = 0;
        await listTasks(logged, USER, {}, sort, 21, 0, after);
        const page = executed.find((query) => /union all/i.test(query.sql));
        if (!page) throw new Error('no merged page was read');
        const tree = await planTree(page, after !== null && after.v !== null);
        const arms = branchesOf(tree);
        // The member projects, then the assigned tasks of other projects.
        expect(arms.length, showTree(tree)).toBe(MEMBER_PROJECTS + 1);
        const index = sqlite()
          ? /^SEARCH tasks USING (COVERING )?INDEX tasks_project_\w+ \(project_id=\?/
          : /^Index (Only )?Scan using tasks_project_\w+$/;
        for (const arm of arms.slice(0, -1)) {
          const steps = descendants(arm).map((node) => node.label);
          expect(
            steps.some((step) => index.test(step)),
            `after ${JSON.stringify(after)}\n${showTree(tree)}`,
          ).toBe(true);
          expect(
            steps.filter((step) => /^(USE TEMP B-TREE FOR|(Incremental )?Sort$)/.test(step)),
            showTree(tree),
          ).toEqual([]);
        }
      }
    },
  );
});

describe.runIf(testDatabaseUrl)('PostgreSQL: a user’s assigned branch after a position', () => {
  it.each(SORT_CASES)(
    'sort=%s: is the assignee’s tasks in an OFFSET 0 subquery, the position applied outside it (not a range of the global sort index)',
    async (_name, sort) => {
      const row = await findTask(database.handle.db, 'task-0050');
      if (!row) throw new Error('task-0050 is missing');
      const { v, id } = positionOf(row, sort);
      const value = v ?? (sortColumn(sort.key).position === 'number' ? 1 : 'm');
      executed.length = 0;
      await listTasks(logged, USER, {}, sort, 21, 0, { v: value, id });
      const page = executed.find((query) => /union all/i.test(query.sql));
      if (!page) throw new Error('no merged page was read');
      const tree = await planTree(page, true);
      const assigned = branchesOf(tree).at(-1);
      if (!assigned) throw new Error('no assigned branch');
      const fences = descendants(assigned).filter((node) => node.label === 'Subquery Scan');
      expect(
        fences.some((fence) =>
          descendants(fence).some((node) => node.label.endsWith('using tasks_assignee_created')),
        ),
        showTree(tree),
      ).toBe(true);
    },
  );
});

describe('an admin’s list filtered by a due range only', () => {
  const RANGES: [string, TaskFilter][] = [
    ['dueAfter', { dueAfter: '2030-01-01T12:00:00.000Z' }],
    ['dueBefore', { dueBefore: '2030-01-02T00:00:00.000Z' }],
    ['both', { dueAfter: '2030-01-01T12:00:00.000Z', dueBefore: '2030-01-02T00:00:00.000Z' }],
  ];
  const OTHER_SORTS = SORT_CASES.filter(([, sort]) => !sortColumn(sort.key).nullable);

  it.each(
    RANGES.flatMap(([name, filter]) => OTHER_SORTS.map(([s, sort]) => [name, s, filter, sort] as const)),
  )(
    '%s, sort=%s: a range of few tasks is read from the due index (SQLite would walk the sort’s index through the table)',
    async (_name, _sort, filter, sort) => {
      executed.length = 0;
      const rows = await listTasks(logged, ADMIN, filter, sort, 20, 0);
      expect(rows.length).toBeGreaterThan(0);
      const list = executed.filter((query) => /order by/i.test(query.sql)).at(-1);
      if (!list) throw new Error('no list was read');
      const plans = [await explain(list)];
      expect(fullScans(plans), show(plans)).toEqual([]);
      // PostgreSQL's statistics know the range's size and choose by themselves (bench:scale shows it).
      if (sqlite()) expect(looksUp(plans, 'due_at'), show(plans)).toBe(true);
    },
  );
});
