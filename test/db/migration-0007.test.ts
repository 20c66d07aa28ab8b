import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../src/db/database.js';
import { appliedMigrations, migrateDown, migrateTo, migrateToLatest } from '../../src/db/migrator.js';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from '../helpers/database.js';

/**
 * Migration 0007 (projects) on data made at 0006: every user gets its Inbox, every task moves into
 * its owner's, the new foreign keys cascade as the design says, and down/up both work. The same
 * steps run on SQLite and on PostgreSQL (TEST_DATABASE_URL).
 */

// biome-ignore lint/suspicious/noExplicitAny: the rows of 0006's and 0007's schemas, not today's types
type AnyDb = Kysely<any>;

const AT = '2030-01-01T00:00:00.000Z';
const LATER = '2030-02-01T00:00:00.000Z';
/** More users than one insert batch of the migration (200) holds. */
const EXTRA_USERS = 205;

let t: TestDatabase;
let db: AnyDb;

const user = (id: string, role: 'user' | 'guest' | 'admin' = 'user') => ({
  id,
  email: `${id}@example.com`,
  name: id,
  role,
  disabled: 0,
  password_hash: 'x',
  search_text: `${id} ${id}@example.com`,
  created_at: AT,
  updated_at: AT,
});

const task = (id: string, owner: string, extra: Record<string, unknown> = {}) => ({
  id,
  owner_id: owner,
  assignee_id: null,
  title: id,
  description: '',
  status: 'todo',
  priority: 2,
  start_at: null,
  due_at: null,
  tags: '[]',
  completed_at: null,
  version: 1,
  search_text: id,
  created_at: AT,
  updated_at: AT,
  ...extra,
});

/** Steps a fresh database to 0006 exactly, as migrations.test.ts's withTasks steps to 0003. */
async function atMigration0006(handle: DatabaseHandle): Promise<void> {
  await migrateToLatest(handle);
  while ((await appliedMigrations(handle)).at(-1) !== '0006-create-api-keys') await migrateDown(handle);
}

async function columns(table: string): Promise<Map<string, { isNullable: boolean }>> {
  const all = await t.handle.db.introspection.getTables();
  const found = all.find((x) => x.name === table && (t.handle.dialect === 'sqlite' || x.schema === t.schema));
  return new Map((found?.columns ?? []).map((c) => [c.name, { isNullable: c.isNullable }]));
}

async function tableNames(): Promise<string[]> {
  const all = await t.handle.db.introspection.getTables();
  return all
    .filter((x) => t.handle.dialect === 'sqlite' || x.schema === t.schema)
    .map((x) => x.name)
    .sort();
}

async function taskIndexes(): Promise<string[]> {
  if (t.handle.dialect === 'sqlite') {
    const { rows } = await sql<{ name: string }>`
      select name from sqlite_master where type = 'index' and tbl_name = 'tasks' and name not like 'sqlite_%'
      order by name`.execute(db);
    return rows.map((r) => r.name).sort();
  }
  const { rows } = await sql<{ indexname: string }>`
    select indexname from pg_indexes where tablename = 'tasks' and schemaname = ${t.schema}
    and indexname not like '%_pkey' order by indexname`.execute(db);
  return rows.map((r) => r.indexname).sort();
}

async function personalProjects(): Promise<Map<string, string>> {
  const rows = await db.selectFrom('projects').selectAll().execute();
  const byOwner = new Map<string, string>();
  for (const row of rows) {
    expect(row).toMatchObject({ name: 'Inbox', personal: 1, archived: 0, description: '' });
    expect(byOwner.has(row.owner_id), `two projects for ${row.owner_id}`).toBe(false);
    byOwner.set(row.owner_id, row.id);
  }
  return byOwner;
}

async function tasksById(): Promise<Map<string, Record<string, unknown>>> {
  const rows = await db.selectFrom('tasks').selectAll().execute();
  return new Map(rows.map((r: Record<string, unknown>) => [r.id as string, r]));
}

async function tagsOf(taskId: string): Promise<string[]> {
  const rows = await db.selectFrom('task_tags').select('tag').where('task_id', '=', taskId).execute();
  return rows.map((r: { tag: string }) => r.tag).sort();
}

async function count(table: string, where?: [string, unknown]): Promise<number> {
  let query = db.selectFrom(table).select(sql<string>`count(*)`.as('n'));
  if (where) query = query.where(where[0], '=', where[1]);
  const row = await query.executeTakeFirstOrThrow();
  return Number(row.n);
}

const USERS = ['alice', 'bob', 'gus', 'carol'];

beforeAll(async () => {
  t = await createTestDatabase();
  db = t.handle.db as unknown as AnyDb;
  await atMigration0006(t.handle);
  await db
    .insertInto('users')
    .values([
      user('alice'),
      user('bob'),
      user('gus', 'guest'),
      user('carol', 'admin'),
      ...Array.from({ length: EXTRA_USERS }, (_, i) => user(`extra${String(i).padStart(3, '0')}`)),
    ])
    .execute();
  await db
    .insertInto('tasks')
    .values([
      task('a1', 'alice', { assignee_id: 'bob', tags: '["home","work"]', version: 4, updated_at: LATER }),
      task('a2', 'alice', { status: 'done', completed_at: LATER, tags: '["home"]', version: 2 }),
      task('b1', 'bob', { assignee_id: 'gus', tags: '["errand"]' }),
      task('g1', 'gus', { assignee_id: 'alice' }),
    ])
    .execute();
  await db
    .insertInto('task_tags')
    .values([
      { task_id: 'a1', tag: 'home' },
      { task_id: 'a1', tag: 'work' },
      { task_id: 'a2', tag: 'home' },
      { task_id: 'b1', tag: 'errand' },
    ])
    .execute();
});
afterAll(async () => t?.drop());

describe(`migration 0007 on data of 0006 (${testDatabaseUrl ? 'postgres' : 'sqlite'})`, () => {
  const indexesAt0006: string[] = [];

  it('up: every user has exactly one personal Inbox, of which it is the one (owner) member', async () => {
    indexesAt0006.push(...(await taskIndexes()));
    expect(indexesAt0006).toContain('tasks_owner_created');
    await migrateTo(t.handle, '0007-create-projects');
    expect((await appliedMigrations(t.handle)).at(-1)).toBe('0007-create-projects');

    const personal = await personalProjects();
    const everyone = [
      ...USERS,
      ...Array.from({ length: EXTRA_USERS }, (_, i) => `extra${String(i).padStart(3, '0')}`),
    ];
    expect([...personal.keys()].sort()).toEqual(everyone.sort());
    const members = await db.selectFrom('project_members').selectAll().execute();
    expect(members).toHaveLength(everyone.length);
    for (const m of members) {
      expect(personal.get(m.user_id), m.user_id).toBe(m.project_id);
      expect(m.role).toBe('owner');
    }
    // The guest's membership is stored as owner; its effective role is capped at read time.
    expect(members.find((m) => m.user_id === 'gus')?.role).toBe('owner');
  });

  it("up: every task is in its owner's personal project and keeps assignee, tags, version and times", async () => {
    const personal = await personalProjects();
    const tasks = await tasksById();
    expect([...tasks.keys()].sort()).toEqual(['a1', 'a2', 'b1', 'g1']);
    expect(tasks.get('a1')).toMatchObject({
      project_id: personal.get('alice'),
      parent_id: null,
      owner_id: 'alice',
      assignee_id: 'bob',
      tags: '["home","work"]',
      version: 4,
      updated_at: LATER,
      created_at: AT,
    });
    expect(tasks.get('a2')).toMatchObject({
      project_id: personal.get('alice'),
      status: 'done',
      completed_at: LATER,
      version: 2,
    });
    expect(tasks.get('b1')).toMatchObject({ project_id: personal.get('bob'), assignee_id: 'gus' });
    expect(tasks.get('g1')).toMatchObject({ project_id: personal.get('gus'), assignee_id: 'alice' });
    expect(await tagsOf('a1')).toEqual(['home', 'work']);
    expect(await tagsOf('a2')).toEqual(['home']);
    expect(await tagsOf('b1')).toEqual(['errand']);

    const cols = await columns('tasks');
    expect(cols.get('owner_id')?.isNullable).toBe(true);
    expect(cols.get('project_id')?.isNullable).toBe(false);
    expect(cols.get('parent_id')?.isNullable).toBe(true);
    // SQLite rebuilt the table: the indexes of 0003 are back, with the two of 0007.
    const indexes = await taskIndexes();
    expect(indexes).toEqual([...indexesAt0006, 'tasks_project_created', 'tasks_parent_created'].sort());
  });

  it('up: project_id is required and must name a project; a second personal project per user is refused', async () => {
    await expect(db.insertInto('tasks').values(task('x1', 'alice')).execute()).rejects.toThrow();
    await expect(
      db
        .insertInto('tasks')
        .values(task('x2', 'alice', { project_id: 'no-such-project' }))
        .execute(),
    ).rejects.toThrow();
    await expect(
      db
        .insertInto('projects')
        .values({
          id: 'second-inbox',
          name: 'Inbox',
          description: '',
          owner_id: 'alice',
          personal: 1,
          archived: 0,
          search_text: 'inbox',
          version: 1,
          created_at: AT,
          updated_at: AT,
        })
        .execute(),
    ).rejects.toThrow();
    expect(await count('tasks')).toBe(4);
  });

  it('foreign keys: deleting a task deletes its subtasks (all levels), their tags and comments', async () => {
    const alice = (await personalProjects()).get('alice');
    await db
      .insertInto('tasks')
      .values([
        task('p1', 'alice', { project_id: alice }),
        task('p1c', 'alice', { project_id: alice, parent_id: 'p1', tags: '["deep"]' }),
        task('p1cc', 'alice', { project_id: alice, parent_id: 'p1c' }),
      ])
      .execute();
    await db.insertInto('task_tags').values({ task_id: 'p1c', tag: 'deep' }).execute();
    await db
      .insertInto('comments')
      .values({
        id: 'cp1cc',
        task_id: 'p1cc',
        author_id: 'alice',
        body: 'x',
        edited: 0,
        created_at: AT,
        updated_at: AT,
      })
      .execute();
    await db.deleteFrom('tasks').where('id', '=', 'p1').execute();
    const tasks = await tasksById();
    expect(['p1', 'p1c', 'p1cc'].filter((id) => tasks.has(id))).toEqual([]);
    expect(await count('task_tags', ['task_id', 'p1c'])).toBe(0);
    expect(await count('comments', ['id', 'cp1cc'])).toBe(0);
    expect(tasks.has('a1')).toBe(true);
  });

  it("foreign keys: deleting a user nulls its tasks' owner_id and its comments' author_id; its memberships go", async () => {
    await db
      .insertInto('projects')
      .values({
        id: 'shared',
        name: 'Shared',
        description: '',
        owner_id: 'alice',
        personal: 0,
        archived: 0,
        search_text: 'shared',
        version: 1,
        created_at: AT,
        updated_at: AT,
      })
      .execute();
    await db
      .insertInto('project_members')
      .values([
        { project_id: 'shared', user_id: 'alice', role: 'owner', added_at: AT },
        { project_id: 'shared', user_id: 'bob', role: 'editor', added_at: AT },
      ])
      .execute();
    await db
      .insertInto('tasks')
      .values([
        task('s1', 'bob', { project_id: 'shared', assignee_id: 'bob', tags: '["team"]' }),
        task('s2', 'alice', { project_id: 'shared' }),
      ])
      .execute();
    await db.insertInto('task_tags').values({ task_id: 's1', tag: 'team' }).execute();
    await db
      .insertInto('comments')
      .values([
        {
          id: 'c1',
          task_id: 's1',
          author_id: 'bob',
          body: 'by bob',
          edited: 0,
          created_at: AT,
          updated_at: AT,
        },
        {
          id: 'c2',
          task_id: 's2',
          author_id: 'alice',
          body: 'by alice',
          edited: 0,
          created_at: AT,
          updated_at: AT,
        },
        {
          id: 'c3',
          task_id: 'a1',
          author_id: 'bob',
          body: 'on a1',
          edited: 0,
          created_at: AT,
          updated_at: AT,
        },
      ])
      .execute();

    // The raw foreign keys alone (the service also removes the personal project; see test/roles).
    await db.deleteFrom('users').where('id', '=', 'bob').execute();
    const tasks = await tasksById();
    expect(tasks.get('s1')).toMatchObject({ owner_id: null, assignee_id: null, project_id: 'shared' });
    expect(tasks.get('b1')).toMatchObject({ owner_id: null });
    expect(tasks.get('a1')).toMatchObject({ owner_id: 'alice', assignee_id: null });
    const comments = await db.selectFrom('comments').selectAll().orderBy('id').execute();
    expect(comments.map((c) => [c.id, c.author_id])).toEqual([
      ['c1', null],
      ['c2', 'alice'],
      ['c3', null],
    ]);
    expect(await count('project_members', ['user_id', 'bob'])).toBe(0);
    expect(await count('project_members', ['project_id', 'shared'])).toBe(1);
    expect(await tagsOf('s1')).toEqual(['team']);
  });

  it('foreign keys: deleting a project deletes its tasks, their tags and comments, and its memberships', async () => {
    await db.deleteFrom('projects').where('id', '=', 'shared').execute();
    const tasks = await tasksById();
    expect(tasks.has('s1')).toBe(false);
    expect(tasks.has('s2')).toBe(false);
    expect(await count('task_tags', ['task_id', 's1'])).toBe(0);
    expect(await count('comments', ['task_id', 's1'])).toBe(0);
    expect(await count('comments', ['task_id', 's2'])).toBe(0);
    expect(await count('project_members', ['project_id', 'shared'])).toBe(0);
    // Others' rows stay.
    expect(await count('comments', ['id', 'c3'])).toBe(1);
    expect(await tagsOf('a1')).toEqual(['home', 'work']);
  });

  it('down: tasks no user owns go, the others and their tags stay, the new tables go', async () => {
    const before = await tasksById();
    expect(before.get('b1')).toMatchObject({ owner_id: null });
    expect(await migrateDown(t.handle)).toEqual(['0007-create-projects']);
    expect(await appliedMigrations(t.handle)).not.toContain('0007-create-projects');

    const names = await tableNames();
    for (const gone of ['projects', 'project_members', 'comments']) expect(names).not.toContain(gone);
    const tasks = await tasksById();
    expect([...tasks.keys()].sort()).toEqual(['a1', 'a2', 'g1']);
    expect(tasks.get('a1')).toMatchObject({ owner_id: 'alice', version: 4, tags: '["home","work"]' });
    expect(await tagsOf('a1')).toEqual(['home', 'work']);
    expect(await tagsOf('a2')).toEqual(['home']);
    expect(await count('task_tags', ['task_id', 'b1'])).toBe(0);

    const cols = await columns('tasks');
    expect(cols.has('project_id')).toBe(false);
    expect(cols.has('parent_id')).toBe(false);
    expect(cols.get('owner_id')?.isNullable).toBe(false);
    expect(await taskIndexes()).toEqual(indexesAt0006);
    // 0003's owner foreign key again: deleting a user deletes its tasks (and their tags).
    await db.deleteFrom('users').where('id', '=', 'gus').execute();
    expect((await tasksById()).has('g1')).toBe(false);
    await expect(
      db
        .insertInto('tasks')
        .values(task('nobody', null as unknown as string))
        .execute(),
    ).rejects.toThrow();
  });

  it('up again: the remaining users get their Inbox back and the tasks move in', async () => {
    expect(await migrateTo(t.handle, '0007-create-projects')).toEqual(['0007-create-projects']);
    const personal = await personalProjects();
    expect(personal.has('bob')).toBe(false);
    expect(personal.has('gus')).toBe(false);
    expect(personal.size).toBe(USERS.length - 2 + EXTRA_USERS);
    const tasks = await tasksById();
    expect(tasks.get('a1')).toMatchObject({ project_id: personal.get('alice'), version: 4, parent_id: null });
    expect(tasks.get('a2')).toMatchObject({ project_id: personal.get('alice') });
    expect(await tagsOf('a1')).toEqual(['home', 'work']);
    expect(await count('comments')).toBe(0);
    expect((await columns('tasks')).get('owner_id')?.isNullable).toBe(true);
  });
});
