import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { KyselyPlugin, RootOperationNode } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prune } from '../../src/modules/events/retention.js';
import { STATS_CACHE_SPAN } from '../../src/modules/tasks/stats-cache.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import { signedIn } from '../helpers/factories.js';
import { type Instances, twoInstances } from '../helpers/instances.js';

/**
 * GET /tasks/stats is cached per caller and never stale: every write is made on instance a, and
 * the stats read on instance b (its own connection to the same database, a SQLite file or one
 * PostgreSQL schema; with TEST_REDIS_URL both share the cache in Redis too), which cached them
 * just before the write.
 */

type Headers = Record<string, string>;
type Caller = Awaited<ReturnType<typeof signedIn>>;

let two: Instances;
/** How far instance b's clock is ahead of the real one (the due-date test moves it). */
let ahead = 0;
beforeAll(async () => {
  two = await twoInstances({}, () => Date.now() + ahead);
});
afterAll(async () => two.close());

async function call(app: FastifyInstance, method: string, url: string, headers: Headers, payload?: object) {
  const res = await app.inject({
    method: method as 'GET',
    url: `/api/v1${url}`,
    headers,
    ...(payload ? { payload } : {}),
  });
  expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
  return res;
}

/** The caller's stats as instance b answers them. */
async function statsOnB(caller: Caller, query = '') {
  return (await call(two.b, 'GET', `/tasks/stats${query}`, caller.headers)).json();
}

/** b's stats, after making sure b holds them in its cache (a second read is a hit). */
async function cachedOnB(caller: Caller, query = '') {
  await statsOnB(caller, query);
  const before = two.b.ctx.services.statsCache.counts().hits;
  const stats = await statsOnB(caller, query);
  expect(two.b.ctx.services.statsCache.counts().hits).toBe(before + 1);
  return stats;
}

async function task(caller: Caller, body: object) {
  return (await call(two.a, 'POST', '/tasks', caller.headers, { title: 'T', ...body })).json();
}

/** A shared project of `owner` (made through the API, on a), with members of the given roles. */
async function project(owner: Caller, members: [Caller, string][] = []): Promise<string> {
  const { id } = (await call(two.a, 'POST', '/projects', owner.headers, { name: 'Team' })).json();
  for (const [member, role] of members)
    await call(two.a, 'POST', `/projects/${id}/members`, owner.headers, { email: member.user.email, role });
  return id;
}

describe('a task change reaches every member of its project and its assignee', () => {
  it('create, update, delete with subtasks, in a shared project: a viewer member sees each at once', async () => {
    const owner = await signedIn(two.a);
    const viewer = await signedIn(two.a);
    const projectId = await project(owner, [[viewer, 'viewer']]);
    expect((await cachedOnB(viewer)).total).toBe(0);
    const parent = await task(owner, { projectId });
    await task(owner, { projectId, parentId: parent.id, priority: 'high' });
    expect((await cachedOnB(viewer)).total).toBe(2);

    await call(two.a, 'PATCH', `/tasks/${parent.id}`, owner.headers, { status: 'done' });
    const afterUpdate = await cachedOnB(viewer);
    expect(afterUpdate.byStatus).toEqual({ todo: 1, in_progress: 0, done: 1 });

    await call(two.a, 'DELETE', `/tasks/${parent.id}`, owner.headers);
    expect(await statsOnB(viewer)).toMatchObject({ total: 0, byPriority: { low: 0, medium: 0, high: 0 } });
  });

  it('a move: the old project’s member loses the task and its subtask, the new one’s gains them', async () => {
    const owner = await signedIn(two.a);
    const oldOnly = await signedIn(two.a);
    const newOnly = await signedIn(two.a);
    const from = await project(owner, [[oldOnly, 'viewer']]);
    const to = await project(owner, [[newOnly, 'viewer']]);
    const parent = await task(owner, { projectId: from });
    await task(owner, { projectId: from, parentId: parent.id });
    expect((await cachedOnB(oldOnly)).total).toBe(2);
    expect((await cachedOnB(newOnly)).total).toBe(0);
    await call(two.a, 'PATCH', `/tasks/${parent.id}`, owner.headers, { projectId: to });
    expect((await statsOnB(oldOnly)).total).toBe(0);
    expect((await statsOnB(newOnly)).total).toBe(2);
  });

  it('a non-member assignee in a personal project: assigned, changed, unassigned', async () => {
    const owner = await signedIn(two.a);
    const assignee = await signedIn(two.a);
    expect((await cachedOnB(assignee)).total).toBe(0);
    const assigned = await task(owner, { assigneeId: assignee.user.id });
    expect((await cachedOnB(assignee)).total).toBe(1);
    await call(two.a, 'PATCH', `/tasks/${assigned.id}`, owner.headers, { priority: 'low' });
    expect((await cachedOnB(assignee)).byPriority.low).toBe(1);
    await call(two.a, 'PATCH', `/tasks/${assigned.id}`, owner.headers, { assigneeId: null });
    expect((await statsOnB(assignee)).total).toBe(0);
  });

  it('an admin sees every task: a task anyone creates, anywhere, changes its stats', async () => {
    const admin = await signedIn(two.a, 'admin');
    const someone = await signedIn(two.a);
    const before = (await cachedOnB(admin)).total;
    await task(someone, {});
    expect((await statsOnB(admin)).total).toBe(before + 1);
  });
});

describe('membership and project changes reach the member', () => {
  it('added to a project with tasks, then removed', async () => {
    const owner = await signedIn(two.a);
    const member = await signedIn(two.a);
    const projectId = await project(owner);
    await task(owner, { projectId });
    expect((await cachedOnB(member)).total).toBe(0);
    await call(two.a, 'POST', `/projects/${projectId}/members`, owner.headers, {
      email: member.user.email,
      role: 'viewer',
    });
    expect((await cachedOnB(member)).total).toBe(1);
    await call(two.a, 'DELETE', `/projects/${projectId}/members/${member.user.id}`, owner.headers);
    expect((await statsOnB(member)).total).toBe(0);
  });

  it('a project archived and unarchived, then deleted', async () => {
    const owner = await signedIn(two.a);
    const member = await signedIn(two.a);
    const projectId = await project(owner, [[member, 'editor']]);
    await task(owner, { projectId });
    expect((await cachedOnB(member)).total).toBe(1);
    await call(two.a, 'PATCH', `/projects/${projectId}`, owner.headers, { archived: true });
    expect((await cachedOnB(member)).total).toBe(0);
    await call(two.a, 'PATCH', `/projects/${projectId}`, owner.headers, { archived: false });
    expect((await cachedOnB(member)).total).toBe(1);
    await call(two.a, 'DELETE', `/projects/${projectId}`, owner.headers);
    expect((await statsOnB(member)).total).toBe(0);
  });

  it('stats filtered by projectId and parentId are cached per filter and kept fresh', async () => {
    const owner = await signedIn(two.a);
    const member = await signedIn(two.a);
    const projectId = await project(owner, [[member, 'viewer']]);
    const parent = await task(owner, { projectId });
    expect((await cachedOnB(member, `?projectId=${projectId}`)).total).toBe(1);
    expect((await cachedOnB(member, `?parentId=${parent.id}`)).total).toBe(0);
    await task(owner, { projectId, parentId: parent.id });
    expect((await statsOnB(member, `?projectId=${projectId}`)).total).toBe(2);
    expect((await statsOnB(member, `?parentId=${parent.id}`)).total).toBe(1);
    expect((await statsOnB(member, '?parentId=none')).total).toBe(1);
  });
});

describe('deleting a user reaches everyone affected', () => {
  it('the assignees of its personal project’s tasks, and admins, lose those tasks', async () => {
    const admin = await signedIn(two.a, 'admin');
    const leaving = await signedIn(two.a);
    const assignee = await signedIn(two.a);
    await task(leaving, { assigneeId: assignee.user.id });
    await task(leaving, {});
    expect((await cachedOnB(assignee)).total).toBe(1);
    const adminBefore = (await cachedOnB(admin)).total;
    await call(two.a, 'DELETE', `/users/${leaving.user.id}`, admin.headers);
    expect((await statsOnB(assignee)).total).toBe(0);
    expect((await statsOnB(admin)).total).toBe(adminBefore - 2);
  });

  it('its lone shared project goes with it; in a kept project its tasks stay for the members', async () => {
    const admin = await signedIn(two.a, 'admin');
    const leaving = await signedIn(two.a);
    const owner = await signedIn(two.a);
    const kept = await project(owner, [[leaving, 'editor']]);
    await task(leaving, { projectId: kept, assigneeId: leaving.user.id });
    expect((await cachedOnB(owner)).total).toBe(1);
    await call(two.a, 'DELETE', `/users/${leaving.user.id}`, admin.headers);
    // Still counted, now unassigned: the counts hold, and the reply is computed afresh.
    const misses = two.b.ctx.services.statsCache.counts().misses;
    expect((await statsOnB(owner)).total).toBe(1);
    expect(two.b.ctx.services.statsCache.counts().misses).toBe(misses + 1);
  });
});

describe('the clock and the log', () => {
  it('overdue changes when a dueAt passes, with no write at all', async () => {
    const owner = await signedIn(two.a);
    const dueAt = new Date(Date.now() + 3_600_000).toISOString();
    await task(owner, { dueAt });
    await task(owner, { dueAt: new Date(Date.now() + 7_200_000).toISOString(), status: 'done' });
    expect((await cachedOnB(owner)).overdue).toBe(0);
    ahead = 3_700_000;
    try {
      expect((await statsOnB(owner)).overdue).toBe(1);
      // The next due date is the entry's end now: none left, so it holds again.
      expect((await cachedOnB(owner)).overdue).toBe(1);
    } finally {
      ahead = 0;
    }
  });

  it('an entry older than what retention pruned is a miss (its events may be gone)', async () => {
    const owner = await signedIn(two.a);
    const member = await signedIn(two.a);
    const projectId = await project(owner, [[member, 'viewer']]);
    expect((await cachedOnB(member)).total).toBe(0);
    await task(owner, { projectId });
    // Retention deletes every event so far, the task's included.
    await prune(two.a.ctx.database.db, 0, Date.now() + 60_000);
    expect((await statsOnB(member)).total).toBe(1);
  });

  it('more events since an entry than a lookup checks: computed again, still right', async () => {
    const owner = await signedIn(two.a);
    const busy = await signedIn(two.a);
    expect((await cachedOnB(owner)).total).toBe(0);
    // Events the owner cannot see, past the span a lookup scans.
    const { db } = two.a.ctx.database;
    await db
      .updateTable('event_log')
      .set((eb) => ({ head: eb('head', '+', STATS_CACHE_SPAN + 1) }))
      .where('id', '=', 1)
      .execute();
    await task(busy, {});
    const misses = two.b.ctx.services.statsCache.counts().misses;
    expect((await statsOnB(owner)).total).toBe(0);
    expect(two.b.ctx.services.statsCache.counts().misses).toBe(misses + 1);
  });
});

describe('hits', () => {
  let t: TestApp;
  let aggregates = 0;
  const lines: { msg: string; statsCache?: string }[] = [];
  beforeAll(async () => {
    // Counts the stats aggregates (the grouped SELECT that computes next_due), whoever runs them.
    const counter: KyselyPlugin = {
      transformQuery: ({ node }: { node: RootOperationNode }) => {
        if (node.kind === 'SelectQueryNode' && node.groupBy && JSON.stringify(node).includes('"next_due"'))
          aggregates += 1;
        return node;
      },
      transformResult: async ({ result }) => result,
    };
    const database = await createTestDatabase();
    const counted = {
      ...database,
      handle: { ...database.handle, db: database.handle.db.withPlugin(counter) },
    };
    const logStream = new Writable({
      write(chunk, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    t = await buildTestApp({ database: counted, env: { LOG_LEVEL: 'debug' }, logStream });
  });
  afterAll(async () => {
    await t.close();
    await t.db.drop();
  });

  it('a second identical request is a hit: no aggregate runs, the counters and the debug log say so', async () => {
    const me = await signedIn(t.app);
    const get = () => t.app.inject({ method: 'GET', url: '/api/v2/tasks/stats', headers: me.headers });
    const cache = t.app.ctx.services.statsCache;
    const first = await get();
    const { hits, misses } = cache.counts();
    const ran = aggregates;
    const second = await get();
    expect(second.json()).toEqual(first.json());
    expect(aggregates).toBe(ran);
    expect(cache.counts()).toEqual({ hits: hits + 1, misses });
    const logged = lines.filter((line) => line.statsCache !== undefined).map((line) => line.statsCache);
    expect(logged.slice(-2)).toEqual(['absent', 'hit']);
    // A write by the caller: the next request computes again.
    await t.app.inject({
      method: 'POST',
      url: '/api/v2/tasks',
      headers: me.headers,
      payload: { title: 'x' },
    });
    const written = aggregates;
    expect((await get()).json().total).toBe(1);
    expect(aggregates).toBeGreaterThan(written);
    expect(lines.filter((line) => line.statsCache !== undefined).at(-1)?.statsCache).toBe('changed');
  });
});
