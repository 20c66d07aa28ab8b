import { CompiledQuery, type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/migrator.js';
import type { Database } from '../../src/db/schema.js';
import type { Sort, TaskFilter } from '../../src/modules/tasks/task-fields.js';
import { FEW_DUE, listTasks, positionOf } from '../../src/modules/tasks/tasks.repository.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { userRow } from '../helpers/rows.js';

/**
 * An admin's list filtered by a priority or a tag that many tasks match (more than FEW_DUE), sorted
 * by another key: SQLite, which has no statistics, read every match from the filter's index and
 * sorted them (a third of the table for a priority: 8 s at 1M tasks); it now walks the sort's
 * index and checks the filter row by row. A filter few tasks match is still read from its index.
 */
let database: TestDatabase;
const executed: CompiledQuery[] = [];
let logged: Kysely<Database>;
/** A third of them (one priority) is more than FEW_DUE. */
const TASKS = 3 * FEW_DUE + 3_000;

beforeAll(async () => {
  // The dense fixture's deep pages took over the default 5 s statement timeout once on a loaded CI
  // machine: this file checks the pages' content (the plan tests check the plans), not their time.
  database = await createTestDatabase({ statementTimeoutMs: 30_000 });
  await migrateToLatest(database.handle);
  const db = database.handle.db;
  const at = '2030-01-01T00:00:00.000Z';
  await db.insertInto('users').values(userRow('owner', at)).execute();
  await db
    .insertInto('projects')
    .values({
      id: 'proj',
      name: 'Project',
      description: '',
      owner_id: 'owner',
      personal: 0,
      archived: 0,
      search_text: 'project',
      version: 1,
      created_at: at,
      updated_at: at,
    })
    .execute();
  // One statement (a recursive CTE, on both databases): every third task priority 3, every other
  // one tagged `common`, one in a thousand `rare`; titles out of created order.
  await sql`
    insert into tasks (id, owner_id, project_id, parent_id, assignee_id, title, description, status,
      priority, start_at, due_at, tags, completed_at, version, search_text, created_at, updated_at)
    with recursive n(i) as (select 0 union all select i + 1 from n where i < ${TASKS - 1})
    select 'task-' || (100000 + i), 'owner', 'proj', null, null, 'title ' || (100000 + (i * 7919) % ${TASKS}),
      '', 'todo', (i % 3) + 1, null, null, '[]', null, 1, 'x',
      '2030-01-01T' || (100000 + i), '2030-01-01T' || (100000 + i)
    from n`.execute(db);
  await sql`
    insert into task_tags (task_id, tag)
    select id, 'common' from tasks where (cast(substr(id, 6) as integer) % 2) = 0
    union all
    select id, 'rare' from tasks where (cast(substr(id, 6) as integer) % 1000) = 0`.execute(db);
  // The two tables the list reads, not the whole database: a bare ANALYZE on PostgreSQL reads every
  // schema of the shared test database (every other file's too) and met the 5 s statement timeout in CI.
  if (database.handle.dialect === 'postgres') await sql`analyze tasks, task_tags`.execute(db);
  // Every statement the list sends, compiled as it is sent.
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

/** SQLite's plan of the list's statement (the last one with an ORDER BY). */
async function planOfList(): Promise<string[]> {
  const list = executed.filter((query) => /order by/i.test(query.sql)).at(-1);
  if (!list) throw new Error('no list was read');
  const result = await database.handle.db.executeQuery<{ detail: string }>(
    CompiledQuery.raw(`explain query plan ${list.sql}`, [...list.parameters]),
  );
  return result.rows.map((row) => row.detail);
}

/** Every task the filter matches, sorted in JavaScript: what the pages must add up to. */
async function plainSort(filter: TaskFilter, sort: Sort): Promise<string[]> {
  const db = database.handle.db;
  let query = db.selectFrom('tasks').select(['id', 'created_at', 'title', 'priority']);
  if (filter.priority) query = query.where('priority', 'in', filter.priority);
  if (filter.tag) {
    const tag = filter.tag;
    query = query.where('id', 'in', (eb) =>
      eb.selectFrom('task_tags').select('task_id').where('tag', '=', tag),
    );
  }
  const rows = await query.execute();
  const key = (row: (typeof rows)[number]) => (sort.key === 'title' ? row.title : row.created_at);
  const sign = sort.descending ? -1 : 1;
  rows.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    if (x !== y) return x < y ? -sign : sign;
    return a.id < b.id ? -sign : a.id > b.id ? sign : 0;
  });
  return rows.map((row) => row.id);
}

const ADMIN = { all: true } as const;
const CASES: [string, TaskFilter, Sort][] = [
  ['priority=3, -createdAt', { priority: [3] }, { key: 'createdAt', descending: true }],
  ['priority=1,2, title', { priority: [1, 2] }, { key: 'title', descending: false }],
  ['tag=common, -createdAt', { tag: 'common' }, { key: 'createdAt', descending: true }],
  ['tag=common, -title', { tag: 'common' }, { key: 'title', descending: true }],
];

describe('an admin’s list filtered by a priority or a tag that many tasks match', () => {
  it.each(CASES)(
    '%s: walks the sort’s index (SQLite), no sort of every match',
    async (_name, filter, sort) => {
      executed.length = 0;
      const rows = await listTasks(logged, ADMIN, filter, sort, 21, 0);
      expect(rows.length).toBe(21);
      if (!sqlite()) return; // PostgreSQL's statistics choose by themselves.
      const plan = await planOfList();
      const index = sort.key === 'title' ? 'tasks_title' : 'tasks_created';
      expect(
        plan.some((line) => new RegExp(`^SCAN tasks USING INDEX ${index}\\b`).test(line)),
        plan.join('\n'),
      ).toBe(true);
      expect(
        plan.filter((line) => /^USE TEMP B-TREE FOR ORDER BY/.test(line)),
        plan.join('\n'),
      ).toEqual([]);
    },
  );

  it.each(CASES)(
    '%s: the pages, by position and by offset, are a plain sort of the matches',
    async (_name, filter, sort) => {
      const expected = await plainSort(filter, sort);
      expect(expected.length).toBeGreaterThan(FEW_DUE);
      // The first pages and a deep one, by position.
      const seen: string[] = [];
      let after = null;
      for (let page = 0; page < 5; page += 1) {
        const rows = await listTasks(database.handle.db, ADMIN, filter, sort, 101, 0, after);
        seen.push(...rows.slice(0, 100).map((row) => row.id));
        const last = rows[99];
        if (!last) break;
        after = positionOf(last, sort);
      }
      expect(seen).toEqual(expected.slice(0, 500));
      const deep = await listTasks(database.handle.db, ADMIN, filter, sort, 50, expected.length - 30);
      expect(deep.map((row) => row.id)).toEqual(expected.slice(-30));
    },
  );

  it('a tag few tasks match is read from the tag index (SQLite), the same rows', async () => {
    const sort: Sort = { key: 'createdAt', descending: true };
    executed.length = 0;
    const rows = await listTasks(logged, ADMIN, { tag: 'rare' }, sort, 100, 0);
    expect(rows.map((row) => row.id)).toEqual(await plainSort({ tag: 'rare' }, sort));
    if (!sqlite()) return;
    const plan = await planOfList();
    expect(
      plan.some((line) => /^SEARCH task_tags USING COVERING INDEX task_tags_tag \(tag=\?/.test(line)),
      plan.join('\n'),
    ).toBe(true);
  });
});
