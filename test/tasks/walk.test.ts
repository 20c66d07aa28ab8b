import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompiledQuery, Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/migrator.js';
import type { Database } from '../../src/db/schema.js';
import {
  SORTS,
  type Sort,
  STATUSES,
  type TaskFilter,
  type TaskRow,
} from '../../src/modules/tasks/task-fields.js';
import {
  listTasks,
  MERGE_MAX_PROJECTS,
  type Position,
  positionOf,
  type Visibility,
} from '../../src/modules/tasks/tasks.repository.js';
import {
  createTestDatabase,
  openLoggedConnection,
  type TestDatabase,
  testDatabaseUrl,
} from '../helpers/database.js';
import { userRow } from '../helpers/rows.js';

/**
 * Every page of every sort, walked by position (version 2) and by offset (version 1), against a
 * plain sort of everything the caller may see: a user's list is a merge of one ordered read per
 * member project (and its assigned tasks), an admin's one ordered read; both must give exactly the
 * rows, in exactly the order, that sorting all visible rows gives.
 */

let database: TestDatabase;
/** A second connection to the same database that hands over every statement it executes. */
let logged: Kysely<Database>;
const executed: CompiledQuery[] = [];
const sqliteFile = join(tmpdir(), `taskforge-walk-${randomBytes(6).toString('hex')}.db`);

const PROJECTS = 30;
const TASKS = 2000;
/** user-1 is a member of projects 0–19 (5 archived), not of 20–29, where it has assigned tasks. */
const MEMBER_OF = 20;
const ARCHIVED = 5;
/** user-2 is a member of more unarchived projects than a merge reads one by one (one is archived). */
const MANY = MERGE_MAX_PROJECTS + 2;
const TITLES = ['a', 'B', 'b', 'é', 'z', 'Z', '🙂', 'ab', 'a b', 'É'];

interface World {
  tasks: TaskRow[];
  archived: Set<string>;
  members: Map<string, Set<string>>;
}
const world: World = { tasks: [], archived: new Set(), members: new Map() };

beforeAll(async () => {
  database = await createTestDatabase(testDatabaseUrl ? {} : { sqliteFile });
  await migrateToLatest(database.handle);
  const db = database.handle.db;
  const at = (n: number) => new Date(Date.UTC(2030, 0, 1) + n * 60_000).toISOString();
  const users = ['user-0', 'user-1', 'user-2'];
  await db
    .insertInto('users')
    .values(users.map((id) => userRow(id, at(0))))
    .execute();
  const projectCount = Math.max(PROJECTS, MANY);
  const projects = Array.from({ length: projectCount }, (_, p) => ({
    id: `proj-${String(p).padStart(4, '0')}`,
    name: `Project ${p}`,
    description: '',
    owner_id: 'user-0',
    personal: 0,
    archived: p === ARCHIVED ? 1 : 0,
    search_text: `project ${p}`,
    version: 1,
    created_at: at(p),
    updated_at: at(p),
  }));
  const memberships: { project_id: string; user_id: string; role: 'owner' | 'editor'; added_at: string }[] =
    [];
  for (const [p, project] of projects.entries()) {
    if (project.archived) world.archived.add(project.id);
    const members = new Set(['user-0']);
    if (p < MEMBER_OF) members.add('user-1');
    if (p < MANY) members.add('user-2');
    world.members.set(project.id, members);
    for (const user_id of members) {
      memberships.push({
        project_id: project.id,
        user_id,
        role: user_id === 'user-0' ? 'owner' : 'editor',
        added_at: at(p),
      });
    }
  }
  for (let i = 0; i < projects.length; i += 200)
    await db
      .insertInto('projects')
      .values(projects.slice(i, i + 200))
      .execute();
  for (let i = 0; i < memberships.length; i += 200) {
    await db
      .insertInto('project_members')
      .values(memberships.slice(i, i + 200))
      .execute();
  }
  // Skewed project sizes, many ties on every key (the id decides), nulls in dueAt.
  const tags: { task_id: string; tag: string }[] = [];
  for (let i = 0; i < TASKS; i += 1) {
    const p = Math.floor(PROJECTS * (i / TASKS) ** 2);
    const id = `task-${String((i * 7919) % TASKS).padStart(5, '0')}`;
    const tag = i % 4 === 0 ? 'home' : 'work';
    tags.push({ task_id: id, tag });
    world.tasks.push({
      id,
      owner_id: 'user-0',
      project_id: projects[p]?.id ?? 'missing',
      parent_id: null,
      assignee_id: i % 3 === 0 ? 'user-1' : null,
      title: TITLES[i % TITLES.length] ?? 'a',
      description: '',
      status: STATUSES[i % 3] ?? 'todo',
      priority: (i % 3) + 1,
      start_at: null,
      due_at: i % 5 === 0 ? null : at(i % 97),
      tags: JSON.stringify([tag]),
      completed_at: null,
      version: 1,
      search_text: 'task',
      created_at: at(i % 401),
      updated_at: at(i % 53),
    });
  }
  for (let i = 0; i < world.tasks.length; i += 200) {
    await db
      .insertInto('tasks')
      .values(world.tasks.slice(i, i + 200))
      .execute();
    await db
      .insertInto('task_tags')
      .values(tags.slice(i, i + 200))
      .execute();
  }
  logged = openLoggedConnection(database, sqliteFile, executed);
}, 60_000);

afterAll(async () => {
  await logged?.destroy();
  await database.drop();
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${sqliteFile}${suffix}`, { force: true });
});

/** Code-point order, as a binary collation compares (not JavaScript's UTF-16 units). */
function compareText(a: string, b: string): number {
  const [x, y] = [Array.from(a), Array.from(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
    const d = (x[i]?.codePointAt(0) ?? 0) - (y[i]?.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

const COLUMN = {
  createdAt: 'created_at',
  updatedAt: 'updated_at',
  dueAt: 'due_at',
  priority: 'priority',
  title: 'title',
} as const;

/** The sort's order over every row: key (nulls last both ways), then id, both in the sort's direction. */
function plainSort(rows: TaskRow[], sort: Sort): TaskRow[] {
  const column = COLUMN[sort.key];
  const sign = sort.descending ? -1 : 1;
  return [...rows].sort((a, b) => {
    const [x, y] = [a[column], b[column]];
    if (x === null && y !== null) return 1;
    if (y === null && x !== null) return -1;
    let d = 0;
    if (typeof x === 'number' && typeof y === 'number') d = x - y;
    else if (typeof x === 'string' && typeof y === 'string') d = compareText(x, y);
    return sign * (d !== 0 ? d : compareText(a.id, b.id));
  });
}

/** What the caller may see under the filter, by the contract's rules, without SQL. */
function visible(who: Visibility, filter: TaskFilter): TaskRow[] {
  const named = filter.projectId;
  return world.tasks.filter((t) => {
    if (filter.status && !filter.status.includes(t.status)) return false;
    if (filter.tag && !JSON.parse(t.tags).includes(filter.tag)) return false;
    if (filter.dueAfter && (t.due_at === null || t.due_at < filter.dueAfter)) return false;
    if (filter.priority && !filter.priority.includes(t.priority)) return false;
    if (named ? !named.includes(t.project_id) : world.archived.has(t.project_id)) return false;
    if (who.all) return true;
    return world.members.get(t.project_id)?.has(who.userId) || t.assignee_id === who.userId;
  });
}

const SORT_CASES: [string, Sort][] = SORTS.flatMap((key) => [
  [key, { key, descending: false }] as [string, Sort],
  [`-${key}`, { key, descending: true }] as [string, Sort],
]);
const USER: Visibility = { all: false, userId: 'user-1' };
const CASES: [string, Visibility, TaskFilter][] = [
  ['user-1', USER, {}],
  ['user-1, status and tag', USER, { status: ['todo', 'done'], tag: 'work' }],
  ['user-1, dueAfter', USER, { dueAfter: new Date(Date.UTC(2030, 0, 1, 0, 40)).toISOString() }],
  [
    'user-1, projectId (an archived one, one it is not a member of)',
    USER,
    { projectId: ['proj-0001', 'proj-0005', 'proj-0019', 'proj-0025', 'proj-0029'] },
  ],
  ['user-2 (more projects than a merge reads one by one)', { all: false, userId: 'user-2' }, {}],
  ['an admin', { all: true }, {}],
];
const PAGE = 37;

/** Every page by position, as version 2 walks: the rows, and the statements the walk sent. */
async function walk(
  who: Visibility,
  filter: TaskFilter,
  sort: Sort,
): Promise<{ ids: string[]; sql: string[] }> {
  executed.length = 0;
  const ids: string[] = [];
  let after: Position | null = null;
  for (let page = 0; page < TASKS; page += 1) {
    const rows: TaskRow[] = await listTasks(logged, who, filter, sort, PAGE + 1, 0, after);
    ids.push(...rows.slice(0, PAGE).map((row) => row.id));
    const last = rows[PAGE - 1];
    if (rows.length <= PAGE || !last) return { ids, sql: executed.map((q) => q.sql) };
    after = positionOf(last, sort);
  }
  throw new Error('the walk never ended');
}

describe.each(CASES)(
  '%s: every page of every sort is the plain sort of everything visible',
  (_name, who, filter) => {
    it('the seed makes the case worth walking', () => {
      expect(visible(who, filter).length).toBeGreaterThan(5 * PAGE);
    });

    it.each(SORT_CASES)('sort=%s, by position (version 2) and by offset (version 1)', async (_sort, sort) => {
      const expected = plainSort(visible(who, filter), sort).map((row) => row.id);
      const walked = await walk(who, filter, sort);
      expect(walked.ids).toEqual(expected);
      if (!who.all) {
        // A user's pages are a merge of one branch per member project (with the projectId filter, of
        // those named that it is a member of) and the assigned one, up to MERGE_MAX_PROJECTS projects.
        const projects = [...world.members.entries()].filter(
          ([id, members]) =>
            members.has(who.userId) &&
            (filter.projectId ? filter.projectId.includes(id) : !world.archived.has(id)),
        ).length;
        const branches = projects <= MERGE_MAX_PROJECTS ? projects + 1 : 2;
        // (A due range first counts its matches per project, a union without ORDER BY.)
        const pages = walked.sql.filter((text) => /union all/i.test(text) && /order by/i.test(text));
        expect(pages.length).toBeGreaterThan(0);
        for (const text of pages) expect(text.match(/union all/gi)?.length).toBe(branches - 1);
      }
      const last = Math.floor((expected.length - 1) / PAGE) * PAGE;
      for (const offset of [0, PAGE, Math.floor(expected.length / 2), last, expected.length]) {
        const rows = await listTasks(database.handle.db, who, filter, sort, PAGE, offset);
        expect(rows.map((row) => row.id)).toEqual(expected.slice(offset, offset + PAGE));
      }
    });
  },
);
