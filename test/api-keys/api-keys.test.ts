import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldItems } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, PASSWORD, signedIn } from '../helpers/factories.js';
import { bearer, issueKey, xApiKey } from './helpers.js';

let t: TestApp;
/** The app's clock: real time plus what a test has moved it by. */
let offset = 0;
beforeAll(async () => {
  t = await buildTestApp({ clock: () => Date.now() + offset });
});
afterAll(async () => t.close());

type Headers = Record<string, string>;
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
const req = (method: Method, url: string, headers: Headers, payload?: object, version = 'v1') =>
  t.app.inject({ method, url: `/api/${version}${url}`, headers, ...(payload ? { payload } : {}) });
const me = (headers: Headers) => req('GET', '/users/me', headers);

function expectProblem(res: Awaited<ReturnType<typeof me>>, status: number, code: string) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json().code).toBe(code);
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition never held');
}

describe('issuing a key', () => {
  it('answers 201 with the secret once, a Location, and stores only a hash', async () => {
    const { user, headers } = await signedIn(t.app);
    const res = await req('POST', '/api-keys', headers, { name: '  CI  ', scopes: ['tasks:read'] });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(
      ['createdAt', 'expiresAt', 'id', 'key', 'lastUsedAt', 'name', 'prefix', 'scopes'].sort(),
    );
    expect(body).toMatchObject({ name: 'CI', scopes: ['tasks:read'], expiresAt: null, lastUsedAt: null });
    expect(body.key).toMatch(/^tf_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(body.key.startsWith(`${body.prefix}_`)).toBe(true);
    expect(Buffer.from(body.key.slice(body.prefix.length + 1), 'base64url')).toHaveLength(32);
    expect(res.headers.location).toBe(`/api/v1/api-keys/${body.id}`);
    expect(res.headers['cache-control']).toBe('no-store');
    // The secret is never shown again, and the database holds only its SHA-256.
    const one = await req('GET', `/api-keys/${body.id}`, headers);
    expect(one.statusCode).toBe(200);
    expect(one.json()).not.toHaveProperty('key');
    const rows = await t.db.handle.db
      .selectFrom('api_keys')
      .selectAll()
      .where('user_id', '=', user.id)
      .execute();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(body.key.slice(body.prefix.length + 1));
    expect(rows[0]?.secret_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['guest', ['tasks:read', 'tasks:write'], [['/scopes/1', 'scope_not_allowed']]],
    [
      'user',
      ['users:read', 'tasks:read', 'users:write'],
      [
        ['/scopes/0', 'scope_not_allowed'],
        ['/scopes/2', 'scope_not_allowed'],
      ],
    ],
  ] as const)(
    'refuses a %s scopes its role does not allow (422 on /scopes/<i>)',
    async (role, scopes, items) => {
      const { headers } = await signedIn(t.app, role);
      const res = await req('POST', '/api-keys', headers, { name: 'k', scopes });
      expectProblem(res, 422, 'validation_failed');
      expect(fieldItems(res)).toEqual(items);
    },
  );

  it('lets an admin hold every scope', async () => {
    const { headers } = await signedIn(t.app, 'admin');
    const key = await issueKey(t.app, headers, ['tasks:read', 'tasks:write', 'users:read', 'users:write']);
    expect(key.scopes).toHaveLength(4);
  });

  it.each([
    ['an unknown field', { name: 'k', scopes: ['tasks:read'], owner: 'x' }, [['/owner', 'unknown_field']]],
    [
      'a read-only field',
      { name: 'k', scopes: ['tasks:read'], prefix: 'tf_x' },
      [['/prefix', 'unknown_field']],
    ],
    ['no scopes', { name: 'k', scopes: [] }, [['/scopes', 'too_short']]],
    ['a scope twice', { name: 'k', scopes: ['tasks:read', 'tasks:read'] }, [['/scopes/1', 'duplicate']]],
    ['an unknown scope', { name: 'k', scopes: ['tasks:admin'] }, [['/scopes/0', 'enum']]],
    ['a blank name', { name: '  ', scopes: ['tasks:read'] }, [['/name', 'too_short']]],
    ['no name', { scopes: ['tasks:read'] }, [['/name', 'required']]],
    [
      'an expiry in the past',
      { name: 'k', scopes: ['tasks:read'], expiresAt: '2020-01-01T00:00:00Z' },
      [['/expiresAt', 'too_small']],
    ],
    [
      'an expiry that is no date-time',
      { name: 'k', scopes: ['tasks:read'], expiresAt: '2040-01-01' },
      [['/expiresAt', 'format']],
    ],
  ])('answers %s with 422', async (_name, body, items) => {
    const { headers } = await signedIn(t.app);
    const res = await req('POST', '/api-keys', headers, body);
    expectProblem(res, 422, 'validation_failed');
    expect(fieldItems(res)).toEqual(expect.arrayContaining(items));
  });

  it('keeps an expiry in canonical form, and at most 100 keys per user (409 conflict)', async () => {
    const { user, headers } = await signedIn(t.app);
    const key = await issueKey(t.app, headers, ['tasks:read'], { expiresAt: '2040-01-01T10:00:00+02:00' });
    expect(key.expiresAt).toBe('2040-01-01T08:00:00.000Z');
    for (let i = 1; i < 100; i += 1)
      await t.app.ctx.services.apiKeys.create(user.id, 'user', { name: `k${i}`, scopes: ['tasks:read'] });
    expectProblem(
      await req('POST', '/api-keys', headers, { name: 'one more', scopes: ['tasks:read'] }),
      409,
      'conflict',
    );
  });
});

describe('listing, reading and revoking', () => {
  it('lists the caller’s keys newest first: v1 pages and v2 cursors, without secrets', async () => {
    const { headers } = await signedIn(t.app);
    const other = await signedIn(t.app);
    await issueKey(t.app, other.headers, ['tasks:read']);
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1)
      ids.push((await issueKey(t.app, headers, ['tasks:read'], { name: `k${i}` })).id);
    const newestFirst = [...ids].reverse();
    const page = await req('GET', '/api-keys?page=1&size=2', headers);
    expect(page.statusCode).toBe(200);
    expect(page.json()).toMatchObject({ total: 5, page: 1, size: 2, pages: 3 });
    expect(page.json().items.map((k: { id: string }) => k.id)).toEqual(newestFirst.slice(0, 2));
    expect(JSON.stringify(page.json())).not.toContain('"key"');
    const seen: string[] = [];
    let url = '/api-keys?limit=2';
    for (;;) {
      const res = await req('GET', url, headers, undefined, 'v2');
      expect(res.statusCode).toBe(200);
      const body = res.json() as { items: { id: string }[]; nextCursor: string | null };
      seen.push(...body.items.map((k) => k.id));
      if (!body.nextCursor) break;
      expect(res.headers.link).toMatch(/rel="next"/);
      url = `/api-keys?limit=2&cursor=${encodeURIComponent(body.nextCursor)}`;
    }
    expect(seen).toEqual(newestFirst);
    // A cursor is bound to its caller.
    const first = (await req('GET', '/api-keys?limit=2', headers, undefined, 'v2')).json().nextCursor;
    expectProblem(
      await req('GET', `/api-keys?cursor=${encodeURIComponent(first)}`, other.headers, undefined, 'v2'),
      400,
      'invalid_cursor',
    );
    expectProblem(await req('GET', '/api-keys?size=101', headers), 422, 'validation_failed');
  });

  it('answers 404 for someone else’s key, on read and revoke', async () => {
    const owner = await signedIn(t.app);
    const admin = await signedIn(t.app, 'admin');
    const key = await issueKey(t.app, owner.headers, ['tasks:read']);
    expectProblem(await req('GET', `/api-keys/${key.id}`, admin.headers), 404, 'not_found');
    expectProblem(await req('DELETE', `/api-keys/${key.id}`, admin.headers), 404, 'not_found');
    expectProblem(await req('GET', '/api-keys/not-a-key', owner.headers), 404, 'not_found');
    expect((await me(xApiKey(key.key))).statusCode).toBe(200);
  });

  it('revokes with 204: the key is 401 invalid_token at once, and a second revoke is 404', async () => {
    const { headers } = await signedIn(t.app);
    const key = await issueKey(t.app, headers, ['tasks:read']);
    expect((await me(bearer(key.key))).statusCode).toBe(200); // cached now
    const res = await req('DELETE', `/api-keys/${key.id}`, headers);
    expect(res.statusCode).toBe(204);
    expectProblem(await me(bearer(key.key)), 401, 'invalid_token');
    expectProblem(await me(xApiKey(key.key)), 401, 'invalid_token');
    expectProblem(await req('DELETE', `/api-keys/${key.id}`, headers), 404, 'not_found');
    expectProblem(await req('GET', `/api-keys/${key.id}`, headers), 404, 'not_found');
  });
});

describe('authenticating with a key', () => {
  it('takes the key as Bearer and as X-API-Key; both headers at once are refused', async () => {
    const { user, headers } = await signedIn(t.app);
    const key = await issueKey(t.app, headers, ['tasks:read']);
    for (const form of [bearer(key.key), { authorization: `bearer ${key.key}` }, xApiKey(key.key)]) {
      const res = await me(form);
      expect(res.statusCode).toBe(200);
      expect(res.json().id).toBe(user.id);
    }
    expectProblem(await me({ ...bearer(key.key), ...xApiKey(key.key) }), 401, 'invalid_token');
  });

  it('answers a wrong secret with a known prefix, or a malformed key, with 401 invalid_token', async () => {
    const { headers } = await signedIn(t.app);
    const key = await issueKey(t.app, headers, ['tasks:read']);
    const last = key.key.at(-1) === 'A' ? 'B' : 'A';
    for (const value of [
      `${key.key.slice(0, -1)}${last}`,
      `${key.key}x`,
      key.prefix,
      'tf_',
      `${key.prefix}_${'A'.repeat(43)}`,
    ]) {
      const res = await me(xApiKey(value));
      expectProblem(res, 401, 'invalid_token');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="taskforge", error="invalid_token"');
    }
  });

  it('stops an expired key (the injected clock), with 401 invalid_token', async () => {
    const { headers } = await signedIn(t.app);
    const expiresAt = new Date(Date.now() + offset + 3_600_000).toISOString();
    const key = await issueKey(t.app, headers, ['tasks:read'], { expiresAt });
    expect((await me(bearer(key.key))).statusCode).toBe(200);
    offset += 3_600_000;
    try {
      expectProblem(await me(bearer(key.key)), 401, 'invalid_token');
    } finally {
      offset -= 3_600_000;
    }
    expect((await me(bearer(key.key))).statusCode).toBe(200);
  });

  it('refuses keys on the account routes with 403 forbidden, whatever their scopes', async () => {
    const { headers } = await signedIn(t.app, 'admin');
    const key = await issueKey(t.app, headers, ['tasks:read', 'tasks:write', 'users:read', 'users:write']);
    const sessionId = (await req('GET', '/auth/sessions', headers)).json().items[0].id;
    const calls: [Method, string, object?][] = [
      ['POST', '/api-keys', { name: 'k', scopes: ['tasks:read'] }],
      ['GET', '/api-keys'],
      ['GET', `/api-keys/${key.id}`],
      ['DELETE', `/api-keys/${key.id}`],
      ['GET', '/auth/sessions'],
      ['DELETE', `/auth/sessions/${sessionId}`],
      ['POST', '/auth/logout'],
      ['POST', '/auth/logout-all'],
      ['POST', '/users/me/password', { currentPassword: PASSWORD, newPassword: 'another long passphrase 9' }],
      ['PATCH', '/users/me', { name: 'Renamed by a key' }],
    ];
    for (const version of ['v1', 'v2']) {
      for (const form of [bearer(key.key), xApiKey(key.key)]) {
        for (const [method, url, body] of calls) {
          const res = await req(method, url, form, body, version);
          expect(res.statusCode, `${method} ${url}`).toBe(403);
          expect(res.json().code).toBe('forbidden');
        }
      }
    }
    // Nothing happened: the key, the session and the name are as they were.
    expect((await me(bearer(key.key))).json().name).toBe('Test User');
    expect((await me(headers)).statusCode).toBe(200);
  });

  it('lowers what a key may do with its owner’s role, on the next request, and restores it', async () => {
    const admin = await signedIn(t.app, 'admin');
    const owner = await signedIn(t.app, 'admin');
    const key = await issueKey(t.app, owner.headers, ['tasks:read', 'tasks:write', 'users:read']);
    const listUsers = () => req('GET', '/users', bearer(key.key));
    const createTask = () => req('POST', '/tasks', bearer(key.key), { title: 'by key' });
    const listTasks = () => req('GET', '/tasks', bearer(key.key));
    const setRole = (role: string) => req('PATCH', `/users/${owner.user.id}`, admin.headers, { role });
    expect((await listUsers()).statusCode).toBe(200);
    expect((await createTask()).statusCode).toBe(201);
    expect((await setRole('user')).statusCode).toBe(200);
    expectProblem(await listUsers(), 403, 'forbidden');
    expect((await createTask()).statusCode).toBe(201);
    expect((await setRole('guest')).statusCode).toBe(200);
    expectProblem(await createTask(), 403, 'forbidden');
    expect((await listTasks()).statusCode).toBe(200);
    expect((await setRole('admin')).statusCode).toBe(200);
    expect((await listUsers()).statusCode).toBe(200);
  });

  it('refuses a key whose owner’s role now allows none of its scopes, even on GET /users/me', async () => {
    const admin = await signedIn(t.app, 'admin');
    const owner = await signedIn(t.app, 'admin');
    const key = await issueKey(t.app, owner.headers, ['users:read']);
    expect((await me(bearer(key.key))).statusCode).toBe(200);
    expect((await req('PATCH', `/users/${owner.user.id}`, admin.headers, { role: 'user' })).statusCode).toBe(
      200,
    );
    expectProblem(await me(bearer(key.key)), 403, 'forbidden');
  });

  it('answers a disabled owner’s key with 401 account_disabled; re-enabled, it works again', async () => {
    const admin = await signedIn(t.app, 'admin');
    const owner = await signedIn(t.app);
    const key = await issueKey(t.app, owner.headers, ['tasks:read']);
    expect((await me(xApiKey(key.key))).statusCode).toBe(200);
    expect(
      (await req('PATCH', `/users/${owner.user.id}`, admin.headers, { disabled: true })).statusCode,
    ).toBe(200);
    expectProblem(await me(xApiKey(key.key)), 401, 'account_disabled');
    expectProblem(await me(bearer(key.key)), 401, 'account_disabled');
    expect(
      (await req('PATCH', `/users/${owner.user.id}`, admin.headers, { disabled: false })).statusCode,
    ).toBe(200);
    expect((await me(xApiKey(key.key))).statusCode).toBe(200);
  });

  it('deletes a deleted owner’s keys: 401 invalid_token, no rows left', async () => {
    const admin = await signedIn(t.app, 'admin');
    const owner = await signedIn(t.app);
    const key = await issueKey(t.app, owner.headers, ['tasks:read']);
    expect((await me(bearer(key.key))).statusCode).toBe(200);
    expect((await req('DELETE', `/users/${owner.user.id}`, admin.headers)).statusCode).toBe(204);
    expectProblem(await me(bearer(key.key)), 401, 'invalid_token');
    const left = await t.db.handle.db
      .selectFrom('api_keys')
      .select('id')
      .where('user_id', '=', owner.user.id)
      .execute();
    expect(left).toEqual([]);
  });

  it('ends the keys of an account the admin bootstrap takes over, in its transaction', async () => {
    const squatter = await createUser(t.app);
    const { login } = await import('../helpers/factories.js');
    const tokens = await login(t.app, squatter.email);
    const key = await issueKey(t.app, { authorization: `Bearer ${tokens.accessToken}` }, ['tasks:read']);
    expect((await me(bearer(key.key))).statusCode).toBe(200);
    await t.app.ctx.services.users.takeOverAccount(squatter.id, 'the operator passphrase 42');
    expectProblem(await me(bearer(key.key)), 401, 'invalid_token');
    const left = await t.db.handle.db
      .selectFrom('api_keys')
      .select('id')
      .where('user_id', '=', squatter.id)
      .execute();
    expect(left).toEqual([]);
  });

  it('keeps lastUsedAt without a write per request: at most one per key a minute', async () => {
    const { headers } = await signedIn(t.app);
    const key = await issueKey(t.app, headers, ['tasks:read']);
    const lastUsed = async () =>
      (await req('GET', `/api-keys/${key.id}`, headers)).json().lastUsedAt as string | null;
    expect(await lastUsed()).toBeNull();
    expect((await me(bearer(key.key))).statusCode).toBe(200);
    await until(async () => (await lastUsed()) !== null);
    const first = await lastUsed();
    offset += 30_000;
    try {
      for (let i = 0; i < 5; i += 1) expect((await me(bearer(key.key))).statusCode).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
      expect(await lastUsed()).toBe(first); // no write within the minute
      offset += 31_000;
      expect((await me(bearer(key.key))).statusCode).toBe(200);
      await until(async () => (await lastUsed()) !== first);
      expect(Date.parse((await lastUsed()) ?? '') - Date.parse(first ?? '')).toBeGreaterThanOrEqual(61_000);
    } finally {
      offset -= 61_000;
    }
  });
});
