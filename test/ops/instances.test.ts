import type { LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createUser, login, PASSWORD, signedIn } from '../helpers/factories.js';
import { type Instances, twoInstances } from '../helpers/instances.js';
import { until } from '../helpers/wait.js';

/**
 * Several instances of one service (issue 12 item 5): two apps on one database, a and b. What
 * one does, the other honours on its next request; how b learns of it depends on the run:
 * - PostgreSQL + Redis: over pub/sub (a message's delivery is asynchronous: a moment, never a TTL);
 * - a SQLite file shared by two apps (no Redis): at once, by the file's data_version;
 * - PostgreSQL without Redis: within the contract's 5 s (b's clock is moved, never waited for).
 * Rate limits are shared only with Redis; without it the contract makes them per process, and
 * that is what is checked there. Cursors are signed with JWT_SECRET: every run.
 */

const withRedis = process.env.TEST_REDIS_URL !== undefined;
const onPostgres = process.env.TEST_DATABASE_URL !== undefined;
const mode = withRedis ? 'pub/sub' : onPostgres ? 'within 5 s' : 'data_version';

let instances: Instances | null = null;
let now = 1_000_000;
afterEach(async () => {
  await instances?.close();
  instances = null;
});

async function setUp(env: Record<string, string> = {}): Promise<Instances> {
  now = 1_000_000;
  // b's clock only moves when a test moves it: only news from a can refresh b's cache.
  instances = await twoInstances(env, () => now);
  const { a, b } = instances;
  if (withRedis) await until(() => a.ctx.services.authState.listening && b.ctx.services.authState.listening);
  return instances;
}

/** b answers `probe` with `status` (and `code`) once it has learnt of a's change, as the run promises. */
async function honoured(
  probe: () => Promise<LightMyRequestResponse>,
  status: number,
  code: string,
): Promise<void> {
  if (mode === 'within 5 s') {
    now += 4999;
    expect((await probe()).statusCode).not.toBe(status); // still trusted: the contract's bound
    now += 1;
  } else if (mode === 'pub/sub') {
    await until(async () => (await probe()).statusCode === status, 2000);
  }
  const res = await probe();
  expect(res.statusCode).toBe(status);
  expect(res.json().code).toBe(code);
}

describe(`two instances of one service (${mode})`, () => {
  it('a logout on a is honoured by b on its next request', async () => {
    const { a, b } = await setUp();
    const { headers } = await signedIn(a);
    const me = () => b.inject({ method: 'GET', url: '/api/v1/users/me', headers });
    expect((await me()).statusCode).toBe(200); // b has cached the session as live
    expect((await a.inject({ method: 'POST', url: '/api/v1/auth/logout', headers })).statusCode).toBe(204);
    await honoured(me, 401, 'token_revoked');
  });

  it('a password change on a ends the other sessions on b', async () => {
    const { a, b } = await setUp();
    const user = await createUser(a);
    const here = await login(a, user.email);
    const there = await login(b, user.email);
    const me = () =>
      b.inject({
        method: 'GET',
        url: '/api/v1/users/me',
        headers: { authorization: `Bearer ${there.accessToken}` },
      });
    expect((await me()).statusCode).toBe(200);
    const changed = await a.inject({
      method: 'POST',
      url: '/api/v1/users/me/password',
      headers: { authorization: `Bearer ${here.accessToken}` },
      payload: { currentPassword: PASSWORD, newPassword: 'a brand new passphrase 42' },
    });
    expect(changed.statusCode).toBe(204);
    await honoured(me, 401, 'token_revoked');
    // The old password is refused by b too (read from the database at every login).
    const old = await b.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email, password: PASSWORD },
    });
    expect(old.json().code).toBe('invalid_credentials');
  });

  it('disabling a user on a is honoured by b on its next request', async () => {
    const { a, b } = await setUp();
    const admin = await signedIn(a, 'admin');
    const target = await signedIn(a);
    const me = () => b.inject({ method: 'GET', url: '/api/v1/users/me', headers: target.headers });
    expect((await me()).statusCode).toBe(200);
    const disabled = await a.inject({
      method: 'PATCH',
      url: `/api/v1/users/${target.user.id}`,
      headers: admin.headers,
      payload: { disabled: true },
    });
    expect(disabled.statusCode).toBe(200);
    await honoured(me, 401, 'account_disabled');
  });

  it('a cursor issued by a is accepted by b, and leads to the same page', async () => {
    const { a, b } = await setUp();
    const { headers } = await signedIn(a);
    for (let i = 0; i < 3; i += 1) {
      const created = await a.inject({
        method: 'POST',
        url: '/api/v2/tasks',
        headers,
        payload: { title: `Task ${i}` },
      });
      expect(created.statusCode).toBe(201);
    }
    const first = await a.inject({ method: 'GET', url: '/api/v2/tasks?limit=2', headers });
    const cursor = first.json().nextCursor as string;
    expect(cursor).toEqual(expect.any(String));
    const url = `/api/v2/tasks?limit=2&cursor=${encodeURIComponent(cursor)}`;
    const onB = await b.inject({ method: 'GET', url, headers });
    const onA = await a.inject({ method: 'GET', url, headers });
    expect(onB.statusCode).toBe(200);
    expect(onB.json()).toEqual(onA.json());
    expect(onB.json().items).toHaveLength(1);
    // Signed by the shared secret: a cursor that is not a's is refused by b.
    const forged = await b.inject({ method: 'GET', url: `${url.slice(0, -4)}AAAA`, headers });
    expect(forged.json().code).toBe('invalid_cursor');
  });

  it(
    withRedis
      ? 'a rate limit is shared: spent on a, refused on b'
      : 'a rate limit is per process without Redis (contract §4): spent on a, b counts for itself',
    async () => {
      const { a, b } = await setUp({ RATE_LIMIT_MAX: '2' });
      const me = (app: typeof a) =>
        app.inject({ method: 'GET', url: '/api/v1/users/me', remoteAddress: '203.0.113.40' });
      expect((await me(a)).headers['ratelimit-remaining']).toBe('1');
      expect((await me(a)).headers['ratelimit-remaining']).toBe('0');
      const onB = await me(b);
      if (withRedis) {
        expect(onB.statusCode).toBe(429);
        expect(onB.json().code).toBe('rate_limited');
      } else {
        expect(onB.statusCode).toBe(401);
        expect(onB.headers['ratelimit-remaining']).toBe('1');
      }
    },
  );
});
