import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueKey, xApiKey } from '../api-keys/helpers.js';
import { apiCaller, fieldItems, type Headers } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { personalProjectId, signedIn } from '../helpers/factories.js';
import { addMember, createProject, type ProjectReply, storedTask, taskIn } from './helpers.js';

/**
 * Projects and members against API.md §7 and the general rules of §1–§4, sentence by sentence, as
 * a client sees them: status, code, pointer, headers and the exact shape of each reply.
 */

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const call = apiCaller(() => t.app);
const raw = (
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  headers: Headers,
  payload?: string | Buffer,
) => t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload === undefined ? {} : { payload }) });

function expectProblem(
  res: { statusCode: number; headers: Record<string, unknown>; json(): Record<string, unknown> },
  status: number,
  code: string,
) {
  expect(res.statusCode, String((res as { body?: string }).body)).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json().code).toBe(code);
  expect(res.json().status).toBe(status);
}

function expectPrivate(res: { headers: Record<string, unknown> }) {
  expect(res.headers['cache-control']).toBe('private, no-cache');
  expect(String(res.headers.vary)).toMatch(/Authorization, X-API-Key/);
}

describe('project PATCH and DELETE: If-Match', () => {
  it('takes *, a list holding the current tag; refuses a stale, a weak or a bare tag', async () => {
    const a = await signedIn(t.app);
    const p = await createProject(t.app, a.headers);
    const star = await call('PATCH', `/projects/${p.id}`, { ...a.headers, 'if-match': '*' }, { name: 'B' });
    expect(star.statusCode).toBe(200);
    expect(star.headers.etag).toBe('"2"');
    const list = await call(
      'PATCH',
      `/projects/${p.id}`,
      { ...a.headers, 'if-match': '"1", "2"' },
      { name: 'C' },
    );
    expect(list.statusCode).toBe(200);
    expect(list.json().version).toBe(3);
    const stale = await call(
      'PATCH',
      `/projects/${p.id}`,
      { ...a.headers, 'if-match': '"2"' },
      { name: 'D' },
    );
    expectProblem(stale, 412, 'precondition_failed');
    expect(stale.headers.etag).toBe('"3"');
    const weak = await call(
      'PATCH',
      `/projects/${p.id}`,
      { ...a.headers, 'if-match': 'W/"3"' },
      { name: 'D' },
    );
    expectProblem(weak, 412, 'precondition_failed');
    const bare = await call('PATCH', `/projects/${p.id}`, { ...a.headers, 'if-match': '3' }, { name: 'D' });
    expectProblem(bare, 422, 'validation_failed');
    expect(fieldItems(bare)).toEqual([['/header/if-match', 'format']]);
    const staleDelete = await call('DELETE', `/projects/${p.id}`, { ...a.headers, 'if-match': '"1"' });
    expectProblem(staleDelete, 412, 'precondition_failed');
    expect(staleDelete.headers.etag).toBe('"3"');
    expect((await call('GET', `/projects/${p.id}`, a.headers)).statusCode).toBe(200);
    const ok = await call('DELETE', `/projects/${p.id}`, { ...a.headers, 'if-match': '"3"' });
    expect(ok.statusCode).toBe(204);
    expect(ok.body).toBe('');
    expectProblem(await call('GET', `/projects/${p.id}`, a.headers), 404, 'not_found');
  });

  it('GET: If-None-Match with a list or * → 304; a stale tag → 200', async () => {
    const a = await signedIn(t.app);
    const p = await createProject(t.app, a.headers);
    const list = await call('GET', `/projects/${p.id}`, { ...a.headers, 'if-none-match': '"7", W/"1"' });
    expect(list.statusCode).toBe(304);
    expect(list.headers.etag).toBe('"1"');
    expectPrivate(list);
    const star = await call('GET', `/projects/${p.id}`, { ...a.headers, 'if-none-match': '*' });
    expect(star.statusCode).toBe(304);
    const stale = await call('GET', `/projects/${p.id}`, { ...a.headers, 'if-none-match': '"2"' });
    expect(stale.statusCode).toBe(200);
    expect(stale.headers.etag).toBe('"1"');
  });
});

describe('archived projects', () => {
  it('PATCH {archived:false, name} → 409 project_archived; {archived:false} alone unarchives; {archived:true} again → 409', async () => {
    const a = await signedIn(t.app);
    const p = await createProject(t.app, a.headers);
    expect((await call('PATCH', `/projects/${p.id}`, a.headers, { archived: true })).json().archived).toBe(
      true,
    );
    expectProblem(
      await call('PATCH', `/projects/${p.id}`, a.headers, { archived: false, name: 'X' }),
      409,
      'project_archived',
    );
    expectProblem(
      await call('PATCH', `/projects/${p.id}`, a.headers, { archived: true }),
      409,
      'project_archived',
    );
    expectProblem(await call('PATCH', `/projects/${p.id}`, a.headers, {}), 409, 'project_archived');
    const back = await call('PATCH', `/projects/${p.id}`, a.headers, { archived: false });
    expect(back.statusCode).toBe(200);
    expect(back.json()).toMatchObject({ archived: false, version: 3 });
  });

  it('every member write in it → 409 project_archived (after 403 for the role); reads work', async () => {
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const c = await signedIn(t.app);
    const p = await createProject(t.app, a.headers);
    await addMember(t.app, a.headers, p.id, b.user.email, 'editor');
    await call('PATCH', `/projects/${p.id}`, a.headers, { archived: true });
    expectProblem(
      await call('POST', `/projects/${p.id}/members`, a.headers, { email: c.user.email, role: 'viewer' }),
      409,
      'project_archived',
    );
    expectProblem(
      await call('POST', `/projects/${p.id}/members`, b.headers, { email: c.user.email, role: 'viewer' }),
      403,
      'forbidden',
    );
    expectProblem(
      await call('PATCH', `/projects/${p.id}/members/${b.user.id}`, a.headers, { role: 'viewer' }),
      409,
      'project_archived',
    );
    expectProblem(
      await call('DELETE', `/projects/${p.id}/members/${b.user.id}`, a.headers),
      409,
      'project_archived',
    );
    expectProblem(
      await call('DELETE', `/projects/${p.id}/members/${b.user.id}`, b.headers),
      409,
      'project_archived',
    );
    expect((await call('GET', `/projects/${p.id}/members`, b.headers)).statusCode).toBe(200);
    expect((await call('GET', `/projects/${p.id}/members/${a.user.id}`, b.headers)).statusCode).toBe(200);
    // DELETE of the project itself is allowed.
    expect((await call('DELETE', `/projects/${p.id}`, a.headers)).statusCode).toBe(204);
  });
});

describe('bodies and media types', () => {
  it('POST /projects: empty body → 400 malformed_json; text/plain → 415; over BODY_LIMIT_BYTES (not 64 KiB) → 413', async () => {
    const a = await signedIn(t.app);
    const json = { ...a.headers, 'content-type': 'application/json' };
    expectProblem(await raw('POST', '/projects', json, ''), 400, 'malformed_json');
    expectProblem(await raw('POST', '/projects', json, '{"name":'), 400, 'malformed_json');
    expectProblem(
      await raw('POST', '/projects', { ...a.headers, 'content-type': 'text/plain' }, '{"name":"x"}'),
      415,
      'unsupported_media_type',
    );
    // §1: only task, user and credential bodies have smaller limits than BODY_LIMIT_BYTES (1 MiB).
    const long = await raw(
      'POST',
      '/projects',
      json,
      JSON.stringify({ name: 'x', description: 'd'.repeat(70_000) }),
    );
    expectProblem(long, 422, 'validation_failed');
    expect(fieldItems(long)).toEqual([['/description', 'too_long']]);
    expectProblem(
      await raw('POST', '/projects', json, JSON.stringify({ name: 'x', description: 'd'.repeat(1_100_000) })),
      413,
      'payload_too_large',
    );
    const member = await raw(
      'POST',
      `/projects/${await personalProjectId(t.app, a.user.id)}/members`,
      json,
      JSON.stringify({ email: 'x'.repeat(1_100_000) }),
    );
    expectProblem(member, 413, 'payload_too_large');
  });

  it('POST /projects: wrong types, nulls, no name → 422 on each field', async () => {
    const a = await signedIn(t.app);
    const res = await call('POST', '/projects', a.headers, { name: 5, description: null });
    expectProblem(res, 422, 'validation_failed');
    expect(
      fieldItems(res)
        .map(([p]) => p)
        .sort(),
    ).toEqual(['/description', '/name']);
    const missing = await call('POST', '/projects', a.headers, {});
    expect(fieldItems(missing)).toEqual([['/name', 'required']]);
    const ro = await call('POST', '/projects', a.headers, {
      name: 'x',
      personal: true,
      archived: true,
      role: 'owner',
      version: 3,
    });
    expect(fieldItems(ro).sort()).toEqual(
      [
        ['/archived', 'unknown_field'],
        ['/personal', 'read_only'],
        ['/role', 'read_only'],
        ['/version', 'read_only'],
      ].sort(),
    );
  });

  it('PATCH /projects/{id}: merge-patch taken; text/plain → 415; unknown and read-only → 422; null name → 422', async () => {
    const a = await signedIn(t.app);
    const p = await createProject(t.app, a.headers);
    const merge = await raw(
      'PATCH',
      `/projects/${p.id}`,
      { ...a.headers, 'content-type': 'application/merge-patch+json' },
      '{"description":"m"}',
    );
    expect(merge.statusCode).toBe(200);
    expectProblem(
      await raw('PATCH', `/projects/${p.id}`, { ...a.headers, 'content-type': 'text/plain' }, '{}'),
      415,
      'unsupported_media_type',
    );
    const bad = await call('PATCH', `/projects/${p.id}`, a.headers, {
      name: null,
      id: 'x',
      ownerId: 'y',
      colour: 1,
      archived: 'yes',
    });
    expectProblem(bad, 422, 'validation_failed');
    expect(fieldItems(bad).sort()).toEqual(
      [
        ['/name', 'type'],
        ['/id', 'read_only'],
        ['/ownerId', 'read_only'],
        ['/colour', 'unknown_field'],
        ['/archived', 'type'],
      ].sort(),
    );
  });

  it('members: role outside the enum, bad email, missing fields, unknown fields → 422 with every item', async () => {
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const p = await createProject(t.app, a.headers);
    const bad = await call('POST', `/projects/${p.id}/members`, a.headers, {
      email: 'not-an-email',
      role: 'admin',
      userId: b.user.id,
      note: 'x',
    });
    expectProblem(bad, 422, 'validation_failed');
    expect(fieldItems(bad).sort()).toEqual(
      [
        ['/email', 'format'],
        ['/role', 'enum'],
        ['/userId', 'read_only'],
        ['/note', 'unknown_field'],
      ].sort(),
    );
    const missing = await call('POST', `/projects/${p.id}/members`, a.headers, {});
    expect(fieldItems(missing).sort()).toEqual(
      [
        ['/email', 'required'],
        ['/role', 'required'],
      ].sort(),
    );
    await addMember(t.app, a.headers, p.id, b.user.email, 'viewer');
    const patch = await call('PATCH', `/projects/${p.id}/members/${b.user.id}`, a.headers, { role: 'boss' });
    expect(fieldItems(patch)).toEqual([['/role', 'enum']]);
    const none = await call('PATCH', `/projects/${p.id}/members/${b.user.id}`, a.headers, {});
    expect(fieldItems(none)).toEqual([['/role', 'required']]);
    const email = await call('PATCH', `/projects/${p.id}/members/${b.user.id}`, a.headers, {
      role: 'viewer',
      email: 'x@example.com',
    });
    expect(fieldItems(email)).toEqual([['/email', 'read_only']]);
  });

  it('members POST finds the email in another case and answers the member exactly', async () => {
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const p = await createProject(t.app, a.headers);
    const res = await call('POST', `/projects/${p.id}/members`, a.headers, {
      email: b.user.email.toUpperCase(),
      role: 'commenter',
    });
    expect(res.statusCode).toBe(201);
    expectPrivate(res);
    expect(res.headers.location).toBe(`/api/v1/projects/${p.id}/members/${b.user.id}`);
    const member = res.json();
    expect(member).toEqual({
      userId: b.user.id,
      name: b.user.name,
      email: b.user.email,
      role: 'commenter',
      addedAt: expect.any(String),
    });
    const got = await call('GET', `/projects/${p.id}/members/${b.user.id}`, a.headers);
    expect(got.json()).toEqual(member);
    const again = await call('POST', `/projects/${p.id}/members`, a.headers, {
      email: b.user.email,
      role: 'viewer',
    });
    expectProblem(again, 409, 'conflict');
  });
});

describe('ids and queries', () => {
  it('a malformed id in a path → 404 problem+json on every route', async () => {
    const a = await signedIn(t.app);
    const p = await createProject(t.app, a.headers);
    for (const [method, url, body] of [
      ['GET', '/projects/nope'],
      ['PATCH', '/projects/nope', { name: 'x' }],
      ['DELETE', '/projects/nope'],
      ['GET', '/projects/nope/members'],
      ['POST', '/projects/nope/members', { email: a.user.email, role: 'viewer' }],
      ['GET', `/projects/${p.id}/members/nope`],
      ['PATCH', `/projects/${p.id}/members/nope`, { role: 'viewer' }],
      ['DELETE', `/projects/${p.id}/members/nope`],
      ['GET', `/projects/${'9'.repeat(300)}`],
    ] as const) {
      const res = await call(method, url, a.headers, body);
      expectProblem(res, 404, 'not_found');
      expectPrivate(res);
    }
  });

  it('archived=maybe, q= empty, an unknown parameter → 422 on /query/<name>', async () => {
    const a = await signedIn(t.app);
    const maybe = await call('GET', '/projects?archived=maybe', a.headers);
    expectProblem(maybe, 422, 'validation_failed');
    expect(fieldItems(maybe).map(([p]) => p)).toEqual(['/query/archived']);
    const unknown = await call('GET', '/projects?colour=red', a.headers);
    expect(fieldItems(unknown).map(([p]) => p)).toEqual(['/query/colour']);
    const size = await call('GET', '/projects?size=101', a.headers);
    expect(fieldItems(size).map(([p]) => p)).toEqual(['/query/size']);
    const members = await call(
      'GET',
      `/projects/${await personalProjectId(t.app, a.user.id)}/members?q=x`,
      a.headers,
    );
    expect(fieldItems(members).map(([p]) => p)).toEqual(['/query/q']);
  });

  it('v1 pages carry total/page/size; v2 cursors carry nextCursor and Link rel=next', async () => {
    const a = await signedIn(t.app);
    for (let i = 0; i < 3; i += 1) await createProject(t.app, a.headers, { name: `P${i}` });
    const v1 = await call('GET', '/projects?size=2&page=2', a.headers);
    expect(v1.statusCode).toBe(200);
    expectPrivate(v1);
    expect(Object.keys(v1.json()).sort()).toEqual(['items', 'page', 'pages', 'size', 'total']);
    expect(v1.json()).toMatchObject({ page: 2, size: 2, total: 4 });
    const v2 = await t.app.inject({ method: 'GET', url: '/api/v2/projects?limit=2', headers: a.headers });
    expect(v2.statusCode).toBe(200);
    expectPrivate(v2);
    expect(Object.keys(v2.json()).sort()).toEqual(['items', 'nextCursor']);
    expect(String(v2.headers.link)).toMatch(/rel="next"/);
    const v2page = await t.app.inject({ method: 'GET', url: '/api/v2/projects?page=1', headers: a.headers });
    expect(v2page.statusCode).toBe(422);
    expect(v1.headers['ratelimit-limit']).toBeDefined();
    expect(v1.headers['ratelimit-remaining']).toBeDefined();
  });
});

describe('roles and membership edges', () => {
  it('a guest cannot create a project (403); being added as editor → 422 role_not_allowed; as commenter it may leave', async () => {
    const a = await signedIn(t.app);
    const g = await signedIn(t.app, 'guest');
    expectProblem(await call('POST', '/projects', g.headers, { name: 'x' }), 403, 'forbidden');
    const p = await createProject(t.app, a.headers);
    const editor = await call('POST', `/projects/${p.id}/members`, a.headers, {
      email: g.user.email,
      role: 'editor',
    });
    expectProblem(editor, 422, 'validation_failed');
    expect(fieldItems(editor)).toEqual([['/role', 'role_not_allowed']]);
    await addMember(t.app, a.headers, p.id, g.user.email, 'commenter');
    const promote = await call('PATCH', `/projects/${p.id}/members/${g.user.id}`, a.headers, {
      role: 'owner',
    });
    expect(fieldItems(promote)).toEqual([['/role', 'role_not_allowed']]);
    expect((await call('DELETE', `/projects/${p.id}/members/${g.user.id}`, g.headers)).statusCode).toBe(204);
  });

  it('member GET of a non-member → 404; members of another project → 404', async () => {
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const p = await createProject(t.app, a.headers);
    expectProblem(await call('GET', `/projects/${p.id}/members/${b.user.id}`, a.headers), 404, 'not_found');
    expectProblem(
      await call('PATCH', `/projects/${p.id}/members/${b.user.id}`, a.headers, { role: 'viewer' }),
      404,
      'not_found',
    );
    expectProblem(
      await call('DELETE', `/projects/${p.id}/members/${b.user.id}`, a.headers),
      404,
      'not_found',
    );
    expectProblem(await call('GET', `/projects/${p.id}/members/${a.user.id}`, b.headers), 404, 'not_found');
  });

  it('last_owner: the only owner leaving, demoting or being removed by an admin → 409', async () => {
    const a = await signedIn(t.app);
    const admin = await signedIn(t.app, 'admin');
    const b = await signedIn(t.app);
    const p = await createProject(t.app, a.headers);
    await addMember(t.app, a.headers, p.id, b.user.email, 'editor');
    expectProblem(
      await call('DELETE', `/projects/${p.id}/members/${a.user.id}`, a.headers),
      409,
      'last_owner',
    );
    expectProblem(
      await call('PATCH', `/projects/${p.id}/members/${a.user.id}`, a.headers, { role: 'editor' }),
      409,
      'last_owner',
    );
    expectProblem(
      await call('DELETE', `/projects/${p.id}/members/${a.user.id}`, admin.headers),
      409,
      'last_owner',
    );
    expectProblem(
      await call('PATCH', `/projects/${p.id}/members/${a.user.id}`, admin.headers, { role: 'viewer' }),
      409,
      'last_owner',
    );
    // With b made owner, a may leave.
    expect(
      (await call('PATCH', `/projects/${p.id}/members/${b.user.id}`, a.headers, { role: 'owner' }))
        .statusCode,
    ).toBe(200);
    expect((await call('DELETE', `/projects/${p.id}/members/${a.user.id}`, a.headers)).statusCode).toBe(204);
    expectProblem(await call('GET', `/projects/${p.id}`, a.headers), 404, 'not_found');
  });

  it('the personal project: members listed (its user, owner); sharing → 409 conflict; its user cannot leave', async () => {
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const inbox = await personalProjectId(t.app, a.user.id);
    const got = await call('GET', `/projects/${inbox}`, a.headers);
    expect(got.json()).toMatchObject({ personal: true, name: 'Inbox', role: 'owner', ownerId: a.user.id });
    const members = await call('GET', `/projects/${inbox}/members`, a.headers);
    expect(members.json().items.map((m: { userId: string; role: string }) => [m.userId, m.role])).toEqual([
      [a.user.id, 'owner'],
    ]);
    expectProblem(
      await call('POST', `/projects/${inbox}/members`, a.headers, { email: b.user.email, role: 'viewer' }),
      409,
      'conflict',
    );
    expectProblem(await call('DELETE', `/projects/${inbox}`, a.headers), 409, 'conflict');
    expectProblem(await call('PATCH', `/projects/${inbox}`, a.headers, { archived: true }), 409, 'conflict');
    const leave = await call('DELETE', `/projects/${inbox}/members/${a.user.id}`, a.headers);
    expect(leave.statusCode).toBe(409);
  });

  it('deleting a project removes its tasks, their comments and the memberships', async () => {
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const p = await createProject(t.app, a.headers);
    await addMember(t.app, a.headers, p.id, b.user.email, 'editor');
    const task = await taskIn(t.app, a.headers, p.id);
    const comment = await call('POST', `/tasks/${task.id}/comments`, a.headers, { body: 'hi' });
    expect(comment.statusCode).toBe(201);
    expect((await call('DELETE', `/projects/${p.id}`, a.headers)).statusCode).toBe(204);
    expect(await storedTask(t.app, task.id)).toBeUndefined();
    const db = t.app.ctx.database.db;
    expect(
      await db.selectFrom('comments').select('id').where('id', '=', comment.json().id).execute(),
    ).toEqual([]);
    expect(
      await db.selectFrom('project_members').select('user_id').where('project_id', '=', p.id).execute(),
    ).toEqual([]);
    const list = (await call('GET', '/projects', b.headers)).json() as { items: ProjectReply[] };
    expect(list.items.map((x) => x.id)).not.toContain(p.id);
  });

  it('an editor, commenter or viewer may not delete the project (403); a stranger 404', async () => {
    const a = await signedIn(t.app);
    const p = await createProject(t.app, a.headers);
    for (const role of ['editor', 'commenter', 'viewer']) {
      const m = await signedIn(t.app);
      await addMember(t.app, a.headers, p.id, m.user.email, role);
      expectProblem(await call('DELETE', `/projects/${p.id}`, m.headers), 403, 'forbidden');
      expectProblem(
        await call('POST', `/projects/${p.id}/members`, m.headers, { email: a.user.email, role: 'viewer' }),
        403,
        'forbidden',
      );
    }
    const s = await signedIn(t.app);
    expectProblem(await call('DELETE', `/projects/${p.id}`, s.headers), 404, 'not_found');
  });
});

describe('caching of replies refused by the route policy', () => {
  it('401, a guest 403 and a key-scope 403 under /projects are private, no-cache and vary by credentials', async () => {
    const a = await signedIn(t.app);
    const g = await signedIn(t.app, 'guest');
    const p = await createProject(t.app, a.headers);
    const readKey = await issueKey(t.app, a.headers, ['tasks:read']);
    const refused = [
      await call('GET', '/projects', {}),
      await call('GET', `/projects/${p.id}`, { authorization: 'Bearer nope' }),
      await call('POST', '/projects', g.headers, { name: 'x' }),
      await call('GET', `/projects/${p.id}/members`, xApiKey(readKey.key)),
      await call('PATCH', `/projects/${p.id}`, xApiKey(readKey.key), { name: 'x' }),
      await call('DELETE', `/projects/${p.id}/members/${a.user.id}`, xApiKey(readKey.key)),
    ];
    for (const res of refused) {
      expect([401, 403]).toContain(res.statusCode);
      expectPrivate(res);
    }
    for (const version of ['v1', 'v2']) {
      const res = await t.app.inject({ method: 'GET', url: `/api/${version}/projects/${p.id}/members` });
      expect(res.statusCode).toBe(401);
      expectPrivate(res);
    }
  });
});

describe('version 2 has every route', () => {
  it('PATCH/DELETE projects, POST/PATCH/DELETE members answer as in version 1, with v2 Locations', async () => {
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const p = await createProject(t.app, a.headers);
    const v2 = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
      t.app.inject({ method, url: `/api/v2${url}`, headers: a.headers, ...(payload ? { payload } : {}) });
    const patched = await v2('PATCH', `/projects/${p.id}`, { name: 'Two' });
    expect(patched.statusCode).toBe(200);
    expect(patched.headers.etag).toBe('"2"');
    const added = await v2('POST', `/projects/${p.id}/members`, { email: b.user.email, role: 'viewer' });
    expect(added.statusCode).toBe(201);
    expect(added.headers.location).toBe(`/api/v2/projects/${p.id}/members/${b.user.id}`);
    expect((await v2('GET', `/projects/${p.id}/members/${b.user.id}`)).json().role).toBe('viewer');
    expect(
      (await v2('PATCH', `/projects/${p.id}/members/${b.user.id}`, { role: 'editor' })).json().role,
    ).toBe('editor');
    expect((await v2('DELETE', `/projects/${p.id}/members/${b.user.id}`)).statusCode).toBe(204);
    expect((await v2('DELETE', `/projects/${p.id}`)).statusCode).toBe(204);
    expect((await v2('GET', `/projects/${p.id}`)).statusCode).toBe(404);
  });
});

describe('deleting a user', () => {
  it('last owner with other members → 409 last_owner (nothing goes); after an admin adds an owner, it goes and leaves', async () => {
    const admin = await signedIn(t.app, 'admin');
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const p = await createProject(t.app, a.headers);
    await addMember(t.app, a.headers, p.id, b.user.email, 'editor');
    const task = await taskIn(t.app, a.headers, p.id);
    const refused = await call('DELETE', `/users/${a.user.id}`, admin.headers);
    expectProblem(refused, 409, 'last_owner');
    expect((await call('GET', `/users/${a.user.id}`, admin.headers)).statusCode).toBe(200);
    await call('PATCH', `/projects/${p.id}/members/${b.user.id}`, admin.headers, { role: 'owner' });
    expect((await call('DELETE', `/users/${a.user.id}`, admin.headers)).statusCode).toBe(204);
    const project = (await call('GET', `/projects/${p.id}`, b.headers)).json() as ProjectReply;
    expect(project.ownerId).toBeNull();
    expect(await storedTask(t.app, task.id)).toMatchObject({ owner_id: null, project_id: p.id });
    const members = (await call('GET', `/projects/${p.id}/members`, b.headers)).json();
    expect(members.items.map((m: { userId: string }) => m.userId)).toEqual([b.user.id]);
  });
});
