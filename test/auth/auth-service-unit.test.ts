import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../src/errors.js';
import type { AppContext } from '../../src/lib/module.js';
import { AuthService, type TokenPair } from '../../src/modules/auth/auth.service.js';
import { AccessTokens } from '../../src/modules/auth/tokens.js';
import { TEST_SECRET } from '../helpers/app.js';
import { buildTestServices, failure, type TestServices } from '../helpers/services.js';

/**
 * The auth service called directly, with its real repositories and the other modules' services
 * (test/helpers/services.ts: in-memory SQLite, or a PostgreSQL schema), and a fixed Date: each
 * login, token and session outcome, and the rows it leaves.
 */

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
const PASSWORD = 'correct horse battery staple 42';
const ACCESS_S = 15 * 60;
const REFRESH_S = 30 * 24 * 3600;
const GRACE_MS = 10_000;

let services: TestServices;
let ctx: AppContext;
let auth: AuthService;
let counter = 0;

beforeAll(async () => {
  services = await buildTestServices({ LOGIN_FAILURES_MAX: '2' });
  ctx = services.ctx;
  auth = ctx.services.auth;
});
afterAll(async () => services.close());
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const at = (ms: number) => new Date(T0 + ms).toISOString();
const client = { userAgent: 'ua', ip: '192.0.2.7' };

async function user(role: 'user' | 'admin' = 'user') {
  counter += 1;
  const email = `auth-unit-${counter}@example.com`;
  const created = await ctx.services.users.create({ email, password: PASSWORD, name: `u${counter}`, role });
  return { id: created.id, email };
}

function sessionIdOf(pair: TokenPair): string {
  const read = new AccessTokens(TEST_SECRET, ACCESS_S * 1000).read(pair.accessToken);
  if ('invalid' in read) throw new Error('not a token');
  return read.claims.sid;
}

const sessionRow = (id: string) =>
  ctx.database.db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const tokenRows = (sessionId: string) =>
  ctx.database.db
    .selectFrom('refresh_tokens')
    .selectAll()
    .where('session_id', '=', sessionId)
    .orderBy('created_at')
    .execute();

/**
 * Runs `meanwhile` just before the service's next transaction begins: what a parallel request
 * does between the service's read and its write.
 */
function beforeNextTransaction(meanwhile: () => Promise<unknown>) {
  const db = ctx.database.db;
  const real = db.transaction.bind(db);
  vi.spyOn(db, 'transaction').mockImplementationOnce(() => {
    const builder = real();
    const delayed: Pick<typeof builder, 'execute'> = {
      execute: async (work) => {
        await meanwhile();
        return builder.execute(work);
      },
    };
    return delayed as typeof builder;
  });
}

const invalidToken = (error: ApiError, code = 'invalid_token') => {
  expect(error.code).toBe(code);
  expect(error.status).toBe(401);
  expect(error.headers).toEqual({ 'www-authenticate': 'Bearer realm="taskforge", error="invalid_token"' });
};

describe('checkCredentials', () => {
  it('returns the account for the right password, refuses a wrong one, an unknown email and a disabled account', async () => {
    const u = await user();
    const found = await auth.checkCredentials(u.email.toUpperCase(), PASSWORD);
    expect(found).toMatchObject({ id: u.id, disabled: false });
    expect((await failure(auth.checkCredentials(u.email, 'wrong password here'))).code).toBe(
      'invalid_credentials',
    );
    const dummy = vi.spyOn(ctx.passwordHasher, 'verifyDummy');
    expect((await failure(auth.checkCredentials('nobody@example.com', PASSWORD))).code).toBe(
      'invalid_credentials',
    );
    expect(dummy).toHaveBeenCalledWith(PASSWORD);
    await ctx.services.users.update(u.id, { disabled: true });
    expect((await failure(auth.checkCredentials(u.email, PASSWORD))).code).toBe('account_disabled');
    // A wrong password to a disabled account says nothing of the account.
    expect((await failure(auth.checkCredentials(u.email, 'wrong password here'))).code).toBe(
      'invalid_credentials',
    );
  });
});

describe('login', () => {
  it('opens a session with its first refresh token and answers the pair', async () => {
    const u = await user();
    const pair = await auth.login(u.email, PASSWORD, client);
    expect(pair).toMatchObject({ tokenType: 'Bearer', expiresIn: ACCESS_S, refreshExpiresIn: REFRESH_S });
    expect(pair.refreshToken).toEqual(expect.any(String));
    const sid = sessionIdOf(pair);
    expect(await sessionRow(sid)).toMatchObject({
      user_id: u.id,
      created_at: at(0),
      user_agent: 'ua',
      ip: '192.0.2.7',
      ended_at: null,
    });
    const [token, ...more] = await tokenRows(sid);
    expect(more).toEqual([]);
    expect(token).toMatchObject({ created_at: at(0), expires_at: at(REFRESH_S * 1000), spent_at: null });
    const principal = await auth.authenticateBearer(pair.accessToken);
    expect(principal).toEqual({
      userId: u.id,
      role: 'user',
      sessionId: sid,
      scopes: null,
      apiKeyId: null,
      tokenExpiresAt: T0 + ACCESS_S * 1000,
    });
  });

  it('keeps 512 code points of the user agent, and none when there is none', async () => {
    const u = await user();
    const long = await auth.login(u.email, PASSWORD, { userAgent: '😀'.repeat(600), ip: null });
    const row = await sessionRow(sessionIdOf(long));
    expect(row.user_agent).toBe('😀'.repeat(512));
    expect(row.ip).toBeNull();
    const exact = await auth.login(u.email, PASSWORD, { userAgent: 'é'.repeat(512), ip: null });
    expect((await sessionRow(sessionIdOf(exact))).user_agent).toBe('é'.repeat(512));
    const none = await auth.login(u.email, PASSWORD, { userAgent: null, ip: '::1' });
    expect((await sessionRow(sessionIdOf(none))).user_agent).toBeNull();
    const empty = await auth.login(u.email, PASSWORD, { userAgent: '', ip: '::1' });
    expect((await sessionRow(sessionIdOf(empty))).user_agent).toBeNull();
  });

  it('counts wrong passwords per normalized email and locks it out, even for the right password', async () => {
    const u = await user();
    const limited = vi.spyOn(ctx.metrics, 'rateLimited');
    expect(await ctx.services.loginFailures.lockedFor(u.email)).toBe(0);
    await failure(auth.login(u.email.toUpperCase(), 'wrong password here', client));
    expect(await ctx.services.loginFailures.lockedFor(u.email)).toBe(0);
    await failure(auth.login(u.email.replace('auth', 'AUTH'), 'wrong password here', client));
    const wait = await ctx.services.loginFailures.lockedFor(u.email);
    expect(wait).toBeGreaterThan(0);
    expect(limited).not.toHaveBeenCalled();
    const locked = await failure(auth.login(u.email, PASSWORD, client));
    expect(locked.code).toBe('rate_limited');
    expect(locked.detail).toBe('Too many failed logins for this email; try again later');
    expect(locked.headers).toEqual({ 'retry-after': String(wait) });
    expect(limited).toHaveBeenCalledWith('login');
  });

  it('records no failure for a disabled account', async () => {
    const u = await user();
    await ctx.services.users.update(u.id, { disabled: true });
    for (let i = 0; i < 2; i++) {
      expect((await failure(auth.login(u.email, PASSWORD, client))).code).toBe('account_disabled');
    }
    expect(await ctx.services.loginFailures.lockedFor(u.email)).toBe(0);
  });

  it('passes on an error that is not about the credentials without counting it', async () => {
    const u = await user();
    vi.spyOn(ctx.services.users, 'credentials').mockRejectedValue(new ApiError('not_found'));
    for (let i = 0; i < 2; i++) {
      expect((await failure(auth.login(u.email, PASSWORD, client))).code).toBe('not_found');
    }
    vi.mocked(ctx.services.users.credentials).mockRejectedValue(new Error('boom'));
    await expect(auth.login(u.email, PASSWORD, client)).rejects.toThrow('boom');
    expect(await ctx.services.loginFailures.lockedFor(u.email)).toBe(0);
  });
});

describe('access tokens', () => {
  it('answer in the contract order: invalid, disabled, expired, revoked', async () => {
    const u = await user();
    const pair = await auth.login(u.email, PASSWORD, client);
    const sid = sessionIdOf(pair);
    invalidToken((await auth.authenticateBearer('a.b.c')) as ApiError);
    const tokens = new AccessTokens(TEST_SECRET, ACCESS_S * 1000);
    const other = await user();
    invalidToken(
      (await auth.authenticateBearer(tokens.sign({ sub: other.id, sid, typ: 'access' }))) as ApiError,
    );
    invalidToken(
      (await auth.authenticateBearer(
        tokens.sign({ sub: u.id, sid: 'no-such-session', typ: 'access' }),
      )) as ApiError,
    );
    invalidToken(
      (await auth.authenticateBearer(tokens.sign({ sub: 'no-such-user', sid, typ: 'access' }))) as ApiError,
    );
    vi.setSystemTime(T0 + ACCESS_S * 1000 + 1000);
    invalidToken((await auth.authenticateBearer(pair.accessToken)) as ApiError, 'token_expired');
    await auth.logout(sid, undefined);
    // Expired outranks revoked...
    invalidToken((await auth.authenticateBearer(pair.accessToken)) as ApiError, 'token_expired');
    vi.setSystemTime(T0);
    invalidToken((await auth.authenticateBearer(pair.accessToken)) as ApiError, 'token_revoked');
    // ...and disabled outranks both.
    await ctx.services.users.update(u.id, { disabled: true });
    invalidToken((await auth.authenticateBearer(pair.accessToken)) as ApiError, 'account_disabled');
    vi.setSystemTime(T0 + ACCESS_S * 1000 + 1000);
    invalidToken((await auth.authenticateBearer(pair.accessToken)) as ApiError, 'account_disabled');
  });

  it('carry the current role', async () => {
    const u = await user('admin');
    const pair = await auth.login(u.email, PASSWORD, client);
    expect(await auth.authenticateBearer(pair.accessToken)).toMatchObject({ userId: u.id, role: 'admin' });
  });
});

describe('API keys', () => {
  it("authenticate as their owner, with the key's scopes that the owner's role allows", async () => {
    const u = await user('admin');
    const key = await ctx.services.apiKeys.create(u.id, 'admin', {
      name: 'k',
      scopes: ['tasks:read', 'users:read'],
    });
    const used = vi.spyOn(ctx.services.apiKeys, 'recordUse');
    expect(await auth.authenticateBearer(key.key)).toEqual({
      userId: u.id,
      role: 'admin',
      sessionId: null,
      scopes: ['tasks:read', 'users:read'],
      apiKeyId: key.id,
      tokenExpiresAt: null,
    });
    expect(used).toHaveBeenCalledWith(key.id);
    used.mockClear();
    await ctx.services.users.update(u.id, { role: 'user' });
    expect(await auth.authenticateBearer(key.key)).toMatchObject({ role: 'user', scopes: ['tasks:read'] });
    await ctx.services.users.update(u.id, { disabled: true });
    invalidToken((await auth.authenticateBearer(key.key)) as ApiError, 'account_disabled');
    expect(used).toHaveBeenCalledTimes(1);
  });

  it('that are unknown, or whose owner is gone, are invalid tokens', async () => {
    const used = vi.spyOn(ctx.services.apiKeys, 'recordUse');
    invalidToken((await auth.authenticateBearer('tf_unknownkeyvalue')) as ApiError);
    const u = await user();
    const key = await ctx.services.apiKeys.create(u.id, 'user', { name: 'k', scopes: ['tasks:read'] });
    vi.spyOn(ctx.services.authState, 'user').mockResolvedValue(null);
    invalidToken((await auth.authenticateBearer(key.key)) as ApiError);
    expect(used).not.toHaveBeenCalled();
  });
});

describe('refresh', () => {
  it('rotates the token: the old one spent, a successor for the same session, the session touched', async () => {
    const u = await user();
    const first = await auth.login(u.email, PASSWORD, client);
    const sid = sessionIdOf(first);
    vi.setSystemTime(T0 + 60_000);
    const second = await auth.refresh(first.refreshToken);
    expect(second).toMatchObject({ tokenType: 'Bearer', expiresIn: ACCESS_S, refreshExpiresIn: REFRESH_S });
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(sessionIdOf(second)).toBe(sid);
    expect(await auth.authenticateBearer(second.accessToken)).toMatchObject({ userId: u.id, sessionId: sid });
    const rows = await tokenRows(sid);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ spent_at: at(60_000) });
    expect(rows[1]).toMatchObject({
      created_at: at(60_000),
      expires_at: at(60_000 + REFRESH_S * 1000),
      spent_at: null,
    });
    expect((await sessionRow(sid)).last_used_at).toBe(at(60_000));
  });

  it('refuses an unknown token, a revoked session and an expired token', async () => {
    const unknown = await failure(auth.refresh('not-a-refresh-token'));
    expect([unknown.code, unknown.status]).toEqual(['invalid_token', 401]);
    const u = await user();
    const ended = await auth.login(u.email, PASSWORD, client);
    await auth.logout(sessionIdOf(ended), ended.refreshToken);
    expect((await failure(auth.refresh(ended.refreshToken))).code).toBe('token_revoked');
    const old = await auth.login(u.email, PASSWORD, client);
    vi.setSystemTime(T0 + REFRESH_S * 1000);
    expect((await failure(auth.refresh(old.refreshToken))).code).toBe('refresh_token_expired');
    vi.setSystemTime(T0 + REFRESH_S * 1000 - 1);
    expect((await auth.refresh(old.refreshToken)).tokenType).toBe('Bearer');
  });

  it('answers the same successor within the grace, and ends the session on a reuse after it', async () => {
    const u = await user();
    const first = await auth.login(u.email, PASSWORD, client);
    const sid = sessionIdOf(first);
    const second = await auth.refresh(first.refreshToken);
    vi.setSystemTime(T0 + GRACE_MS - 1);
    const again = await auth.refresh(first.refreshToken);
    expect(again.refreshToken).toBe(second.refreshToken);
    expect(sessionIdOf(again)).toBe(sid);
    expect(await tokenRows(sid)).toHaveLength(2);
    vi.setSystemTime(T0 + GRACE_MS);
    const sessionChanged = vi.spyOn(ctx.services.authState, 'sessionChanged');
    expect((await failure(auth.refresh(first.refreshToken))).code).toBe('refresh_token_reused');
    expect(await sessionRow(sid)).toMatchObject({ ended_at: at(GRACE_MS), ended_reason: 'refresh_reuse' });
    expect(sessionChanged).toHaveBeenCalledWith(sid);
    expect((await failure(auth.refresh(second.refreshToken))).code).toBe('token_revoked');
  });

  it('within the grace, answers no successor that is spent or expired: a reuse', async () => {
    const u = await user();
    const spentFirst = await auth.login(u.email, PASSWORD, client);
    const next = await auth.refresh(spentFirst.refreshToken);
    await auth.refresh(next.refreshToken);
    expect((await failure(auth.refresh(spentFirst.refreshToken))).code).toBe('refresh_token_reused');
    expect((await sessionRow(sessionIdOf(spentFirst))).ended_reason).toBe('refresh_reuse');

    const expiring = await auth.login(u.email, PASSWORD, client);
    const sid = sessionIdOf(expiring);
    await auth.refresh(expiring.refreshToken);
    await ctx.database.db
      .updateTable('refresh_tokens')
      .set({ expires_at: at(1000) })
      .where('session_id', '=', sid)
      .where('spent_at', 'is', null)
      .execute();
    vi.setSystemTime(T0 + 999);
    expect((await auth.refresh(expiring.refreshToken)).tokenType).toBe('Bearer');
    vi.setSystemTime(T0 + 1000);
    expect((await failure(auth.refresh(expiring.refreshToken))).code).toBe('refresh_token_reused');
  });

  it('ends the session when a spent token comes back after its expiry', async () => {
    const u = await user();
    const first = await auth.login(u.email, PASSWORD, client);
    await auth.refresh(first.refreshToken);
    vi.setSystemTime(T0 + REFRESH_S * 1000 + 1);
    expect((await failure(auth.refresh(first.refreshToken))).code).toBe('refresh_token_reused');
    expect((await sessionRow(sessionIdOf(first))).ended_reason).toBe('refresh_reuse');
  });

  it('within the grace, answers no successor that is gone or of another session', async () => {
    const u = await user();
    const gone = await auth.login(u.email, PASSWORD, client);
    const goneNext = await auth.refresh(gone.refreshToken);
    await ctx.database.db
      .deleteFrom('refresh_tokens')
      .where('session_id', '=', sessionIdOf(gone))
      .where('spent_at', 'is', null)
      .execute();
    expect((await failure(auth.refresh(gone.refreshToken))).code).toBe('refresh_token_reused');
    expect((await failure(auth.refresh(goneNext.refreshToken))).code).toBe('invalid_token');

    const moved = await auth.login(u.email, PASSWORD, client);
    const elsewhere = await auth.login(u.email, PASSWORD, client);
    await auth.refresh(moved.refreshToken);
    await ctx.database.db
      .updateTable('refresh_tokens')
      .set({ session_id: sessionIdOf(elsewhere) })
      .where('session_id', '=', sessionIdOf(moved))
      .where('spent_at', 'is', null)
      .execute();
    expect((await failure(auth.refresh(moved.refreshToken))).code).toBe('refresh_token_reused');
    expect((await sessionRow(sessionIdOf(moved))).ended_reason).toBe('refresh_reuse');
  });

  it("gives the loser of a race to spend a token the winner's successor", async () => {
    const u = await user();
    const first = await auth.login(u.email, PASSWORD, client);
    let winner: TokenPair | undefined;
    beforeNextTransaction(async () => {
      winner = await auth.refresh(first.refreshToken);
    });
    const loser = await auth.refresh(first.refreshToken);
    expect(loser.refreshToken).toBe(winner?.refreshToken);
    expect(await tokenRows(sessionIdOf(first))).toHaveLength(2);
  });

  it('refuses the loser of a race whose session ended meanwhile, or went with its user', async () => {
    const u = await user();
    const ended = await auth.login(u.email, PASSWORD, client);
    beforeNextTransaction(async () => {
      await auth.refresh(ended.refreshToken);
      await auth.logout(sessionIdOf(ended), undefined);
    });
    expect((await failure(auth.refresh(ended.refreshToken))).code).toBe('token_revoked');

    const deleted = await auth.login(u.email, PASSWORD, client);
    beforeNextTransaction(() =>
      ctx.database.db.deleteFrom('refresh_tokens').where('session_id', '=', sessionIdOf(deleted)).execute(),
    );
    const error = await failure(auth.refresh(deleted.refreshToken));
    expect([error.code, error.status]).toEqual(['invalid_token', 401]);
    expect(await tokenRows(sessionIdOf(deleted))).toEqual([]);
  });

  it('gives two parallel first uses the same successor', async () => {
    const u = await user();
    const first = await auth.login(u.email, PASSWORD, client);
    const [a, b] = await Promise.all([auth.refresh(first.refreshToken), auth.refresh(first.refreshToken)]);
    expect(a.refreshToken).toBe(b.refreshToken);
    expect(await tokenRows(sessionIdOf(first))).toHaveLength(2);
  });
});

describe('sessions', () => {
  it('log out with their own refresh token only', async () => {
    const u = await user();
    const one = await auth.login(u.email, PASSWORD, client);
    const two = await auth.login(u.email, PASSWORD, client);
    const sid = sessionIdOf(one);
    for (const wrong of [two.refreshToken, 'unknown-token']) {
      const error = await failure(auth.logout(sid, wrong));
      expect(error.code).toBe('validation_failed');
      expect(error.errors).toEqual([
        { pointer: '/refreshToken', code: 'not_found', detail: "is not this session's refresh token" },
      ]);
    }
    expect((await sessionRow(sid)).ended_at).toBeNull();
    const changed = vi.spyOn(ctx.services.authState, 'sessionChanged');
    vi.setSystemTime(T0 + 5000);
    await auth.logout(sid, one.refreshToken);
    expect(await sessionRow(sid)).toMatchObject({ ended_at: at(5000), ended_reason: 'logout' });
    expect(changed).toHaveBeenCalledWith(sid);
    expect((await sessionRow(sessionIdOf(two))).ended_at).toBeNull();
  });

  it('all end together, with the reason given', async () => {
    const u = await user();
    const a = await auth.login(u.email, PASSWORD, client);
    const b = await auth.login(u.email, PASSWORD, client);
    const changed = vi.spyOn(ctx.services.authState, 'userSessionsChanged');
    expect(await auth.logoutAll(u.id)).toBe(2);
    expect(changed).toHaveBeenCalledWith(u.id);
    expect(await sessionRow(sessionIdOf(a))).toMatchObject({ ended_at: at(0), ended_reason: 'logout_all' });
    const c = await auth.login(u.email, PASSWORD, client);
    expect(await auth.logoutAll(u.id, 'cli')).toBe(1);
    expect((await sessionRow(sessionIdOf(c))).ended_reason).toBe('cli');
    expect((await sessionRow(sessionIdOf(b))).ended_reason).toBe('logout_all');
  });

  it('list newest first, a page at a time, the current one marked', async () => {
    const u = await user();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      vi.setSystemTime(T0 + i * 1000);
      ids.push(sessionIdOf(await auth.login(u.email, PASSWORD, { userAgent: `ua${i}`, ip: '::1' })));
    }
    const first = await auth.listSessions(u.id, ids[2] ?? null, { page: 1, size: 2 });
    expect(first).toEqual({
      items: [
        { id: ids[2], createdAt: at(2000), lastUsedAt: at(2000), userAgent: 'ua2', ip: '::1', current: true },
        {
          id: ids[1],
          createdAt: at(1000),
          lastUsedAt: at(1000),
          userAgent: 'ua1',
          ip: '::1',
          current: false,
        },
      ],
      total: 3,
      page: 1,
      size: 2,
      pages: 2,
    });
    const second = await auth.listSessions(u.id, null, { page: 2, size: 2 });
    expect(second.items.map((s) => [s.id, s.current])).toEqual([[ids[0], false]]);
    expect(second.total).toBe(3);

    const v2 = await auth.listSessionsAfter(u.id, ids[1] ?? null, { limit: 2, cursor: undefined });
    expect(v2.items.map((s) => [s.id, s.current])).toEqual([
      [ids[2], false],
      [ids[1], true],
    ]);
    expect(v2.nextCursor).toEqual(expect.any(String));
    const rest = await auth.listSessionsAfter(u.id, null, { limit: 2, cursor: v2.nextCursor ?? '' });
    expect(rest).toEqual({
      items: [
        { id: ids[0], createdAt: at(0), lastUsedAt: at(0), userAgent: 'ua0', ip: '::1', current: false },
      ],
      nextCursor: null,
    });
    expect((await auth.listSessionsAfter(u.id, null, { limit: 3, cursor: undefined })).nextCursor).toBeNull();

    const binding = { list: 'sessions', caller: u.id };
    const bad = [
      'not-a-cursor',
      ctx.cursors.sign({ list: 'sessions', caller: 'someone-else' }, { v: at(0), id: ids[0] }),
      ctx.cursors.sign(binding, { v: 1, id: ids[0] }),
      ctx.cursors.sign(binding, { v: at(0), id: 2 }),
      ctx.cursors.sign(binding, { id: ids[0] }),
      ctx.cursors.sign(binding, null),
    ];
    for (const cursor of bad) {
      expect((await failure(auth.listSessionsAfter(u.id, null, { limit: 2, cursor }))).code).toBe(
        'invalid_cursor',
      );
    }
    const one = await auth.listSessionsAfter(u.id, null, { limit: 1, cursor: undefined });
    expect(one.items.map((s) => s.id)).toEqual([ids[2]]);
    const next = await auth.listSessionsAfter(u.id, null, { limit: 1, cursor: one.nextCursor ?? '' });
    expect(next.items.map((s) => s.id)).toEqual([ids[1]]);
    const signed = ctx.cursors.sign(binding, { v: at(1000), id: ids[1] });
    expect(
      (await auth.listSessionsAfter(u.id, null, { limit: 2, cursor: signed })).items.map((s) => s.id),
    ).toEqual([ids[0]]);
  });

  it("end one at a time, the user's own only", async () => {
    const u = await user();
    const other = await user();
    const sid = sessionIdOf(await auth.login(u.email, PASSWORD, client));
    const changed = vi.spyOn(ctx.services.authState, 'sessionChanged');
    expect((await failure(auth.endUserSession(other.id, sid))).code).toBe('not_found');
    expect(changed).not.toHaveBeenCalled();
    vi.setSystemTime(T0 + 7000);
    await auth.endUserSession(u.id, sid);
    expect((await sessionRow(sid)).ended_at).toBe(at(7000));
    expect(changed).toHaveBeenCalledWith(sid);
    expect((await failure(auth.endUserSession(u.id, sid))).code).toBe('not_found');
  });

  it('record their use once an interval', async () => {
    const u = await user();
    const sid = sessionIdOf(await auth.login(u.email, PASSWORD, client));
    vi.setSystemTime(T0 + 3000);
    // A service of the test's own: what its constructor wires is reached by this test alone.
    const own = new AuthService(ctx, ctx.services.authState, ctx.services.loginFailures);
    own.touch(sid);
    await vi.waitFor(async () => expect((await sessionRow(sid)).last_used_at).toBe(at(3000)));
  });
});

describe('without a reuse grace', () => {
  it('rotates once, and any second use is a reuse', async () => {
    const strict = await buildTestServices({ REFRESH_REUSE_GRACE: '0s' });
    try {
      const { users, auth: service } = strict.ctx.services;
      await users.create({ email: 'no-grace@example.com', password: PASSWORD, name: 'n' });
      const first = await service.login('no-grace@example.com', PASSWORD, client);
      const second = await service.refresh(first.refreshToken);
      expect(second.refreshToken).not.toBe(first.refreshToken);
      expect((await failure(service.refresh(first.refreshToken))).code).toBe('refresh_token_reused');
    } finally {
      await strict.close();
    }
  });
});

describe('without a secret', () => {
  it('makes no token', async () => {
    const bare = await buildTestServices({ JWT_SECRET: '' });
    try {
      const u = await bare.ctx.services.users.create({
        email: 'no-secret@example.com',
        password: PASSWORD,
        name: 'n',
      });
      expect(u.id).toEqual(expect.any(String));
      await expect(bare.ctx.services.auth.login('no-secret@example.com', PASSWORD, client)).rejects.toThrow(
        'JWT_SECRET must be resolved before tokens are made or read',
      );
      await expect(bare.ctx.services.auth.refresh('x')).rejects.toThrow(ApiError);
    } finally {
      await bare.close();
    }
  });
});
