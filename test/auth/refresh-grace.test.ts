import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { hashToken } from '../../src/modules/auth/tokens.js';
import { buildTestApp, type TestApp, testEnv } from '../helpers/app.js';
import { testDatabaseUrl } from '../helpers/database.js';
import { createUser, login, PASSWORD, type Tokens } from '../helpers/factories.js';

/** REFRESH_REUSE_GRACE: racing or retried refreshes keep the session; a real reuse still ends it. */
let t: TestApp;
let off: TestApp;
beforeAll(async () => {
  [t, off] = await Promise.all([buildTestApp(), buildTestApp({ env: { REFRESH_REUSE_GRACE: '0s' } })]);
});
afterAll(async () => Promise.all([t.close(), off.close()]));

async function session(app: FastifyInstance = t.app): Promise<Tokens> {
  return login(app, (await createUser(app)).email);
}
function refresh(refreshToken: string, app: FastifyInstance = t.app) {
  return app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken } });
}
function grant(refreshToken: string) {
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
  });
}
function me(accessToken: string, app: FastifyInstance = t.app) {
  return app.inject({
    method: 'GET',
    url: '/api/v1/users/me',
    headers: { authorization: `Bearer ${accessToken}` },
  });
}
function sessionOf(accessToken: string): string {
  return JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString()).sid;
}
/** Moves a spent token's first use into the past, as if that much time had gone by. */
async function firstUsedAgo(app: FastifyInstance, refreshToken: string, ms: number): Promise<void> {
  const result = await app.ctx.database.db
    .updateTable('refresh_tokens')
    .set({ spent_at: new Date(Date.now() - ms).toISOString() })
    .where('token_hash', '=', hashToken(refreshToken))
    .where('spent_at', 'is not', null)
    .executeTakeFirst();
  expect(Number(result.numUpdatedRows)).toBe(1);
}
async function expectSessionEnded(app: FastifyInstance, pair: { accessToken: string; refreshToken: string }) {
  expect((await me(pair.accessToken, app)).json().code).toBe('token_revoked');
  expect((await refresh(pair.refreshToken, app)).json().code).toBe('token_revoked');
}

describe('REFRESH_REUSE_GRACE (default 10s)', () => {
  it('gives two concurrent refreshes of one token the same new refresh token, and the session lives', async () => {
    const tokens = await session();
    const [a, b] = await Promise.all([refresh(tokens.refreshToken), refresh(tokens.refreshToken)]);
    expect([a?.statusCode, b?.statusCode]).toEqual([200, 200]);
    const [first, second] = [a?.json(), b?.json()];
    expect(first.refreshToken).toBe(second.refreshToken);
    expect(first.refreshToken).not.toBe(tokens.refreshToken);
    for (const pair of [first, second]) {
      expect((await me(pair.accessToken)).statusCode).toBe(200);
      expect(sessionOf(pair.accessToken)).toBe(sessionOf(tokens.accessToken));
    }
    const next = await refresh(first.refreshToken);
    expect(next.statusCode).toBe(200);
    expect(next.json().refreshToken).not.toBe(first.refreshToken);
  });

  it('answers a retry inside the grace with the same refresh token; the successor then refreshes normally', async () => {
    const tokens = await session();
    const first = (await refresh(tokens.refreshToken)).json();
    await firstUsedAgo(t.app, tokens.refreshToken, 9_000);
    const retry = await refresh(tokens.refreshToken);
    expect(retry.statusCode).toBe(200);
    expect(retry.json()).toEqual({ ...first, accessToken: expect.any(String) });
    expect(sessionOf(retry.json().accessToken)).toBe(sessionOf(tokens.accessToken));
    expect((await me(retry.json().accessToken)).statusCode).toBe(200);
    const next = await refresh(first.refreshToken);
    expect(next.statusCode).toBe(200);
    expect((await me(next.json().accessToken)).statusCode).toBe(200);
  });

  it('ends the session on a reuse after the grace', async () => {
    const tokens = await session();
    const rotated = (await refresh(tokens.refreshToken)).json();
    await firstUsedAgo(t.app, tokens.refreshToken, 10_001);
    const reuse = await refresh(tokens.refreshToken);
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json().code).toBe('refresh_token_reused');
    await expectSessionEnded(t.app, rotated);
  });

  it('ends the session on a reuse inside the grace once the successor was spent', async () => {
    const tokens = await session();
    const rotated = (await refresh(tokens.refreshToken)).json();
    const twice = (await refresh(rotated.refreshToken)).json();
    const reuse = await refresh(tokens.refreshToken);
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json().code).toBe('refresh_token_reused');
    await expectSessionEnded(t.app, twice);
  });

  it('has the same grace on the token endpoint', async () => {
    const tokens = await session();
    const [a, b] = await Promise.all([grant(tokens.refreshToken), grant(tokens.refreshToken)]);
    expect([a?.statusCode, b?.statusCode]).toEqual([200, 200]);
    expect(a?.json().refresh_token).toBe(b?.json().refresh_token);
    const retry = await grant(tokens.refreshToken);
    expect(retry.json().refresh_token).toBe(a?.json().refresh_token);
    await firstUsedAgo(t.app, tokens.refreshToken, 11_000);
    const reuse = await grant(tokens.refreshToken);
    expect(reuse.statusCode).toBe(400);
    expect(reuse.json()).toMatchObject({ error: 'invalid_grant', code: 'refresh_token_reused' });
    const successor = a?.json().refresh_token as string;
    expect((await grant(successor)).json()).toMatchObject({ error: 'invalid_grant', code: 'token_revoked' });
  });

  it('gives 10 concurrent refreshes of one token one successor (parallel transactions on PostgreSQL)', async () => {
    const tokens = await session();
    const replies = await Promise.all(Array.from({ length: 10 }, () => refresh(tokens.refreshToken)));
    expect(replies.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
    expect(new Set(replies.map((r) => r.json().refreshToken)).size).toBe(1);
    const rows = await t.app.ctx.database.db
      .selectFrom('refresh_tokens')
      .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
      .select(['refresh_tokens.spent_at', 'sessions.ended_at'])
      .where('sessions.id', '=', sessionOf(tokens.accessToken))
      .execute();
    expect(rows).toHaveLength(2);
    expect(rows.filter((r) => r.spent_at === null)).toHaveLength(1);
    expect(rows.every((r) => r.ended_at === null)).toBe(true);
    if (testDatabaseUrl) expect(t.app.ctx.database.dialect).toBe('postgres');
  });

  it('stores no refresh token in plaintext, successors included', async () => {
    const tokens = await session();
    const rotated = (await refresh(tokens.refreshToken)).json();
    const rows = await t.app.ctx.database.db.selectFrom('refresh_tokens').selectAll().execute();
    const stored = JSON.stringify(rows);
    for (const token of [tokens.refreshToken, rotated.refreshToken]) {
      expect(stored).not.toContain(token);
      expect(stored).toContain(hashToken(token));
    }
  });
});

describe('REFRESH_REUSE_GRACE=0s', () => {
  it('turns the grace off: a second use at once ends the session', async () => {
    const tokens = await session(off.app);
    const rotated = (await refresh(tokens.refreshToken, off.app)).json();
    const reuse = await refresh(tokens.refreshToken, off.app);
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json().code).toBe('refresh_token_reused');
    await expectSessionEnded(off.app, rotated);
  });

  it('lets exactly one of two concurrent refreshes win; the loser ends the session', async () => {
    const tokens = await session(off.app);
    const replies = await Promise.all([
      refresh(tokens.refreshToken, off.app),
      refresh(tokens.refreshToken, off.app),
    ]);
    expect(replies.map((r) => r.statusCode).sort()).toEqual([200, 401]);
    const winner = replies.find((r) => r.statusCode === 200)?.json();
    await expectSessionEnded(off.app, winner);
  });
});

describe('REFRESH_REUSE_GRACE configuration', () => {
  it('follows the configured grace', async () => {
    const long = await buildTestApp({ env: { REFRESH_REUSE_GRACE: '1m' } });
    try {
      const tokens = await login(long.app, (await createUser(long.app)).email, PASSWORD);
      const first = (await refresh(tokens.refreshToken, long.app)).json();
      await firstUsedAgo(long.app, tokens.refreshToken, 50_000);
      expect((await refresh(tokens.refreshToken, long.app)).json().refreshToken).toBe(first.refreshToken);
      await firstUsedAgo(long.app, tokens.refreshToken, 60_000);
      expect((await refresh(tokens.refreshToken, long.app)).json().code).toBe('refresh_token_reused');
    } finally {
      await long.close();
    }
  });

  it('defaults to 10s, takes 0s to 60s, and refuses more', () => {
    expect(loadConfig(testEnv()).refreshReuseGraceMs).toBe(10_000);
    expect(loadConfig(testEnv({ REFRESH_REUSE_GRACE: '0s' })).refreshReuseGraceMs).toBe(0);
    expect(loadConfig(testEnv({ REFRESH_REUSE_GRACE: '60s' })).refreshReuseGraceMs).toBe(60_000);
    for (const value of ['61s', '2m', '1h', 'soon']) {
      expect(() => loadConfig(testEnv({ REFRESH_REUSE_GRACE: value })), value).toThrow(/REFRESH_REUSE_GRACE/);
    }
  });
});
