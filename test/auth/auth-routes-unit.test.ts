import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { AppContext } from '../../src/lib/module.js';
import { defineModule } from '../../src/lib/module.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, login, PASSWORD, uniqueEmail } from '../helpers/factories.js';

/**
 * The handlers of the auth routes (auth.routes.ts, token.routes.ts, sessions.routes.ts), one app
 * for the file: each one's status, body, headers and the rows it leaves. Lean on purpose: the
 * mutation run (vitest.mutation.config.ts) reruns it for each mutant of those handlers.
 */

const FORM = 'application/x-www-form-urlencoded';
const GRACE_MS = 10_000;
const DAY = 24 * 3_600_000;

let t: TestApp;
let app: FastifyInstance;

/**
 * A hook after authentication that drops the session of a caller who asks (header
 * x-test-no-session): a principal without a session that the route's policy still lets through.
 */
const sessionless = defineModule({
  name: 'test-sessionless',
  install: async (instance) => {
    instance.addHook('onRequest', async (request) => {
      if (request.headers['x-test-no-session'] && request.principal) {
        request.principal = { ...request.principal, sessionId: null };
      }
    });
  },
});

/**
 * Stryker's runner provides `mode` and reruns this file in one process for each mutant it reaches:
 * there the first run's app serves every later one (a build costs about 1.5 s, the tests less), as
 * a mutant of a handler is switched on per request; elsewhere the file builds and closes its own.
 */
const underStryker = (inject as (key: string) => unknown)('mode') !== undefined;
const kept = globalThis as { authRoutesApp?: Promise<TestApp> };

function build(): Promise<TestApp> {
  return buildTestApp({
    clock: () => Date.now(),
    modules: [sessionless],
    // The mutation run has no global setup: no OpenAPI documents to hold the replies to.
    recordStatuses: Boolean(inject('contractDocuments')),
  });
}

beforeAll(async () => {
  if (underStryker) {
    kept.authRoutesApp ??= build();
    t = await kept.authRoutesApp.catch((error: unknown) => {
      kept.authRoutesApp = undefined;
      throw error;
    });
  } else {
    t = await build();
  }
  app = t.app;
});
afterAll(async () => {
  if (!underStryker) await t?.close();
});
afterEach(() => {
  vi.useRealTimers();
});

const post = (url: string, payload?: object, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, headers, ...(payload ? { payload } : {}) });

const form = (fields: Record<string, string>, contentType = FORM) =>
  app.inject({
    method: 'POST',
    url: '/api/v1/auth/token',
    headers: { 'content-type': contentType },
    payload: new URLSearchParams(fields).toString(),
  });

const bearer = (accessToken: string) => ({ authorization: `Bearer ${accessToken}` });

const sessionRows = (userId: string) =>
  t.db.handle.db
    .selectFrom('sessions')
    .select(['id', 'user_agent', 'ip', 'ended_reason'])
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();

async function sessionIdOf(accessToken: string): Promise<string> {
  const res = await app.inject({ url: '/api/v1/auth/sessions', headers: bearer(accessToken) });
  const current = (res.json() as { items: { id: string; current: boolean }[] }).items.find((s) => s.current);
  if (!current) throw new Error(`no current session: ${res.body}`);
  return current.id;
}

describe('POST /auth/register', () => {
  it('creates the account: 201, its Location under the version, replayed for its Idempotency-Key', async () => {
    const email = uniqueEmail('reg');
    const body = { email, password: PASSWORD, name: 'Reg' };
    const res = await post('/api/v2/auth/register', body, { 'idempotency-key': `reg-${email}` });
    expect(res.statusCode).toBe(201);
    const user = res.json() as { id: string; email: string; role: string };
    expect(user).toMatchObject({ email, name: 'Reg', role: 'user', disabled: false });
    expect(res.headers.location).toBe(`/api/v2/users/${user.id}`);
    const again = await post('/api/v2/auth/register', body, { 'idempotency-key': `reg-${email}` });
    expect(again.statusCode).toBe(201);
    expect(again.headers.location).toBe(`/api/v2/users/${user.id}`);
    expect(again.body).toBe(res.body);
    const plain = await post('/api/v1/auth/register', { ...body, email: uniqueEmail('reg') });
    expect(plain.statusCode).toBe(201);
    expect(plain.headers.location).toBe(`/api/v1/users/${(plain.json() as { id: string }).id}`);
  });

  it('answers 403 registration_closed while registration is closed, before reading the body', async () => {
    const ctx = app.ctx as { config: AppContext['config'] };
    const open = ctx.config;
    ctx.config = Object.freeze({ ...open, registrationOpen: false });
    try {
      const res = await post('/api/v1/auth/register', { not: 'valid' });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ code: 'registration_closed' });
    } finally {
      ctx.config = open;
    }
  });
});

describe('POST /auth/login, /auth/refresh', () => {
  it('logs in with a session that keeps the user agent and address, and rotates its refresh token', async () => {
    const user = await createUser(app);
    const res = await post(
      '/api/v1/auth/login',
      { email: user.email, password: PASSWORD },
      { 'user-agent': 'ua/1' },
    );
    expect(res.statusCode).toBe(200);
    const pair = res.json() as { accessToken: string; refreshToken: string; expiresIn: number };
    expect(pair).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, accessToken: expect.any(String) });
    // Without a User-Agent header, none is kept.
    await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email, password: PASSWORD },
      headers: { 'user-agent': '' },
    });
    expect((await sessionRows(user.id)).map((s) => [s.user_agent, s.ip])).toEqual([
      ['ua/1', '127.0.0.1'],
      [null, '127.0.0.1'],
    ]);
    const wrong = await post('/api/v1/auth/login', {
      email: user.email,
      password: 'not the password at all',
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ code: 'invalid_credentials' });

    const refreshed = await post('/api/v1/auth/refresh', { refreshToken: pair.refreshToken });
    expect(refreshed.statusCode).toBe(200);
    const next = refreshed.json() as { accessToken: string; refreshToken: string };
    expect(next.refreshToken).not.toBe(pair.refreshToken);
    expect(await sessionIdOf(next.accessToken)).toBe(await sessionIdOf(pair.accessToken));
    const unknown = await post('/api/v1/auth/refresh', { refreshToken: 'no-such-token' });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json()).toMatchObject({ code: 'invalid_token' });
  });
});

describe('POST /auth/logout, /auth/logout-all', () => {
  it('ends the caller session, with or without its refresh token, and refuses another one', async () => {
    const user = await createUser(app);
    const a = await login(app, user.email);
    const b = await login(app, user.email);
    const foreign = await post(
      '/api/v1/auth/logout',
      { refreshToken: b.refreshToken },
      bearer(a.accessToken),
    );
    expect(foreign.statusCode).toBe(422);
    expect(foreign.json()).toMatchObject({ errors: [{ pointer: '/refreshToken', code: 'not_found' }] });
    const bare = await post('/api/v1/auth/logout', undefined, bearer(a.accessToken));
    expect(bare.statusCode).toBe(204);
    expect(bare.body).toBe('');
    const own = await post('/api/v1/auth/logout', { refreshToken: b.refreshToken }, bearer(b.accessToken));
    expect(own.statusCode).toBe(204);
    expect((await sessionRows(user.id)).map((s) => s.ended_reason)).toEqual(['logout', 'logout']);
    const after = await app.inject({ url: '/api/v1/auth/sessions', headers: bearer(a.accessToken) });
    expect(after.statusCode).toBe(401);
    expect(after.json()).toMatchObject({ code: 'token_revoked' });
  });

  it('refuses a logout without a session: 403', async () => {
    const user = await createUser(app);
    const a = await login(app, user.email);
    const res = await post('/api/v1/auth/logout', undefined, {
      ...bearer(a.accessToken),
      'x-test-no-session': '1',
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'forbidden' });
    expect((await sessionRows(user.id)).map((s) => s.ended_reason)).toEqual([null]);
  });

  it('ends every session of the caller, and only its own', async () => {
    const user = await createUser(app);
    const other = await createUser(app);
    const a = await login(app, user.email);
    await login(app, user.email);
    await login(app, other.email);
    const res = await post('/api/v1/auth/logout-all', undefined, bearer(a.accessToken));
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect((await sessionRows(user.id)).map((s) => s.ended_reason)).toEqual(['logout_all', 'logout_all']);
    expect((await sessionRows(other.id)).map((s) => s.ended_reason)).toEqual([null]);
  });
});

describe('GET /auth/sessions, DELETE /auth/sessions/:id', () => {
  it("lists the caller's live sessions in both versions, and ends one", async () => {
    const user = await createUser(app);
    const a = await login(app, user.email);
    const b = await login(app, user.email);
    const stranger = await login(app, (await createUser(app)).email);
    const aId = await sessionIdOf(a.accessToken);
    const bId = await sessionIdOf(b.accessToken);
    const v1 = await app.inject({
      url: '/api/v1/auth/sessions?page=1&size=1',
      headers: bearer(a.accessToken),
    });
    expect(v1.statusCode).toBe(200);
    expect(v1.json()).toMatchObject({
      items: [{ id: bId, current: false }],
      total: 2,
      page: 1,
      size: 1,
      pages: 2,
    });
    const v2 = await app.inject({ url: '/api/v2/auth/sessions', headers: bearer(b.accessToken) });
    expect(v2.statusCode).toBe(200);
    expect(v2.json()).toMatchObject({
      items: [
        { id: bId, current: true },
        { id: aId, current: false },
      ],
      nextCursor: null,
    });

    const ended = await app.inject({
      method: 'DELETE',
      url: `/api/v1/auth/sessions/${aId}`,
      headers: bearer(b.accessToken),
    });
    expect(ended.statusCode).toBe(204);
    expect(ended.body).toBe('');
    expect((await sessionRows(user.id)).map((s) => s.ended_reason)).toEqual(['revoked', null]);
    const theirs = await app.inject({
      method: 'DELETE',
      url: `/api/v1/auth/sessions/${bId}`,
      headers: bearer(stranger.accessToken),
    });
    expect(theirs.statusCode).toBe(404);
  });
});

describe('POST /auth/token', () => {
  it('grants a password and a refresh_token grant in OAuth2 form, with Pragma: no-cache', async () => {
    const user = await createUser(app);
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      headers: { 'content-type': FORM, 'user-agent': 'oauth-client/2' },
      payload: new URLSearchParams({
        grant_type: 'password',
        username: user.email,
        password: PASSWORD,
        scope: 'x',
      }).toString(),
    });
    expect(res.statusCode).toBe(200);
    expect((await sessionRows(user.id)).map((s) => [s.user_agent, s.ip])).toEqual([
      ['oauth-client/2', '127.0.0.1'],
    ]);
    expect(res.headers.pragma).toBe('no-cache');
    const token = res.json() as { access_token: string; refresh_token: string };
    expect(token).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 900,
      refresh_token: expect.any(String),
    });
    const who = await app.inject({ url: '/api/v1/users/me', headers: bearer(token.access_token) });
    expect(who.json()).toMatchObject({ id: user.id });
    const refreshed = await form(
      { grant_type: 'refresh_token', refresh_token: token.refresh_token },
      'Application/X-WWW-Form-URLEncoded ; charset=UTF-8',
    );
    expect(refreshed.statusCode).toBe(200);
    const next = refreshed.json() as { access_token: string; refresh_token: string; token_type: string };
    expect(next.token_type).toBe('Bearer');
    expect(next.refresh_token).not.toBe(token.refresh_token);
    expect(await sessionIdOf(next.access_token)).toBe(await sessionIdOf(token.access_token));
  });

  it('takes form bodies only: 415 for JSON, as a plain problem', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      payload: { grant_type: 'password' },
    });
    expect(res.statusCode).toBe(415);
    const problem = res.json() as Record<string, unknown>;
    expect(problem.code).toBe('unsupported_media_type');
    expect(problem.error).toBeUndefined();
  });

  it('answers invalid_request for a bad or missing parameter, unsupported_grant_type for another grant', async () => {
    const cases: [Record<string, string>, string, string][] = [
      [
        { grant_type: 'password', username: 'x@example.com' },
        'invalid_request',
        'username and password are required',
      ],
      [
        { grant_type: 'password', password: PASSWORD },
        'invalid_request',
        'username and password are required',
      ],
      [{ grant_type: 'refresh_token' }, 'invalid_request', 'refresh_token is required'],
      [
        { grant_type: 'client_credentials' },
        'unsupported_grant_type',
        'grant_type must be password or refresh_token',
      ],
      [
        { grant_type: 'password', username: 'not an email', password: PASSWORD },
        'invalid_request',
        'The request is missing a parameter or has a bad one',
      ],
    ];
    for (const [fields, error, description] of cases) {
      const res = await form(fields);
      expect(res.statusCode, JSON.stringify(fields)).toBe(400);
      expect(res.json()).toMatchObject({
        code: 'validation_failed',
        detail: description,
        error,
        error_description: description,
      });
    }
  });

  it('answers invalid_grant with the code the JSON routes give, for each failed grant', async () => {
    const user = await createUser(app);
    const disabled = await createUser(app);
    await app.ctx.services.users.update(disabled.id, { disabled: true });
    const spent = await login(app, user.email);
    await post('/api/v1/auth/refresh', { refreshToken: spent.refreshToken });
    const ended = await login(app, user.email);
    await post('/api/v1/auth/logout', undefined, bearer(ended.accessToken));
    const old = await login(app, user.email);
    const grants: [Record<string, string>, string][] = [
      [
        { grant_type: 'password', username: user.email, password: 'not the password at all' },
        'invalid_credentials',
      ],
      [{ grant_type: 'password', username: disabled.email, password: PASSWORD }, 'account_disabled'],
      [{ grant_type: 'refresh_token', refresh_token: 'no-such-token' }, 'invalid_token'],
      [{ grant_type: 'refresh_token', refresh_token: ended.refreshToken }, 'token_revoked'],
    ];
    for (const [fields, code] of grants) {
      const res = await form(fields);
      expect(res.statusCode, code).toBe(400);
      expect(res.json()).toMatchObject({
        code,
        error: 'invalid_grant',
        error_description: expect.any(String),
      });
      const body = res.json() as { detail: string; error_description: string };
      expect(body.error_description).toBe(body.detail);
    }
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + GRACE_MS + 1000);
    const reused = await form({ grant_type: 'refresh_token', refresh_token: spent.refreshToken });
    expect(reused.json()).toMatchObject({ code: 'refresh_token_reused', error: 'invalid_grant' });
    vi.setSystemTime(Date.now() + 31 * DAY);
    const expired = await form({ grant_type: 'refresh_token', refresh_token: old.refreshToken });
    expect(expired.json()).toMatchObject({ code: 'refresh_token_expired', error: 'invalid_grant' });
  });
});

/**
 * The auth module's listeners (index.ts): once a change of a user commits, this process's cache of
 * user and session state forgets what the change made stale, so the next request sees it. Each
 * request before the change fills the cache.
 */
describe('the auth cache after changes to a user', () => {
  const me = (accessToken: string) => app.inject({ url: '/api/v1/users/me', headers: bearer(accessToken) });
  const adminList = (accessToken: string) =>
    app.inject({ url: '/api/v1/users?size=1', headers: bearer(accessToken) });
  const codeOf = (res: { json(): unknown }) => (res.json() as { code?: string }).code;

  it('sees a new role at once (changed)', async () => {
    const user = await createUser(app);
    const a = await login(app, user.email);
    expect((await adminList(a.accessToken)).statusCode).toBe(403);
    await app.ctx.services.users.update(user.id, { role: 'admin' });
    expect((await adminList(a.accessToken)).statusCode).toBe(200);
  });

  it('ends the sessions of a disabled account: re-enabled, its old tokens stay revoked (disabled)', async () => {
    const user = await createUser(app);
    const a = await login(app, user.email);
    expect((await me(a.accessToken)).statusCode).toBe(200);
    await app.ctx.services.users.update(user.id, { disabled: true });
    expect(codeOf(await me(a.accessToken))).toBe('account_disabled');
    await app.ctx.services.users.update(user.id, { disabled: false });
    expect(codeOf(await me(a.accessToken))).toBe('token_revoked');
  });

  it('forgets a deleted user and its sessions (deleted)', async () => {
    const admin = await createUser(app, { role: 'admin' });
    const user = await createUser(app);
    const a = await login(app, user.email);
    expect((await me(a.accessToken)).statusCode).toBe(200);
    await app.ctx.services.users.delete(user.id, admin.id);
    expect((await me(a.accessToken)).statusCode).toBe(401);
  });

  it('ends the sessions of a taken-over account and sees its admin role (takenOver)', async () => {
    const user = await createUser(app);
    const a = await login(app, user.email);
    expect((await adminList(a.accessToken)).statusCode).toBe(403);
    const password = 'the operator chose this long one';
    await app.ctx.services.users.takeOverAccount(user.id, password);
    expect(codeOf(await me(a.accessToken))).toBe('token_revoked');
    const operator = await login(app, user.email, password);
    expect((await adminList(operator.accessToken)).statusCode).toBe(200);
  });

  it('ends the other sessions on a password change, every one on a reset, and clears failed logins', async () => {
    const user = await createUser(app);
    const a = await login(app, user.email);
    const b = await login(app, user.email);
    expect((await me(a.accessToken)).statusCode).toBe(200);
    expect((await me(b.accessToken)).statusCode).toBe(200);
    const next = 'a changed passphrase that is long';
    await app.ctx.services.users.changePassword(user.id, await sessionIdOf(a.accessToken), PASSWORD, next);
    expect(codeOf(await me(b.accessToken))).toBe('token_revoked');
    expect((await me(a.accessToken)).statusCode).toBe(200);
    const clear = vi.spyOn(app.ctx.services.loginFailures, 'clear');
    try {
      await app.ctx.services.users.resetPassword(
        user.id,
        'a reset passphrase that is long',
        async () => true,
      );
      expect(clear).toHaveBeenCalledWith(user.email);
    } finally {
      clear.mockRestore();
    }
    expect(codeOf(await me(a.accessToken))).toBe('token_revoked');
  });
});
