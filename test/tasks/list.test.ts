import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type NewTaskRow,
  PRIORITIES,
  type Priority,
  SORTS,
  STATUSES,
  type Status,
} from '../../src/modules/tasks/task-fields.js';
import { insertTask } from '../../src/modules/tasks/tasks.repository.js';
import type { Task } from '../../src/modules/tasks/tasks.schemas.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, signedIn } from '../helpers/factories.js';
import { compareCodePoints } from '../helpers/order.js';

type Headers = Record<string, string>;

interface TaskPage {
  items: Task[];
  total: number;
  page: number;
  size: number;
  pages: number;
}

interface Problem {
  status: number;
  code: string;
  errors?: { pointer: string; code: string }[];
}

/** Each describe block gets a database of its own, so the admin's "everything" is known exactly. */
function freshApp(): () => TestApp {
  let t: TestApp | undefined;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(async () => t?.close());
  return () => {
    if (!t) throw new Error('the app is not built yet');
    return t;
  };
}

function list(t: TestApp, headers: Headers, query = '') {
  return t.app.inject({ method: 'GET', url: `/api/v1/tasks${query}`, headers });
}

async function listOk(t: TestApp, headers: Headers, query = ''): Promise<TaskPage> {
  const res = await list(t, headers, query);
  expect(res.statusCode, `${query}: ${res.body}`).toBe(200);
  return res.json() as TaskPage;
}

async function idsOf(t: TestApp, headers: Headers, query: string): Promise<string[]> {
  const page = await listOk(t, headers, `${query}${query.includes('?') ? '&' : '?'}size=100`);
  expect(page.total).toBe(page.items.length);
  return page.items.map((task) => task.id);
}

/** The [pointer, code] pairs of a 422, after checking it is one. */
async function invalid(t: TestApp, headers: Headers, query: string): Promise<string[][]> {
  const res = await list(t, headers, query);
  expect(res.statusCode, `${query}: ${res.body}`).toBe(422);
  const problem = res.json() as Problem;
  expect(problem.code).toBe('validation_failed');
  return (problem.errors ?? []).map((e) => [e.pointer, e.code]);
}

/**
 * Walks every page of a list and checks the page arithmetic on the way, including the empty page
 * just past the end. Returns the ids in the order the pages gave them.
 */
async function walk(t: TestApp, headers: Headers, query: string, size: number): Promise<string[]> {
  const ids: string[] = [];
  let total: number | undefined;
  for (let page = 1; ; page += 1) {
    const body = await listOk(t, headers, `?${query}${query ? '&' : ''}size=${size}&page=${page}`);
    total ??= body.total;
    expect(body).toMatchObject({ total, page, size, pages: Math.ceil(total / size) });
    if (body.items.length === 0) {
      expect(page).toBe(body.pages + 1);
      break;
    }
    expect(body.items).toHaveLength(page < body.pages ? size : total - size * (body.pages - 1));
    ids.push(...body.items.map((task) => task.id));
  }
  expect(ids).toHaveLength(total ?? 0);
  return ids;
}

// --- the order the contract asks for, computed here independently of SQL -----------------------

type Sortable = Pick<Task, 'id' | 'title' | 'priority' | 'dueAt' | 'createdAt' | 'updatedAt'>;

const RANK: Record<Priority, number> = { low: 1, medium: 2, high: 3 };
const SORT_PARAMS = SORTS.flatMap((key) => [key, `-${key}`]);

/** A key's value in the model; a field the seed does not set is null, as the API shows it. */
function keyValue(task: Sortable, key: string): unknown {
  return (task as unknown as Record<string, unknown>)[key] ?? null;
}

function compareKey(key: string, a: Sortable, b: Sortable): number {
  switch (key) {
    case 'title':
      return compareCodePoints(a.title, b.title);
    case 'priority':
      return RANK[a.priority] - RANK[b.priority];
    case 'dueAt':
      return Date.parse(a.dueAt ?? '') - Date.parse(b.dueAt ?? '');
    case 'createdAt':
      return Date.parse(a.createdAt) - Date.parse(b.createdAt);
    case 'updatedAt':
      return Date.parse(a.updatedAt) - Date.parse(b.updatedAt);
    default: {
      // A key added to the table after these: numbers numerically, text by code point.
      const [x, y] = [keyValue(a, key), keyValue(b, key)];
      if (typeof x === 'number' && typeof y === 'number') return x - y;
      if (typeof x === 'string' && typeof y === 'string') return compareCodePoints(x, y);
      throw new Error(`sort key ${key}: no comparison for ${typeof x}`);
    }
  }
}

function expectedOrder(tasks: readonly Sortable[], sort: string): string[] {
  const descending = sort.startsWith('-');
  const key = descending ? sort.slice(1) : sort;
  return [...tasks]
    .sort((a, b) => {
      // Without the key (no dueAt, say) a task comes last whatever the direction, so this is not flipped.
      const [aNull, bNull] = [keyValue(a, key) === null, keyValue(b, key) === null];
      if (aNull !== bNull) return aNull ? 1 : -1;
      const byKey = aNull ? 0 : compareKey(key, a, b);
      return (byKey !== 0 ? byKey : compareCodePoints(a.id, b.id)) * (descending ? -1 : 1);
    })
    .map((task) => task.id);
}

// --- rows written straight through the repository: many tasks, exact timestamps, chosen ids ------

/** Mixed case and `-`: binary order differs from any locale's order for such ids. */
const ID_CHARS = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function randomId(): string {
  return Array.from(randomBytes(20), (byte) => ID_CHARS[byte % ID_CHARS.length]).join('');
}

interface Seed {
  id?: string;
  ownerId: string;
  assigneeId?: string | null;
  title: string;
  priority?: Priority;
  status?: Status;
  dueAt?: string | null;
  createdAt: string;
  updatedAt?: string;
}

type Seeded = Sortable & Pick<Task, 'ownerId' | 'assigneeId' | 'status'>;

async function seed(t: TestApp, s: Seed): Promise<Seeded> {
  const task: Seeded = {
    id: s.id ?? randomId(),
    ownerId: s.ownerId,
    assigneeId: s.assigneeId ?? null,
    title: s.title,
    priority: s.priority ?? 'medium',
    status: s.status ?? 'todo',
    dueAt: s.dueAt ?? null,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt ?? s.createdAt,
  };
  const project = await t.db.handle.db
    .selectFrom('projects')
    .select('id')
    .where('owner_id', '=', task.ownerId)
    .where('personal', '=', 1)
    .executeTakeFirstOrThrow();
  const row: NewTaskRow = {
    id: task.id,
    owner_id: task.ownerId,
    project_id: project.id,
    parent_id: null,
    assignee_id: task.assigneeId,
    title: task.title,
    description: '',
    status: task.status,
    priority: RANK[task.priority],
    start_at: null,
    due_at: task.dueAt,
    tags: '[]',
    completed_at: task.status === 'done' ? task.updatedAt : null,
    version: 1,
    search_text: task.title.toLowerCase(),
    created_at: task.createdAt,
    updated_at: task.updatedAt,
  };
  await insertTask(t.db.handle.db, row);
  return task;
}

/**
 * Titles where code-point order and JavaScript's default order disagree: U+E000–U+FFFF sort before
 * anything above U+FFFF by code point, after it by UTF-16 unit. Plus case, accents, equal titles.
 */
const TITLES = [
  'apple',
  'Apple',
  'APPLE',
  'äpfel',
  'Äpfel',
  'zebra',
  'Zebra',
  '😀 grin',
  '\uFF21 fullwidth A',
  '\uE000 private use',
  '𝒜 script A',
  '漢字',
  'a',
  'ab',
  'a b',
  '10',
  '9',
  'apple',
  'same',
  'same',
  'same',
  'ﬁ ligature',
  'Ω',
  'ω',
  'émile',
  'e\u0301mile',
  'ß',
  'SS',
  '~tilde',
  '\u{10000} linear B',
];

const CREATED = [
  '2030-01-01T00:00:00.000Z',
  '2030-01-01T00:00:00.001Z',
  '2030-01-01T00:00:01.000Z',
  '2031-06-15T12:30:00.000Z',
  '2029-12-31T23:59:59.999Z',
];
const UPDATED = ['2032-01-01T00:00:00.000Z', '2032-01-01T00:00:00.001Z', '2031-12-31T23:59:59.999Z'];
const DUE = ['2035-03-01T00:00:00.000Z', '2035-03-01T00:00:00.001Z', '2001-01-01T00:00:00.000Z', null];

describe('sorts, against a sort computed in the test', () => {
  const app = freshApp();
  let u: Awaited<ReturnType<typeof signedIn>>;
  let v: Awaited<ReturnType<typeof signedIn>>;
  let admin: Awaited<ReturnType<typeof signedIn>>;
  const fixture: Seeded[] = [];

  beforeAll(async () => {
    const t = app();
    u = await signedIn(t.app);
    v = await signedIn(t.app);
    admin = await signedIn(t.app, 'admin');
    const w = await createUser(t.app);
    for (const [i, title] of TITLES.entries()) {
      // Owners U, U, U, V, W in turn; some tasks of V and W are assigned to U, some of U to itself.
      const owner = [u.user.id, u.user.id, u.user.id, v.user.id, w.id][i % 5] ?? u.user.id;
      let assignee: string | null = null;
      if (owner === u.user.id) assignee = i % 7 === 0 ? u.user.id : i % 7 === 1 ? v.user.id : null;
      if (owner === v.user.id) assignee = i % 2 === 0 ? u.user.id : null;
      if (owner === w.id) assignee = i % 3 === 0 ? u.user.id : i % 3 === 1 ? v.user.id : null;
      fixture.push(
        await seed(t, {
          ownerId: owner,
          assigneeId: assignee,
          title,
          priority: PRIORITIES[i % 3],
          status: STATUSES[Math.floor(i / 2) % 3],
          dueAt: DUE[i % DUE.length] ?? null,
          createdAt: CREATED[(i * 7) % CREATED.length] ?? '',
          updatedAt: UPDATED[(i * 11) % UPDATED.length] ?? '',
        }),
      );
    }
  });

  const visibleTo = (userId: string) =>
    fixture.filter((task) => task.ownerId === userId || task.assigneeId === userId);

  it('the fixture exercises what it should: code points ≠ UTF-16 order, ties on every key, both kinds', () => {
    const byCodePoint = [...TITLES].sort(compareCodePoints);
    expect(byCodePoint).not.toEqual([...TITLES].sort());
    expect(byCodePoint.indexOf('\uE000 private use')).toBeLessThan(byCodePoint.indexOf('𝒜 script A'));
    expect(byCodePoint.indexOf('\uFF21 fullwidth A')).toBeLessThan(byCodePoint.indexOf('😀 grin'));
    const mine = visibleTo(u.user.id);
    for (const key of SORTS) {
      const keys = mine.map((task) => String(keyValue(task, key)));
      expect(new Set(keys).size, key).toBeLessThan(keys.length);
    }
    expect(mine.filter((task) => task.ownerId !== u.user.id).length).toBeGreaterThanOrEqual(4);
    expect(mine.some((task) => task.ownerId === u.user.id && task.assigneeId === u.user.id)).toBe(true);
  });

  it.each(SORT_PARAMS)('sort=%s: every page of every view in the expected order', async (sort) => {
    const t = app();
    const views: [string, Headers, string, Seeded[]][] = [
      ['user: owned ∪ assigned', u.headers, '', visibleTo(u.user.id)],
      ['another user', v.headers, '', visibleTo(v.user.id)],
      [
        'user filtering by ownerId',
        u.headers,
        `ownerId=${v.user.id}`,
        visibleTo(u.user.id).filter((x) => x.ownerId === v.user.id),
      ],
      ['admin: all', admin.headers, '', fixture],
      [
        'admin filtering by ownerId',
        admin.headers,
        `ownerId=${u.user.id}`,
        fixture.filter((x) => x.ownerId === u.user.id),
      ],
    ];
    for (const [name, headers, filter, expected] of views) {
      const query = `${filter}${filter ? '&' : ''}sort=${encodeURIComponent(sort)}`;
      for (const size of [7, 100]) {
        expect(await walk(t, headers, query, size), `${name}, size ${size}`).toEqual(
          expectedOrder(expected, sort),
        );
      }
    }
  });

  it('owned and assigned tasks interleave across pages of the merged list', () => {
    const mine = visibleTo(u.user.id);
    const assigned = new Set(mine.filter((task) => task.ownerId !== u.user.id).map((task) => task.id));
    for (const sort of SORT_PARAMS) {
      const pagesWithAssigned = new Set(
        expectedOrder(mine, sort).flatMap((id, i) => (assigned.has(id) ? [Math.floor(i / 7)] : [])),
      );
      expect(pagesWithAssigned.size, sort).toBeGreaterThanOrEqual(2);
    }
  });

  it('defaults to -createdAt, and a task both owned and assigned to oneself is listed once', async () => {
    const t = app();
    const page = await listOk(t, u.headers, '?size=100');
    expect(page.items.map((task) => task.id)).toEqual(expectedOrder(visibleTo(u.user.id), '-createdAt'));
    expect(new Set(page.items.map((task) => task.id)).size).toBe(page.items.length);
    expect(page.total).toBe(visibleTo(u.user.id).length);
  });

  it('a sort outside the list → 422 on /query/sort', async () => {
    const t = app();
    for (const sort of ['id', '+title', '--title', 'Title', 'title,-dueAt', '']) {
      expect(await invalid(t, u.headers, `?sort=${encodeURIComponent(sort)}`), sort).toContainEqual([
        '/query/sort',
        'enum',
      ]);
    }
  });
});

describe('sorts and pages over random data (property)', () => {
  const app = freshApp();
  const TITLE_CHARS = ['a', 'A', 'b', 'ä', 'Ä', '😀', '\uFF21', '\uE000', '𝒜', '0', '_', '%'];
  const TIMES = ['2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00.001Z', '2031-01-01T00:00:00.000Z'];

  it('the owner ∪ assignee merge and the admin list equal the sort done here, page by page', async () => {
    const t = app();
    const u = await signedIn(t.app);
    const admin = await signedIn(t.app, 'admin');
    const others = [(await createUser(t.app)).id, (await createUser(t.app)).id];
    const people = [u.user.id, ...others];
    const taskArb = fc.record({
      id: fc.string({ unit: fc.constantFrom(...ID_CHARS), minLength: 6, maxLength: 6 }),
      owner: fc.nat(2),
      assignee: fc.option(fc.nat(2), { nil: null }),
      title: fc.string({ unit: fc.constantFrom(...TITLE_CHARS), minLength: 1, maxLength: 3 }),
      priority: fc.constantFrom(...PRIORITIES),
      dueAt: fc.option(fc.constantFrom(...TIMES), { nil: null }),
      createdAt: fc.constantFrom(...TIMES),
      updatedAt: fc.constantFrom(...TIMES),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(taskArb, { selector: (x) => x.id, maxLength: 20 }),
        fc.constantFrom(...SORT_PARAMS),
        fc.integer({ min: 1, max: 6 }),
        async (specs, sort, size) => {
          await t.db.handle.db.deleteFrom('tasks').execute();
          const tasks: Seeded[] = [];
          for (const s of specs) {
            tasks.push(
              await seed(t, {
                id: s.id,
                ownerId: people[s.owner] ?? u.user.id,
                assigneeId: s.assignee === null ? null : (people[s.assignee] ?? null),
                title: s.title,
                priority: s.priority,
                dueAt: s.dueAt,
                createdAt: s.createdAt,
                updatedAt: s.updatedAt,
              }),
            );
          }
          const mine = tasks.filter((x) => x.ownerId === u.user.id || x.assigneeId === u.user.id);
          const query = `sort=${encodeURIComponent(sort)}`;
          expect(await walk(t, u.headers, query, size)).toEqual(expectedOrder(mine, sort));
          expect(await walk(t, admin.headers, query, size)).toEqual(expectedOrder(tasks, sort));
        },
      ),
      { numRuns: 20 },
    );
  });
});

describe('filters', () => {
  const app = freshApp();
  let f: Awaited<ReturnType<typeof signedIn>>;
  let g: Awaited<ReturnType<typeof signedIn>>;
  const made: Record<string, Task> = {};

  const create = async (headers: Headers, body: object): Promise<Task> => {
    const res = await app().app.inject({ method: 'POST', url: '/api/v1/tasks', headers, payload: body });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as Task;
  };

  beforeAll(async () => {
    f = await signedIn(app().app);
    g = await signedIn(app().app);
    const fh = f.headers;
    made.apples = await create(fh, {
      title: 'Buy äpfel',
      description: 'from the market',
      priority: 'high',
      tags: ['home', 'food'],
      dueAt: '2031-01-01T00:00:00.000Z',
      assigneeId: g.user.id,
    });
    made.call = await create(fh, {
      title: 'Call Bob',
      description: 'about ÄPFEL prices',
      status: 'in_progress',
      priority: 'low',
      tags: ['Work'],
      dueAt: '2031-01-02T01:00:00+01:00',
    });
    made.percent = await create(fh, { title: '100% done', status: 'done', tags: ['HOME'] });
    made.snake = await create(fh, {
      title: 'snake_case rename',
      priority: 'low',
      dueAt: '2031-01-01T00:00:00.001Z',
    });
    made.slash = await create(fh, {
      title: 'plain',
      description: 'back\\slash',
      status: 'done',
      priority: 'high',
      tags: ['work', 'home'],
      dueAt: '2030-12-31T23:59:59.999Z',
    });
    made.mixed = await create(fh, { title: 'Mixed CASE Title', status: 'in_progress', tags: ['homework'] });
    // G's: one assigned to F (visible to F), one not (never visible to F, though it matches filters).
    made.fromG = await create(g.headers, {
      title: 'äpfel for F',
      priority: 'high',
      tags: ['home'],
      dueAt: '2031-01-01T12:00:00.000Z',
      assigneeId: f.user.id,
    });
    made.hidden = await create(g.headers, {
      title: 'hidden äpfel 100% snake_case',
      priority: 'high',
      tags: ['home'],
      dueAt: '2031-01-01T12:00:00.000Z',
    });
  });

  const ids = (...names: string[]) => names.map((name) => made[name]?.id).sort();
  const found = async (query: string) => (await idsOf(app(), f.headers, query)).sort();

  it('status: a comma list and repeated parameters are the same filter', async () => {
    expect(await found('?status=todo')).toEqual(ids('apples', 'snake', 'fromG'));
    expect(await found('?status=done,in_progress')).toEqual(ids('call', 'percent', 'slash', 'mixed'));
    expect(await found('?status=done&status=in_progress')).toEqual(ids('call', 'percent', 'slash', 'mixed'));
    expect(await found('?status=done,todo&status=done')).toEqual(
      ids('apples', 'snake', 'fromG', 'percent', 'slash'),
    );
    expect(await found('?status=todo,in_progress,done')).toHaveLength(7);
  });

  it('priority: a comma list and repeated parameters are the same filter', async () => {
    expect(await found('?priority=high')).toEqual(ids('apples', 'slash', 'fromG'));
    expect(await found('?priority=low,medium')).toEqual(ids('call', 'percent', 'snake', 'mixed'));
    expect(await found('?priority=low&priority=medium')).toEqual(ids('call', 'percent', 'snake', 'mixed'));
  });

  it('status and priority: unknown values → 422 on the parameter', async () => {
    const t = app();
    for (const query of [
      '?status=bogus',
      '?status=todo,bogus',
      '?status=todo&status=Todo',
      '?status=',
      '?status=todo,',
      '?priority=urgent',
      '?priority=high,',
      '?priority=HIGH',
    ]) {
      const errors = await invalid(t, f.headers, query);
      expect(errors.length, query).toBeGreaterThan(0);
      for (const [pointer] of errors) expect(pointer, query).toMatch(/^\/query\/(status|priority)(\/\d+)?$/);
    }
  });

  it('tag: one tag, matched whole and case-insensitively (tags are stored lower-cased)', async () => {
    expect(await found('?tag=home')).toEqual(ids('apples', 'percent', 'slash', 'fromG'));
    expect(await found('?tag=HOME')).toEqual(ids('apples', 'percent', 'slash', 'fromG'));
    expect(await found('?tag=Work')).toEqual(ids('call', 'slash'));
    expect(await found('?tag=hom')).toEqual([]);
    expect(await found('?tag=homework')).toEqual(ids('mixed'));
    expect(await invalid(app(), f.headers, '?tag=home,work')).toContainEqual(['/query/tag', 'pattern']);
    expect(await invalid(app(), f.headers, '?tag=a%20b')).toContainEqual(['/query/tag', 'pattern']);
  });

  it('assigneeId and ownerId, within what the caller sees', async () => {
    expect(await found(`?assigneeId=${g.user.id}`)).toEqual(ids('apples'));
    expect(await found(`?assigneeId=${f.user.id}`)).toEqual(ids('fromG'));
    expect(await found(`?ownerId=${g.user.id}`)).toEqual(ids('fromG'));
    expect(await found('?assigneeId=nobody')).toEqual([]);
    expect(await found(`?ownerId=${f.user.id}&assigneeId=${f.user.id}`)).toEqual([]);
  });

  it('dueAfter ≤ dueAt < dueBefore: the lower bound is in, the upper bound is out, undated never match', async () => {
    const after = '2031-01-01T00:00:00.000Z';
    const before = '2031-01-02T00:00:00.000Z';
    expect(await found(`?dueAfter=${after}&dueBefore=${before}`)).toEqual(ids('apples', 'snake', 'fromG'));
    expect(await found(`?dueAfter=${after}`)).toEqual(ids('apples', 'snake', 'fromG', 'call'));
    expect(await found(`?dueBefore=${before}`)).toEqual(ids('apples', 'snake', 'fromG', 'slash'));
    expect(await found(`?dueBefore=${after}`)).toEqual(ids('slash'));
    // The same instants in other offsets, and fractions past milliseconds truncated.
    const plus = encodeURIComponent('2031-01-01T01:00:00+01:00');
    expect(await found(`?dueAfter=${plus}`)).toEqual(ids('apples', 'snake', 'fromG', 'call'));
    expect(await found('?dueAfter=2031-01-01T00:00:00.0009Z')).toEqual(
      ids('apples', 'snake', 'fromG', 'call'),
    );
    expect(await found('?dueAfter=2031-01-01T00:00:00.001Z')).toEqual(ids('snake', 'fromG', 'call'));
    expect(await found('?dueBefore=2031-01-01T00:00:00.0019Z')).toEqual(ids('apples', 'slash'));
    expect(await found('?dueAfter=2030-12-31T23:59:59.999Z&dueBefore=2031-01-01T00:00:00.001Z')).toEqual(
      ids('apples', 'slash'),
    );
  });

  it('dueAfter ≥ dueBefore → 422 invalid_range on /query/dueBefore (also the same instant in two offsets)', async () => {
    const t = app();
    for (const [after, before] of [
      ['2031-01-01T00:00:00.000Z', '2031-01-01T00:00:00.000Z'],
      ['2031-01-02T00:00:00Z', '2031-01-01T00:00:00Z'],
      ['2031-01-01T01:00:00+01:00', '2031-01-01T00:00:00Z'],
      ['2031-01-01T00:00:00.0001Z', '2031-01-01T00:00:00.0009Z'],
    ] as const) {
      const query = `?dueAfter=${encodeURIComponent(after)}&dueBefore=${encodeURIComponent(before)}`;
      expect(await invalid(t, f.headers, query), query).toEqual([['/query/dueBefore', 'invalid_range']]);
    }
    for (const bad of ['2031-01-01', '2031-01-01 00:00:00Z', '2031-01-01T00:00:60Z', 'soon']) {
      expect(await invalid(t, f.headers, `?dueAfter=${encodeURIComponent(bad)}`), bad).toEqual([
        ['/query/dueAfter', 'format'],
      ]);
    }
  });

  it('q: Unicode case-insensitive, in title or description, with % and _ and \\ literal', async () => {
    expect(await found(`?q=${encodeURIComponent('ÄPFEL')}`)).toEqual(ids('apples', 'call', 'fromG'));
    expect(await found(`?q=${encodeURIComponent('äpfel')}`)).toEqual(ids('apples', 'call', 'fromG'));
    expect(await found('?q=market')).toEqual(ids('apples'));
    expect(await found(`?q=${encodeURIComponent('mixed case')}`)).toEqual(ids('mixed'));
    expect(await found(`?q=${encodeURIComponent('%')}`)).toEqual(ids('percent'));
    expect(await found(`?q=${encodeURIComponent('0% D')}`)).toEqual(ids('percent'));
    expect(await found(`?q=${encodeURIComponent('1%0')}`)).toEqual([]);
    expect(await found('?q=_')).toEqual(ids('snake'));
    expect(await found('?q=e_c')).toEqual(ids('snake'));
    expect(await found('?q=s_ake')).toEqual([]);
    expect(await found(`?q=${encodeURIComponent('\\')}`)).toEqual(ids('slash'));
    expect(await found(`?q=${encodeURIComponent('k\\s')}`)).toEqual(ids('slash'));
    expect(await found('?q=nothing-like-this')).toEqual([]);
    expect(await invalid(app(), f.headers, '?q=a%00b')).toContainEqual(['/query/q', 'pattern']);
    expect(await invalid(app(), f.headers, '?q=')).toContainEqual(['/query/q', 'too_short']);
  });

  it('filters combine with AND', async () => {
    expect(await found(`?q=${encodeURIComponent('äpfel')}&priority=high&tag=home&status=todo`)).toEqual(
      ids('apples', 'fromG'),
    );
    expect(await found(`?ownerId=${f.user.id}&tag=home&dueAfter=2031-01-01T00:00:00Z`)).toEqual(
      ids('apples'),
    );
    expect(await found('?status=done&tag=work')).toEqual(ids('slash'));
  });

  it('a single-valued parameter given twice → 422 on /query/<name>', async () => {
    const t = app();
    const values: Record<string, string> = {
      page: '1',
      size: '10',
      sort: 'title',
      tag: 'home',
      q: 'milk',
      dueAfter: '2031-01-01T00:00:00Z',
      dueBefore: '2032-01-01T00:00:00Z',
      assigneeId: f.user.id,
      ownerId: f.user.id,
    };
    for (const [name, value] of Object.entries(values)) {
      const query = `?${name}=${encodeURIComponent(value)}&${name}=${encodeURIComponent(value)}`;
      expect(await invalid(t, f.headers, query), name).toContainEqual([`/query/${name}`, 'duplicate']);
    }
  });

  it('an unknown query parameter → 422 on it', async () => {
    const t = app();
    expect(await invalid(t, f.headers, '?status=todo&colour=red')).toEqual([
      ['/query/colour', 'unknown_field'],
    ]);
    expect(await invalid(t, f.headers, '?limit=5')).toEqual([['/query/limit', 'unknown_field']]);
  });

  it('reports every invalid parameter at once', async () => {
    const errors = await invalid(app(), f.headers, '?size=0&page=0&sort=nope&priority=urgent');
    expect(errors.map(([pointer]) => pointer)).toEqual(
      expect.arrayContaining(['/query/size', '/query/page', '/query/sort']),
    );
    expect(errors.some(([pointer]) => pointer?.startsWith('/query/priority'))).toBe(true);
  });
});

describe('date-times at the ends of the four-digit years', () => {
  const app = freshApp();

  // 9999-12-31T23:30:00-01:00 is 10000-01-01T00:30Z: no RFC 3339 form exists for it, and its
  // extended-year text ("+010000-…") would sort before every other date in the text column.
  it('a dueAt whose UTC instant leaves years 0000–9999 is refused, in bodies and in filters', async () => {
    const t = app();
    const { headers } = await signedIn(t.app);
    for (const dueAt of ['9999-12-31T23:30:00-01:00', '0000-01-01T00:30:00+01:00']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers,
        payload: { title: 'edge', dueAt },
      });
      expect(res.statusCode, dueAt).toBe(422);
      expect((res.json() as Problem).errors).toContainEqual(expect.objectContaining({ pointer: '/dueAt' }));
      for (const name of ['dueAfter', 'dueBefore']) {
        const errors = await invalid(t, headers, `?${name}=${encodeURIComponent(dueAt)}`);
        expect(errors.map(([pointer]) => pointer)).toEqual([`/query/${name}`]);
      }
    }
  });

  it('the last and first representable instants sort and filter chronologically', async () => {
    const t = app();
    const { headers } = await signedIn(t.app);
    const dates = ['9999-12-31T23:30:00+01:00', '0000-01-01T00:30:00-01:00', '2030-01-01T00:00:00Z'];
    const made: Task[] = [];
    for (const dueAt of dates) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers,
        payload: { title: 'edge', dueAt },
      });
      expect(res.statusCode, res.body).toBe(201);
      made.push(res.json() as Task);
    }
    const [last, first, middle] = made.map((task) => task.id);
    expect(await idsOf(t, headers, '?sort=dueAt')).toEqual([first, middle, last]);
    expect(await idsOf(t, headers, '?sort=-dueAt')).toEqual([last, middle, first]);
    expect(await idsOf(t, headers, '?dueAfter=2031-01-01T00:00:00Z')).toEqual([last]);
    expect(await idsOf(t, headers, '?dueBefore=2029-01-01T00:00:00Z')).toEqual([first]);
  });
});

describe('pages', () => {
  const app = freshApp();

  it('pages = ⌈total / size⌉; the last page holds the rest; past the end is empty', async () => {
    const t = app();
    const { user, headers } = await signedIn(t.app);
    for (let i = 0; i < 5; i += 1) {
      await seed(t, { ownerId: user.id, title: `t${i}`, createdAt: CREATED[i] ?? '' });
    }
    const first = await listOk(t, headers);
    expect(first).toMatchObject({ total: 5, page: 1, size: 20, pages: 1 });
    expect(first.items).toHaveLength(5);
    for (const [size, pages] of [
      [1, 5],
      [2, 3],
      [4, 2],
      [5, 1],
      [6, 1],
      [100, 1],
    ] as const) {
      const ids = await walk(t, headers, '', size);
      expect(ids, `size ${size}`).toEqual(first.items.map((task) => task.id));
      expect((await listOk(t, headers, `?size=${size}`)).pages).toBe(pages);
    }
    expect(await listOk(t, headers, '?size=2&page=3')).toMatchObject({ total: 5, pages: 3, page: 3 });
    expect((await listOk(t, headers, '?size=2&page=3')).items).toHaveLength(1);
    expect(await listOk(t, headers, '?size=2&page=4')).toEqual({
      items: [],
      total: 5,
      page: 4,
      size: 2,
      pages: 3,
    });
    expect(await listOk(t, headers, '?page=1000000&size=100')).toEqual({
      items: [],
      total: 5,
      page: 1_000_000,
      size: 100,
      pages: 1,
    });
  });

  it('an empty list has 0 pages', async () => {
    const t = app();
    const { headers } = await signedIn(t.app);
    expect(await listOk(t, headers)).toEqual({ items: [], total: 0, page: 1, size: 20, pages: 0 });
    expect(await listOk(t, headers, '?page=2&size=1')).toEqual({
      items: [],
      total: 0,
      page: 2,
      size: 1,
      pages: 0,
    });
  });

  it('size 1–100 and page 1–1,000,000, integers only; else 422 on the parameter', async () => {
    const t = app();
    const { headers } = await signedIn(t.app);
    for (const [query, pointer, code] of [
      ['?size=0', '/query/size', 'too_small'],
      ['?size=101', '/query/size', 'too_large'],
      ['?size=-1', '/query/size', 'too_small'],
      ['?size=1.5', '/query/size', 'type'],
      ['?size=ten', '/query/size', 'type'],
      ['?size=', '/query/size', 'type'],
      ['?page=0', '/query/page', 'too_small'],
      ['?page=1000001', '/query/page', 'too_large'],
      ['?page=2.0e0x', '/query/page', 'type'],
    ] as const) {
      expect(await invalid(t, headers, query), query).toEqual([[pointer, code]]);
    }
    for (const query of ['?size=1', '?size=100', '?page=1', '?page=1000000']) {
      expect((await list(t, headers, query)).statusCode, query).toBe(200);
    }
  });
});

describe('visibility', () => {
  const app = freshApp();

  it('a user sees what it owns or is assigned, once; never the tasks of others (BOLA)', async () => {
    const t = app();
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const guest = await signedIn(t.app, 'guest');
    const admin = await signedIn(t.app, 'admin');
    const at = (i: number) => CREATED[i % CREATED.length] ?? '';
    const own = await seed(t, { ownerId: a.user.id, title: 'own', createdAt: at(0) });
    const self = await seed(t, {
      ownerId: a.user.id,
      assigneeId: a.user.id,
      title: 'self',
      createdAt: at(1),
    });
    const toB = await seed(t, { ownerId: a.user.id, assigneeId: b.user.id, title: 'to b', createdAt: at(2) });
    const fromB = await seed(t, {
      ownerId: b.user.id,
      assigneeId: a.user.id,
      title: 'from b',
      createdAt: at(3),
    });
    const bOnly = await seed(t, { ownerId: b.user.id, title: 'b only', createdAt: at(4) });
    const toGuest = await seed(t, {
      ownerId: b.user.id,
      assigneeId: guest.user.id,
      title: 'to guest',
      createdAt: at(5),
    });
    const sorted = async (headers: Headers, query = '') => (await idsOf(t, headers, query)).sort();
    const idList = (...tasks: Seeded[]) => tasks.map((task) => task.id).sort();

    expect(await sorted(a.headers)).toEqual(idList(own, self, toB, fromB));
    expect(await sorted(b.headers)).toEqual(idList(toB, fromB, bOnly, toGuest));
    expect(await sorted(guest.headers)).toEqual(idList(toGuest));
    expect(await sorted(admin.headers)).toEqual(idList(own, self, toB, fromB, bOnly, toGuest));
    // ownerId: admins filter everything; anyone else only within what it sees.
    expect(await sorted(admin.headers, `?ownerId=${b.user.id}`)).toEqual(idList(fromB, bOnly, toGuest));
    expect(await sorted(a.headers, `?ownerId=${b.user.id}`)).toEqual(idList(fromB));
    expect(await sorted(guest.headers, `?ownerId=${a.user.id}`)).toEqual([]);
    expect(await sorted(a.headers, `?assigneeId=${guest.user.id}`)).toEqual([]);
    expect(await sorted(admin.headers, `?assigneeId=${a.user.id}`)).toEqual(idList(self, fromB));
    // Counting agrees with listing on every path.
    expect((await listOk(t, a.headers, '?size=1')).total).toBe(4);
    expect((await listOk(t, a.headers, `?size=1&ownerId=${b.user.id}`)).total).toBe(1);
  });
});

describe('GET /tasks/stats', () => {
  const app = freshApp();

  interface Stats {
    total: number;
    byStatus: Record<Status, number>;
    byPriority: Record<Priority, number>;
    overdue: number;
  }

  function statsOf(tasks: readonly Task[], now: number): Stats {
    const stats: Stats = {
      total: tasks.length,
      byStatus: { todo: 0, in_progress: 0, done: 0 },
      byPriority: { low: 0, medium: 0, high: 0 },
      overdue: 0,
    };
    for (const task of tasks) {
      stats.byStatus[task.status] += 1;
      stats.byPriority[task.priority] += 1;
      if (task.dueAt !== null && Date.parse(task.dueAt) < now && task.status !== 'done') stats.overdue += 1;
    }
    return stats;
  }

  it("counts exactly the caller's default list; overdue = dueAt < now and status ≠ done", async () => {
    const t = app();
    const s = await signedIn(t.app);
    const other = await signedIn(t.app);
    const guest = await signedIn(t.app, 'guest');
    const admin = await signedIn(t.app, 'admin');
    const past = '2020-01-01T00:00:00.000Z';
    const soon = new Date(Date.now() - 60_000).toISOString();
    const future = '2099-01-01T00:00:00.000Z';
    const post = async (headers: Headers, body: object) => {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/tasks', headers, payload: body });
      expect(res.statusCode, res.body).toBe(201);
    };
    await post(s.headers, { title: 'late', dueAt: past, priority: 'high' });
    await post(s.headers, { title: 'late, in progress', dueAt: soon, status: 'in_progress' });
    await post(s.headers, { title: 'late but done', dueAt: past, status: 'done', priority: 'low' });
    await post(s.headers, { title: 'in time', dueAt: future, priority: 'low' });
    await post(s.headers, { title: 'no due date' });
    await post(s.headers, { title: 'self-assigned, late', dueAt: past, assigneeId: s.user.id });
    await post(other.headers, { title: 'for s, late', dueAt: past, assigneeId: s.user.id, priority: 'high' });
    await post(other.headers, { title: 'not for s, late', dueAt: past });
    await post(other.headers, { title: 'for the guest', assigneeId: guest.user.id, status: 'done' });

    const stats = async (headers: Headers) => {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/tasks/stats', headers });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['cache-control']).toBe('private, no-cache');
      return res.json() as Stats;
    };
    for (const caller of [s, other, guest, admin]) {
      const items = (await listOk(t, caller.headers, '?size=100')).items;
      expect(await stats(caller.headers), caller.user.role).toEqual(statsOf(items, Date.now()));
    }
    expect(await stats(s.headers)).toEqual({
      total: 7,
      byStatus: { todo: 5, in_progress: 1, done: 1 },
      byPriority: { low: 2, medium: 3, high: 2 },
      overdue: 4,
    });
    expect((await stats(admin.headers)).total).toBe(9);
    const empty = await signedIn(t.app);
    expect(await stats(empty.headers)).toEqual({
      total: 0,
      byStatus: { todo: 0, in_progress: 0, done: 0 },
      byPriority: { low: 0, medium: 0, high: 0 },
      overdue: 0,
    });
  });
});
