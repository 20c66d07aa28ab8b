import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { baseUrlOf, headId, openStream, recordChange, type StreamClient } from '../events/stream-client.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, login, signedIn } from '../helpers/factories.js';
import { freePort } from '../helpers/free-port.js';
import { type Instances, twoInstances } from '../helpers/instances.js';
import { createProject } from '../helpers/projects.js';
import { type ProxyMode, type TcpProxy, tcpProxy } from '../helpers/tcp-proxy.js';
import { until } from '../helpers/wait.js';

/**
 * Redis gone, and back (issue 12 item 4): two instances of one service on one database; only b
 * reaches Redis through a TCP proxy, so b's link fails while a (the writer) still publishes. Both
 * shapes of an outage: `stall` (connections open, nothing answered: a partition) and `reset`
 * (every connection dropped). Never the shared Redis itself: other test files use it.
 */

const redisUrl = process.env.TEST_REDIS_URL;
const SHAPES: ProxyMode[] = ['stall', 'reset'];

let instances: Instances | null = null;
let proxy: TcpProxy | null = null;
const apps: TestApp[] = [];
const clients: StreamClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await instances?.close();
  instances = null;
  for (const t of apps.splice(0)) await t.close();
  await proxy?.close();
  proxy = null;
});

/** a on Redis, b on Redis through a proxy; b's clock never moves, so only news refreshes its cache. */
async function setUp(): Promise<Instances & { proxy: TcpProxy }> {
  const target = new URL(redisUrl ?? '');
  proxy = await tcpProxy(target.hostname, Number(target.port || 6379));
  instances = await twoInstances({}, () => 0, {
    envOfB: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` },
  });
  const { a, b } = instances;
  await until(() => a.ctx.services.authState.listening && b.ctx.services.authState.listening);
  return { ...instances, proxy };
}

async function readiness(app: FastifyInstance) {
  const res = await app.inject({ method: 'GET', url: '/health/ready' });
  return { statusCode: res.statusCode, body: res.json() as { status: string; checks: { redis: string } } };
}

type Headers = Record<string, string>;

/** Three callers b has cached as valid, and the change on a that must end each one's access. */
async function revocations(a: FastifyInstance, b: FastifyInstance) {
  const admin = await signedIn(a, 'admin');
  const loggedOut = await signedIn(a);
  const keyOwner = await signedIn(a);
  const key = await a.inject({
    method: 'POST',
    url: '/api/v1/api-keys',
    headers: keyOwner.headers,
    payload: { name: 'probe', scopes: ['tasks:read'] },
  });
  expect(key.statusCode).toBe(201);
  const disabled = await signedIn(a);
  const cases: { probe: Headers; change: () => Promise<{ statusCode: number }>; code: string }[] = [
    {
      probe: loggedOut.headers,
      change: () => a.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: loggedOut.headers }),
      code: 'token_revoked',
    },
    {
      probe: { 'x-api-key': key.json().key },
      change: () =>
        a.inject({ method: 'DELETE', url: `/api/v1/api-keys/${key.json().id}`, headers: keyOwner.headers }),
      code: 'invalid_token',
    },
    {
      probe: disabled.headers,
      change: () =>
        a.inject({
          method: 'PATCH',
          url: `/api/v1/users/${disabled.user.id}`,
          headers: admin.headers,
          payload: { disabled: true },
        }),
      code: 'account_disabled',
    },
  ];
  const me = (headers: Headers) => b.inject({ method: 'GET', url: '/api/v1/users/me', headers });
  // b caches each caller as valid.
  for (const c of cases) expect((await me(c.probe)).statusCode).toBe(200);
  return { cases, me };
}

describe.runIf(redisUrl)('Redis gone on one instance', () => {
  it.each(SHAPES)(
    "%s: b keeps answering, says degraded, honours a's revocations on its next request, and resumes when Redis is back",
    async (shape) => {
      const { a, b, proxy } = await setUp();
      const { cases, me } = await revocations(a, b);

      proxy.setMode(shape);
      // A stall looks like an open link: b notices by its heartbeat going unanswered.
      await until(() => !b.ctx.services.authState.listening);
      await until(async () => (await readiness(b)).body.checks.redis === 'down', 20_000);
      expect(await readiness(b)).toMatchObject({
        statusCode: 200,
        body: { status: 'degraded', checks: { database: 'ok', redis: 'down' } },
      });
      // a's Redis is fine: it publishes, but b cannot hear. b reads the database instead.
      for (const c of cases) {
        expect((await c.change()).statusCode).toBeLessThan(300);
        const res = await me(c.probe);
        expect(res.statusCode).toBe(401);
        expect(res.json().code).toBe(c.code);
      }
      // The service keeps answering: a login and an authenticated request on b.
      const other = await createUser(a);
      const tokens = await login(b, other.email);
      expect((await me({ authorization: `Bearer ${tokens.accessToken}` })).statusCode).toBe(200);

      proxy.setMode('pass');
      await until(() => b.ctx.services.authState.listening, 20_000);
      await until(async () => (await readiness(b)).body.status === 'ok', 20_000);
      // b trusts its cache again: a write behind it is not seen (its clock never moves)...
      const later = await signedIn(a);
      expect((await me(later.headers)).statusCode).toBe(200);
      await b.ctx.database.db
        .updateTable('users')
        .set({ role: 'guest' })
        .where('id', '=', later.user.id)
        .execute();
      expect((await b.ctx.services.authState.user(later.user.id))?.role).toBe('user');
      // ...so only pub/sub can tell it of a's next logout: revocations propagate again.
      expect(
        (await a.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: later.headers })).statusCode,
      ).toBe(204);
      await until(async () => (await me(later.headers)).statusCode === 401, 5000);
      expect((await me(later.headers)).json().code).toBe('token_revoked');
    },
    60_000,
  );

  it("a revocation made the moment b's link stalls reaches b within the contract's 5 s", async () => {
    const { a, b, proxy } = await setUp();
    const { cases, me } = await revocations(a, b);
    const [logout] = cases;
    if (!logout) throw new Error('no case');
    // b has not noticed yet: its cache is trusted until the heartbeat sent before the stall goes
    // unanswered for SUBSCRIPTION_SILENCE_MS; then it reads the database.
    proxy.setMode('stall');
    expect((await logout.change()).statusCode).toBe(204);
    await until(async () => (await me(logout.probe)).statusCode === 401, 5000);
  });

  it("a change made by an instance whose own link is down reaches the others within the contract's 5 s", async () => {
    const target = new URL(redisUrl ?? '');
    proxy = await tcpProxy(target.hostname, Number(target.port || 6379));
    let now = 1_000_000;
    // This time a, the writer, is behind the proxy; b hears Redis fine, but nothing to hear.
    instances = await twoInstances({}, () => now, {
      envOfA: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` },
    });
    const { a, b } = instances;
    await until(() => a.ctx.services.authState.listening && b.ctx.services.authState.listening);
    const { cases, me } = await revocations(a, b);
    proxy.setMode('reset');
    await until(() => !a.ctx.services.authState.listening);
    for (const c of cases) expect((await c.change()).statusCode).toBeLessThan(300);
    // a could not publish: b, whose link is live, cannot know. Its entries age out (PostgreSQL).
    expect(b.ctx.services.authState.listening).toBe(true);
    now += 5000;
    for (const c of cases) expect((await me(c.probe)).json().code).toBe(c.code);
  });

  it('the event stream on b is fed by polling while Redis is gone, and by pub/sub again after', async () => {
    const { a, b, proxy } = await setUp();
    const user = await createUser(a);
    const tokens = await login(b, user.email);
    const project = await createProject(a, user.id);
    const client = await openStream(await baseUrlOf(b), { authorization: `Bearer ${tokens.accessToken}` });
    clients.push(client);
    expect(client.status).toBe(200);
    await until(() => b.ctx.services.eventStream.hearing);

    proxy.setMode('stall');
    await until(() => !b.ctx.services.eventStream.hearing);
    await recordChange(a, project);
    const during = await headId(a);
    await client.waitFor((frames) => frames.some((f) => f.id === during));

    proxy.setMode('pass');
    await until(() => b.ctx.services.eventStream.hearing, 20_000);
    // From now on only a message can tell b.
    b.ctx.services.eventStream.configure({ pollMs: 600_000, safetyPollMs: 600_000 });
    await recordChange(a, project);
    const after = await headId(a);
    await client.waitFor((frames) => frames.some((f) => f.id === after));
  }, 60_000);

  it('rate limits fail open during a stall and count right once it ends (no reply paired with the wrong command)', async () => {
    const target = new URL(redisUrl ?? '');
    proxy = await tcpProxy(target.hostname, Number(target.port || 6379));
    const t = await buildTestApp({
      env: { RATE_LIMIT_MAX: '3', REDIS_URL: `redis://127.0.0.1:${proxy.port}` },
    });
    apps.push(t);
    const me = (ip: string) => t.app.inject({ method: 'GET', url: '/api/v1/users/me', remoteAddress: ip });
    await until(async () => (await me('203.0.113.10')).headers['ratelimit-limit'] === '3');
    proxy.setMode('stall');
    // Commands sent now never reach Redis and never get a reply.
    for (let i = 0; i < 3; i += 1)
      expect((await me('203.0.113.11')).headers['ratelimit-limit']).toBeUndefined();
    proxy.setMode('pass');
    await until(async () => (await me('203.0.113.12')).headers['ratelimit-limit'] === '3', 20_000);
    const remaining = [];
    for (let i = 0; i < 3; i += 1) remaining.push((await me('203.0.113.13')).headers['ratelimit-remaining']);
    expect(remaining).toEqual(['2', '1', '0']);
    expect((await me('203.0.113.13')).statusCode).toBe(429);
  }, 60_000);
});

describe('a REDIS_URL where nothing listens, from the start', () => {
  it('serves: ready but degraded, logins, revocations from the database, streams', async () => {
    const t = await buildTestApp({ env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}` } });
    apps.push(t);
    expect(await readiness(t.app)).toMatchObject({
      statusCode: 200,
      body: { status: 'degraded', checks: { database: 'ok', redis: 'down' } },
    });
    const { headers } = await signedIn(t.app);
    const me = () => t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers });
    expect((await me()).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers })).statusCode).toBe(
      204,
    );
    expect((await me()).json().code).toBe('token_revoked');
    expect(t.app.ctx.services.authState.listening).toBe(false);
    const other = await signedIn(t.app);
    const client = await openStream(await baseUrlOf(t.app), other.headers);
    clients.push(client);
    expect(client.status).toBe(200);
  });
});
