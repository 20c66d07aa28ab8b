import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, login, PASSWORD, signedIn, uniqueEmail } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

type Headers = Record<string, string>;
const req = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, headers: Headers, payload?: object) =>
  t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload ? { payload } : {}) });

describe('/users/me', () => {
  it('reads and renames the caller; role and email cannot be set (422 unknown_field)', async () => {
    const { user, headers } = await signedIn(t.app);
    const renamed = await req('PATCH', '/users/me', headers, { name: '  New Name\u00a0' });
    expect(renamed.statusCode).toBe(200);
    expect(renamed.json()).toMatchObject({ id: user.id, name: 'New Name', role: 'user' });
    expect(renamed.json().updatedAt >= user.updatedAt).toBe(true);
    expect(renamed.headers['cache-control']).toBe('no-store');
    const escalate = await req('PATCH', '/users/me', headers, { role: 'admin', email: 'x@example.com' });
    expect(escalate.statusCode).toBe(422);
    expect(escalate.json().errors.map((e: { pointer: string; code: string }) => [e.pointer, e.code])).toEqual(
      expect.arrayContaining([
        ['/role', 'unknown_field'],
        ['/email', 'unknown_field'],
      ]),
    );
    expect((await req('GET', '/users/me', headers)).json().role).toBe('user');
  });
});

describe('admin routes', () => {
  it.each(['user', 'guest'] as const)('refuse a %s with 403 forbidden', async (role) => {
    const { headers } = await signedIn(t.app, role);
    const target = await createUser(t.app);
    for (const [method, url, body] of [
      ['GET', '/users', undefined],
      ['POST', '/users', { email: uniqueEmail(), password: PASSWORD, name: 'X' }],
      ['PATCH', `/users/${target.id}`, { name: 'X' }],
      ['DELETE', `/users/${target.id}`, undefined],
    ] as const) {
      const res = await req(method, url, headers, body);
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.json().code).toBe('forbidden');
    }
  });

  it('a 403 comes before body validation (order of checks)', async () => {
    const { headers } = await signedIn(t.app);
    const res = await req('POST', '/users', headers, { nonsense: true });
    expect(res.statusCode).toBe(403);
  });

  it('GET /users/{id}: own record for everyone, others 404 for non-admins, everyone for admins', async () => {
    const a = await signedIn(t.app);
    const b = await signedIn(t.app, 'guest');
    const admin = await signedIn(t.app, 'admin');
    expect((await req('GET', `/users/${a.user.id}`, a.headers)).statusCode).toBe(200);
    const hidden = await req('GET', `/users/${a.user.id}`, b.headers);
    expect(hidden.statusCode).toBe(404);
    expect(hidden.json().code).toBe('not_found');
    expect((await req('GET', `/users/${a.user.id}`, admin.headers)).json().email).toBe(a.user.email);
    expect((await req('GET', '/users/no-such-id', admin.headers)).statusCode).toBe(404);
    expect((await req('GET', '/users/%00bad', admin.headers)).statusCode).toBe(404);
  });

  it('POST /users creates a user of any role with Location', async () => {
    const admin = await signedIn(t.app, 'admin');
    const res = await req('POST', '/users', admin.headers, {
      email: uniqueEmail('new'),
      password: PASSWORD,
      name: 'Made',
      role: 'guest',
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ role: 'guest', disabled: false });
    expect(res.headers.location).toBe(`/api/v1/users/${res.json().id}`);
    const defaulted = await req('POST', '/users', admin.headers, {
      email: uniqueEmail(),
      password: PASSWORD,
      name: 'D',
    });
    expect(defaulted.json().role).toBe('user');
  });

  it('GET /users pages newest first and filters by q (name or email, any case) and role', async () => {
    const own = await buildTestApp();
    try {
      const admin = await signedIn(own.app, 'admin');
      const made = [];
      for (let i = 0; i < 5; i += 1) {
        made.push(
          await createUser(own.app, {
            name: i % 2 ? `Zoë ${i}` : `Other ${i}`,
            role: i === 4 ? 'guest' : 'user',
          }),
        );
      }
      const get = (query: string) =>
        own.app.inject({ method: 'GET', url: `/api/v1/users${query}`, headers: admin.headers });
      const page = (await get('?page=1&size=2')).json();
      expect(page).toMatchObject({ total: 6, page: 1, size: 2, pages: 3 });
      expect(page.items.map((u: { id: string }) => u.id)).toEqual([made[4]?.id, made[3]?.id]);
      expect((await get('?page=4&size=2')).json().items).toEqual([]);
      const zoe = (await get(`?q=${encodeURIComponent('ZOË')}`)).json();
      expect(zoe.items.map((u: { name: string }) => u.name).sort()).toEqual(['Zoë 1', 'Zoë 3']);
      expect((await get('?q=%25')).json().total).toBe(0);
      expect((await get('?role=guest')).json().items.map((u: { id: string }) => u.id)).toEqual([made[4]?.id]);
      expect((await get('?size=101')).statusCode).toBe(422);
      expect((await get('?role=root')).statusCode).toBe(422);
    } finally {
      await own.close();
    }
  });
});

describe('roles and the disabled flag take effect on the next request', () => {
  it('a demoted admin is refused on its next request with a token issued earlier', async () => {
    const admin = await signedIn(t.app, 'admin');
    const other = await signedIn(t.app, 'admin');
    expect((await req('GET', '/users', admin.headers)).statusCode).toBe(200);
    const demote = await req('PATCH', `/users/${admin.user.id}`, other.headers, { role: 'user' });
    expect(demote.statusCode).toBe(200);
    expect((await req('GET', '/users', admin.headers)).statusCode).toBe(403);
  });

  it('disabling ends the sessions: old tokens get 401 account_disabled, even after re-enabling they stay revoked', async () => {
    const admin = await signedIn(t.app, 'admin');
    const victim = await signedIn(t.app);
    const disable = await req('PATCH', `/users/${victim.user.id}`, admin.headers, { disabled: true });
    expect(disable.json().disabled).toBe(true);
    const refused = await req('GET', '/users/me', victim.headers);
    expect(refused.statusCode).toBe(401);
    expect(refused.json().code).toBe('account_disabled');
    await req('PATCH', `/users/${victim.user.id}`, admin.headers, { disabled: false });
    const after = await req('GET', '/users/me', victim.headers);
    expect(after.json().code).toBe('token_revoked');
    expect((await login(t.app, victim.user.email)).accessToken).toBeTruthy();
  });

  it('a PATCH that changes nothing keeps updatedAt', async () => {
    const admin = await signedIn(t.app, 'admin');
    const user = await createUser(t.app);
    const res = await req('PATCH', `/users/${user.id}`, admin.headers, { name: user.name, role: 'user' });
    expect(res.json().updatedAt).toBe(user.updatedAt);
  });
});

describe('the last admin', () => {
  it('cannot be demoted, disabled or deleted; an admin cannot delete itself', async () => {
    const own = await buildTestApp();
    try {
      const admin = await signedIn(own.app, 'admin');
      const patch = (body: object) =>
        own.app.inject({
          method: 'PATCH',
          url: `/api/v1/users/${admin.user.id}`,
          headers: admin.headers,
          payload: body,
        });
      for (const body of [{ role: 'user' }, { disabled: true }, { role: 'guest', disabled: true }]) {
        const res = await patch(body);
        expect(res.statusCode).toBe(409);
        expect(res.json().code).toBe('last_admin');
      }
      const self = await own.app.inject({
        method: 'DELETE',
        url: `/api/v1/users/${admin.user.id}`,
        headers: admin.headers,
      });
      expect(self.statusCode).toBe(409);
      expect(self.json().code).toBe('conflict');
      // With a second admin, the first may step down.
      await createUser(own.app, { role: 'admin' });
      expect((await patch({ role: 'user' })).statusCode).toBe(200);
    } finally {
      await own.close();
    }
  });

  it('two admins demoting each other at once: exactly one succeeds', async () => {
    const own = await buildTestApp();
    try {
      const a = await signedIn(own.app, 'admin');
      const b = await signedIn(own.app, 'admin');
      const results = await Promise.all([
        own.app.inject({
          method: 'PATCH',
          url: `/api/v1/users/${b.user.id}`,
          headers: a.headers,
          payload: { role: 'user' },
        }),
        own.app.inject({
          method: 'PATCH',
          url: `/api/v1/users/${a.user.id}`,
          headers: b.headers,
          payload: { role: 'user' },
        }),
      ]);
      const statuses = results.map((r) => r.statusCode).sort();
      // The loser is refused either as last_admin (409) or, already demoted, as forbidden (403).
      expect(statuses[0]).toBe(200);
      expect([403, 409]).toContain(statuses[1]);
      const admins = await own.app.ctx.database.db
        .selectFrom('users')
        .select('id')
        .where('role', '=', 'admin')
        .execute();
      expect(admins).toHaveLength(1);
    } finally {
      await own.close();
    }
  });
});

describe('DELETE /users/{id}', () => {
  it('deletes the user with its sessions: its tokens stop working', async () => {
    const admin = await signedIn(t.app, 'admin');
    const victim = await signedIn(t.app);
    const res = await req('DELETE', `/users/${victim.user.id}`, admin.headers);
    expect(res.statusCode).toBe(204);
    const after = await req('GET', '/users/me', victim.headers);
    expect(after.statusCode).toBe(401);
    expect(after.json().code).toBe('invalid_token');
    const sessions = await t.app.ctx.database.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', victim.user.id)
      .execute();
    expect(sessions).toEqual([]);
    expect((await req('DELETE', `/users/${victim.user.id}`, admin.headers)).statusCode).toBe(404);
  });
});
