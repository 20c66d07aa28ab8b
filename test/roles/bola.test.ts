import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueKey } from '../api-keys/helpers.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { type Db, personalProject, seedComment, seedProject, seedTask } from './seed.js';

/**
 * Broken object-level authorisation across projects: the owner of P (with its token, and with a
 * key holding every scope a user may hold) reaches nothing of Q — not its tasks, comments,
 * members, the project itself, its counts, its list entries, the cursors of Q's people — and
 * cannot move work into Q or hand it to Q's people. Whatever it tries, Q stays as it was.
 */

let t: TestApp;
let db: Db;
type Who = Awaited<ReturnType<typeof signedIn>>;
let m: Who; // owner of P
let pe: Who; // editor of P
let qo: Who; // owner of Q
let qu: Who; // a member of Q only
let p: string;
let q: string;
let mInbox: string;
const tasks = {} as Record<'p1' | 'p2' | 'p3' | 'mine' | 'q1' | 'q1sub' | 'q2' | 'qoInbox', string>;
const comments = {} as Record<'q' | 'qByQu' | 'p1' | 'p2', string>;
/** How M calls: its token, and its key (version 2 uses X-API-Key). */
let credentials: [string, Record<string, string>][];

beforeAll(async () => {
  t = await buildTestApp();
  db = t.db.handle.db;
  m = await signedIn(t.app);
  pe = await signedIn(t.app);
  qo = await signedIn(t.app);
  qu = await signedIn(t.app);
  const key = await issueKey(t.app, m.headers, [
    'tasks:read',
    'tasks:write',
    'projects:read',
    'projects:write',
    'comments:write',
  ]);
  credentials = [
    ['token', m.headers],
    ['key', { 'x-api-key': key.key }],
  ];
  p = await seedProject(db, {
    ownerId: m.user.id,
    name: 'Project P',
    members: [
      [m.user.id, 'owner'],
      [pe.user.id, 'editor'],
    ],
  });
  q = await seedProject(db, {
    ownerId: qo.user.id,
    name: 'Project Q',
    members: [
      [qo.user.id, 'owner'],
      [qu.user.id, 'editor'],
    ],
  });
  mInbox = await personalProject(db, m.user.id);
  const past = '2020-01-01T00:00:00.000Z';
  tasks.p1 = await seedTask(db, { projectId: p, ownerId: m.user.id, title: 'p one', tags: ['shared'] });
  tasks.p2 = await seedTask(db, { projectId: p, ownerId: pe.user.id, status: 'done', title: 'p two' });
  tasks.p3 = await seedTask(db, { projectId: p, ownerId: pe.user.id, dueAt: past, title: 'p three' });
  tasks.mine = await seedTask(db, { projectId: mInbox, ownerId: m.user.id, title: 'mine' });
  // Q holds more of everything, so a count that leaks Q shows.
  tasks.q1 = await seedTask(db, { projectId: q, ownerId: qo.user.id, title: 'q one', tags: ['shared'] });
  tasks.q1sub = await seedTask(db, { projectId: q, ownerId: qo.user.id, parentId: tasks.q1, title: 'q sub' });
  for (let i = 0; i < 4; i += 1) {
    await seedTask(db, {
      projectId: q,
      ownerId: qu.user.id,
      status: 'done',
      dueAt: past,
      title: `q more ${i}`,
    });
  }
  // A Q task assigned to a user of Q only, and one of Q's owner's personal project.
  tasks.q2 = await seedTask(db, {
    projectId: q,
    ownerId: qo.user.id,
    assigneeId: qu.user.id,
    title: 'q two',
  });
  tasks.qoInbox = await seedTask(db, {
    projectId: await personalProject(db, qo.user.id),
    ownerId: qo.user.id,
    title: 'qo inbox',
  });
  comments.q = await seedComment(db, tasks.q1, qo.user.id);
  comments.qByQu = await seedComment(db, tasks.q1, qu.user.id);
  comments.p1 = await seedComment(db, tasks.p1, pe.user.id);
  comments.p2 = await seedComment(db, tasks.p1, pe.user.id);
});
afterAll(async () => t?.close());

async function snapshotOfQ() {
  return {
    project: await db.selectFrom('projects').selectAll().where('id', '=', q).executeTakeFirst(),
    members: await db
      .selectFrom('project_members')
      .selectAll()
      .where('project_id', '=', q)
      .orderBy('user_id')
      .execute(),
    tasks: await db.selectFrom('tasks').selectAll().where('project_id', '=', q).orderBy('id').execute(),
    comments: await db
      .selectFrom('comments')
      .selectAll()
      .where('task_id', 'in', [tasks.q1, tasks.q2])
      .orderBy('id')
      .execute(),
    inbox: await db.selectFrom('tasks').selectAll().where('id', '=', tasks.qoInbox).executeTakeFirst(),
  };
}

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
function call(
  method: Method,
  url: string,
  headers: Record<string, string>,
  body?: unknown,
  version: 'v1' | 'v2' = 'v1',
) {
  return t.app.inject({
    method,
    url: `/api/${version}${url}`,
    headers,
    ...(body === undefined ? {} : { payload: body as object }),
  });
}

function problem(res: LightMyRequestResponse) {
  return res.json() as { code: string; errors?: { pointer: string; code: string }[] };
}

function expect404(res: LightMyRequestResponse, label: string) {
  expect(res.statusCode, `${label}: ${res.body.slice(0, 200)}`).toBe(404);
  expect(problem(res).code, label).toBe('not_found');
}

function expect422(res: LightMyRequestResponse, pointer: string, code: string, label: string) {
  expect(res.statusCode, `${label}: ${res.body.slice(0, 300)}`).toBe(422);
  expect(problem(res).errors, label).toContainEqual(expect.objectContaining({ pointer, code }));
}

function ids(res: LightMyRequestResponse): string[] {
  return (res.json() as { items: { id: string }[] }).items.map((item) => item.id);
}

describe.each([
  ['token', 0],
  ['key', 1],
] as const)('BOLA across projects: a member of P with its %s', (_name, index) => {
  const headers = () => (credentials[index] as [string, Record<string, string>])[1];

  it("reaches none of Q's tasks (404 on every method), nor Q's owner's personal tasks", async () => {
    const before = await snapshotOfQ();
    expect(before.tasks.length).toBeGreaterThan(0);
    // The control: the routes exist and answer for P (a missing route is a 404 too).
    expect((await call('GET', `/tasks/${tasks.p1}`, headers())).statusCode).toBe(200);
    for (const id of [tasks.q1, tasks.q1sub, tasks.q2, tasks.qoInbox]) {
      expect404(await call('GET', `/tasks/${id}`, headers()), `GET task ${id}`);
      expect404(await call('PATCH', `/tasks/${id}`, headers(), { title: 'mine now' }), `PATCH task ${id}`);
      expect404(await call('PATCH', `/tasks/${id}`, headers(), { status: 'done' }), `PATCH status ${id}`);
      expect404(await call('PUT', `/tasks/${id}`, headers(), { title: 'mine now' }), `PUT task ${id}`);
      expect404(await call('DELETE', `/tasks/${id}`, headers()), `DELETE task ${id}`);
      expect404(await call('GET', `/tasks/${id}`, headers(), undefined, 'v2'), `GET v2 task ${id}`);
    }
    // A conditional request learns nothing either.
    expect404(
      await call('PATCH', `/tasks/${tasks.q1}`, { ...headers(), 'if-match': '"1"' }, { title: 'x' }),
      'PATCH with If-Match',
    );
    expect(await snapshotOfQ()).toEqual(before);
  });

  it("reaches none of Q's comments", async () => {
    const before = await snapshotOfQ();
    expect((await call('GET', `/tasks/${tasks.p1}/comments`, headers())).statusCode, 'control').toBe(200);
    expect((await call('GET', `/comments/${comments.p1}`, headers())).statusCode, 'control').toBe(200);
    expect404(await call('GET', `/tasks/${tasks.q1}/comments`, headers()), 'list comments of a Q task');
    expect404(await call('GET', `/tasks/${tasks.q1}/comments`, headers(), undefined, 'v2'), 'list v2');
    expect404(await call('POST', `/tasks/${tasks.q1}/comments`, headers(), { body: 'hi' }), 'comment on Q');
    for (const id of [comments.q, comments.qByQu]) {
      expect404(await call('GET', `/comments/${id}`, headers()), `GET comment ${id}`);
      expect404(await call('PATCH', `/comments/${id}`, headers(), { body: 'edited' }), `PATCH comment ${id}`);
      expect404(await call('DELETE', `/comments/${id}`, headers()), `DELETE comment ${id}`);
    }
    expect(await snapshotOfQ()).toEqual(before);
  });

  it('reaches neither Q nor its members', async () => {
    const before = await snapshotOfQ();
    expect((await call('GET', `/projects/${p}`, headers())).statusCode, 'control').toBe(200);
    expect((await call('GET', `/projects/${p}/members`, headers())).statusCode, 'control').toBe(200);
    expect((await call('GET', `/projects/${p}/members/${pe.user.id}`, headers())).statusCode, 'control').toBe(
      200,
    );
    expect404(await call('GET', `/projects/${q}`, headers()), 'GET Q');
    expect404(await call('PATCH', `/projects/${q}`, headers(), { name: 'mine' }), 'PATCH Q');
    expect404(await call('PATCH', `/projects/${q}`, headers(), { archived: true }), 'archive Q');
    expect404(await call('DELETE', `/projects/${q}`, headers()), 'DELETE Q');
    expect404(await call('GET', `/projects/${q}/members`, headers()), 'members of Q');
    expect404(await call('GET', `/projects/${q}/members`, headers(), undefined, 'v2'), 'members of Q v2');
    expect404(await call('GET', `/projects/${q}/members/${qo.user.id}`, headers()), 'a member of Q');
    expect404(
      await call('POST', `/projects/${q}/members`, headers(), { email: m.user.email, role: 'owner' }),
      'join Q',
    );
    expect404(
      await call('PATCH', `/projects/${q}/members/${qu.user.id}`, headers(), { role: 'viewer' }),
      'demote in Q',
    );
    expect404(await call('DELETE', `/projects/${q}/members/${qu.user.id}`, headers()), 'remove from Q');
    expect404(await call('DELETE', `/projects/${q}/members/${m.user.id}`, headers()), 'leave Q');
    // Q's owner's personal project, too.
    const qoInbox = await personalProject(db, qo.user.id);
    expect404(await call('GET', `/projects/${qoInbox}`, headers()), "GET Q owner's Inbox");
    expect404(await call('GET', `/projects/${qoInbox}/members`, headers()), "members of Q owner's Inbox");
    expect(await snapshotOfQ()).toEqual(before);
  });

  it('lists only its own projects, whatever the filter', async () => {
    for (const url of ['/projects', '/projects?q=project', '/projects?archived=false', '/projects?q=q']) {
      const res = await call('GET', url, headers());
      expect(res.statusCode, `${url}: ${res.body.slice(0, 200)}`).toBe(200);
      expect(ids(res), url).not.toContain(q);
    }
    const all = await call('GET', '/projects?size=100', headers());
    expect(ids(all).sort()).toEqual([p, mInbox].sort());
    const v2 = await call('GET', '/projects?limit=100', headers(), undefined, 'v2');
    expect(ids(v2).sort()).toEqual([p, mInbox].sort());
  });

  it('counts and lists only what it can see: stats and lists exclude Q, a projectId of Q is an empty list', async () => {
    const visible = [tasks.p1, tasks.p2, tasks.p3, tasks.mine].sort();
    const list = await call('GET', '/tasks?size=100', headers());
    expect(list.statusCode, list.body.slice(0, 200)).toBe(200);
    expect(ids(list).sort()).toEqual(visible);
    const stats = await call('GET', '/tasks/stats', headers());
    expect(stats.statusCode, stats.body.slice(0, 200)).toBe(200);
    expect(stats.json()).toMatchObject({
      total: 4,
      byStatus: { todo: 3, in_progress: 0, done: 1 },
      overdue: 1,
    });
    for (const url of [
      `/tasks?projectId=${q}`,
      `/tasks?tag=shared&projectId=${q}`,
      `/tasks?parentId=${tasks.q1}`,
      `/tasks?assigneeId=${qu.user.id}`,
      '/tasks?q=q%20one',
      '/tasks?tag=shared',
    ]) {
      const res = await call('GET', url, headers());
      expect(res.statusCode, `${url}: ${res.body.slice(0, 300)}`).toBe(200);
      const found = ids(res);
      for (const id of [tasks.q1, tasks.q1sub, tasks.q2]) expect(found, url).not.toContain(id);
    }
    const onlyQ = await call('GET', `/tasks?projectId=${q}`, headers());
    expect(onlyQ.json()).toMatchObject({ items: [], total: 0 });
    const both = await call('GET', `/tasks?projectId=${p},${q}&size=100`, headers());
    expect(ids(both).sort()).toEqual([tasks.p1, tasks.p2, tasks.p3].sort());
    const v2 = await call('GET', `/tasks?projectId=${q}`, headers(), undefined, 'v2');
    expect(v2.statusCode, v2.body.slice(0, 200)).toBe(200);
    expect(v2.json()).toEqual({ items: [], nextCursor: null });
    const qStats = await call('GET', `/tasks/stats?projectId=${q}`, headers());
    expect(qStats.statusCode, qStats.body.slice(0, 200)).toBe(200);
    expect(qStats.json()).toMatchObject({ total: 0, overdue: 0 });
    const subStats = await call('GET', `/tasks/stats?parentId=${tasks.q1}`, headers());
    expect(subStats.json()).toMatchObject({ total: 0 });
  });

  it('takes no cursor of another caller (400 invalid_cursor), even of a list both can see', async () => {
    const cases: [Record<string, string>, string][] = [
      [qo.headers, '/tasks?limit=1'],
      [qo.headers, '/projects?limit=1'],
      [pe.headers, '/tasks?limit=1'],
      [pe.headers, `/projects/${p}/members?limit=1`],
      [pe.headers, `/tasks/${tasks.p1}/comments?limit=1`],
    ];
    for (const [owner, url] of cases) {
      const first = await call('GET', url, owner, undefined, 'v2');
      expect(first.statusCode, `${url}: ${first.body.slice(0, 200)}`).toBe(200);
      const cursor = (first.json() as { nextCursor: string | null }).nextCursor;
      expect(cursor, `${url} has a next page`).not.toBeNull();
      const stolen = await call(
        'GET',
        `${url}&cursor=${encodeURIComponent(cursor ?? '')}`,
        headers(),
        undefined,
        'v2',
      );
      expect(stolen.statusCode, `${url} with another's cursor: ${stolen.body.slice(0, 200)}`).toBe(400);
      expect(problem(stolen).code).toBe('invalid_cursor');
    }
  });

  it("learns nothing from conditional reads of Q's resources (404, never 304)", async () => {
    for (const url of [`/tasks/${tasks.q1}`, `/projects/${q}`]) {
      for (const tag of ['"1"', '*']) {
        expect404(
          await call('GET', url, { ...headers(), 'if-none-match': tag }),
          `${url} If-None-Match ${tag}`,
        );
      }
    }
  });

  it("gets no replay of a Q member's idempotent create (the key is bound to the caller)", async () => {
    const idem = `bola-${index}-${Date.now()}`;
    const theirs = await call(
      'POST',
      `/tasks/${tasks.q1}/comments`,
      { ...qo.headers, 'idempotency-key': idem },
      {
        body: 'same body',
      },
    );
    expect(theirs.statusCode, theirs.body.slice(0, 200)).toBe(201);
    const mine = await call(
      'POST',
      `/tasks/${tasks.p1}/comments`,
      { ...headers(), 'idempotency-key': idem },
      {
        body: 'same body',
      },
    );
    expect(mine.statusCode, mine.body.slice(0, 200)).toBe(201);
    expect(mine.headers['idempotent-replayed']).toBeUndefined();
    expect(mine.json()).toMatchObject({ taskId: tasks.p1 });
    const project = `bola-project-${index}-${Date.now()}`;
    const qProject = await call(
      'POST',
      '/projects',
      { ...qo.headers, 'idempotency-key': project },
      { name: 'Same' },
    );
    expect(qProject.statusCode, qProject.body.slice(0, 200)).toBe(201);
    const mProject = await call(
      'POST',
      '/projects',
      { ...headers(), 'idempotency-key': project },
      { name: 'Same' },
    );
    expect(mProject.statusCode, mProject.body.slice(0, 200)).toBe(201);
    expect(mProject.headers['idempotent-replayed']).toBeUndefined();
    expect((mProject.json() as { id: string }).id).not.toBe((qProject.json() as { id: string }).id);
    // Clean up, so the other tests' lists and counts hold.
    await db.deleteFrom('comments').where('id', 'in', [theirs.json().id, mine.json().id]).execute();
    await db.deleteFrom('projects').where('id', 'in', [qProject.json().id, mProject.json().id]).execute();
  });

  it('takes no cursor of its own for another filter: ?projectId=P then Q → 400 invalid_cursor', async () => {
    const first = await call('GET', `/tasks?projectId=${p}&limit=1`, headers(), undefined, 'v2');
    expect(first.statusCode, first.body.slice(0, 200)).toBe(200);
    const cursor = (first.json() as { nextCursor: string | null }).nextCursor ?? '';
    expect(cursor).not.toBe('');
    const other = await call(
      'GET',
      `/tasks?projectId=${q}&limit=1&cursor=${encodeURIComponent(cursor)}`,
      headers(),
      undefined,
      'v2',
    );
    expect(other.statusCode, other.body.slice(0, 200)).toBe(400);
    expect(problem(other).code).toBe('invalid_cursor');
  });

  it('cannot move a task into Q, create one there, or hang one under a task of Q (422, nothing moves)', async () => {
    const before = await snapshotOfQ();
    const p1 = await db.selectFrom('tasks').selectAll().where('id', '=', tasks.p1).executeTakeFirstOrThrow();
    expect422(
      await call('PATCH', `/tasks/${tasks.p1}`, headers(), { projectId: q }),
      '/projectId',
      'not_found',
      'move',
    );
    expect422(
      await call('PUT', `/tasks/${tasks.p1}`, headers(), { title: 'moved', projectId: q }),
      '/projectId',
      'not_found',
      'move by PUT',
    );
    expect422(
      await call('POST', '/tasks', headers(), { title: 'in Q', projectId: q }),
      '/projectId',
      'not_found',
      'create',
    );
    expect422(
      await call('PATCH', `/tasks/${tasks.p1}`, headers(), { parentId: tasks.q1 }),
      '/parentId',
      'invalid_parent',
      'parent in Q',
    );
    expect422(
      await call('POST', '/tasks', headers(), { title: 'child', projectId: p, parentId: tasks.q1 }),
      '/parentId',
      'invalid_parent',
      'create under a Q task',
    );
    expect(
      await db.selectFrom('tasks').selectAll().where('id', '=', tasks.p1).executeTakeFirstOrThrow(),
    ).toEqual(p1);
    expect(await snapshotOfQ()).toEqual(before);
  });

  it('cannot assign a user of Q only in a task of P (422 not_found on /assigneeId); in its Inbox it may', async () => {
    const before = await db
      .selectFrom('tasks')
      .selectAll()
      .where('id', '=', tasks.p1)
      .executeTakeFirstOrThrow();
    expect422(
      await call('PATCH', `/tasks/${tasks.p1}`, headers(), { assigneeId: qu.user.id }),
      '/assigneeId',
      'not_found',
      'assign in P',
    );
    expect422(
      await call('POST', '/tasks', headers(), { title: 'for qu', projectId: p, assigneeId: qu.user.id }),
      '/assigneeId',
      'not_found',
      'create assigned in P',
    );
    expect(
      await db.selectFrom('tasks').selectAll().where('id', '=', tasks.p1).executeTakeFirstOrThrow(),
    ).toEqual(before);
    // Moving the Inbox task that is assigned to a user of Q only into P is refused the same way.
    const assigned = await call('POST', '/tasks', headers(), {
      title: 'inbox for qu',
      assigneeId: qu.user.id,
    });
    expect(assigned.statusCode, assigned.body.slice(0, 200)).toBe(201);
    const id = (assigned.json() as { id: string }).id;
    expect422(
      await call('PATCH', `/tasks/${id}`, headers(), { projectId: p }),
      '/assigneeId',
      'not_found',
      'move in',
    );
    await call('DELETE', `/tasks/${id}`, headers());
  });
});
