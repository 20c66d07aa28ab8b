import { createServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createUser, PASSWORD } from '../helpers/factories.js';
import { type TcpProxy, tcpProxy } from '../helpers/tcp-proxy.js';

/**
 * With REDIS_URL the counters live in Redis: instances of one service (one key prefix) share
 * them, other apps on the same Redis (other tests) do not; and a Redis that fails or stalls lets
 * requests through (fail open) with one warning line, never a 500, never a stall. Runs against
 * the CI Redis (TEST_REDIS_URL); its outages are played by a TCP proxy in front of it.
 */

const redisUrl = process.env.TEST_REDIS_URL;
const apps: TestApp[] = [];
const databases: TestDatabase[] = [];
const proxies: TcpProxy[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  for (const db of databases.splice(0)) await db.drop();
  for (const proxy of proxies.splice(0)) await proxy.close();
});

async function instance(options: Parameters<typeof buildTestApp>[0]): Promise<TestApp> {
  const t = await buildTestApp(options);
  apps.push(t);
  return t;
}

const env = { RATE_LIMIT_MAX: '3', AUTH_RATE_LIMIT_MAX: '1000', LOGIN_FAILURES_MAX: '2' };
const me = (ip: string) => ({ method: 'GET' as const, url: '/api/v1/users/me', remoteAddress: ip });
const wrongLogin = (email: string) => ({
  method: 'POST' as const,
  url: '/api/v1/auth/login',
  payload: { email, password: 'wrong password, long enough' },
});

describe.skipIf(!redisUrl)('rate limits on Redis', () => {
  it('are shared by two instances of the service (one key prefix), and by no other app', async () => {
    const db = await createTestDatabase();
    databases.push(db);
    const { migrateToLatest } = await import('../../src/db/migrator.js');
    await migrateToLatest(db.handle);
    const keyPrefix = `test-shared-${process.pid}-${Date.now()}:`;
    const a = await instance({ env, database: db, keyPrefix });
    const b = await instance({ env, database: db, keyPrefix });
    const stranger = await instance({ env });
    const ip = '203.0.113.77';
    const remaining = [];
    for (const app of [a, b, a])
      remaining.push((await app.app.inject(me(ip))).headers['ratelimit-remaining']);
    expect(remaining).toEqual(['2', '1', '0']);
    const refused = await b.app.inject(me(ip));
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'rate_limited' });
    // Another app on the same Redis counts for itself.
    expect((await stranger.app.inject(me(ip))).headers['ratelimit-remaining']).toBe('2');

    // Failed logins too: one on each instance locks the email out on both.
    const user = await createUser(a.app);
    expect((await a.app.inject(wrongLogin(user.email))).statusCode).toBe(401);
    expect((await b.app.inject(wrongLogin(user.email))).statusCode).toBe(401);
    const locked = await a.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email, password: PASSWORD },
    });
    expect(locked.statusCode).toBe(429);
    const elsewhere = await stranger.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email, password: PASSWORD },
    });
    expect(elsewhere.json()).toMatchObject({ code: 'invalid_credentials' }); // its own database, its own counter
  });

  it('fail open when Redis stalls or drops: no 500, no stall, one warning line per counter', async () => {
    const target = new URL(redisUrl ?? '');
    const proxy = await tcpProxy(target.hostname, Number(target.port || 6379));
    proxies.push(proxy);
    const { lines, logStream } = capturedLog();
    const t = await instance({
      env: { ...env, LOG_LEVEL: 'warn', REDIS_URL: `redis://127.0.0.1:${proxy.port}` },
      logStream,
    });
    await waitFor(async () => (await t.app.inject(me('203.0.113.90'))).headers['ratelimit-limit'] === '3');
    const user = await createUser(t.app);
    const warnings = (text: string) => lines.filter((line) => line.level === 40 && line.msg.includes(text));

    proxy.setMode('stall');
    // The proxy forwards nothing now: every reply below arrived without Redis answering.
    for (let i = 0; i < 5; i += 1) {
      const res = await t.app.inject(me('203.0.113.91'));
      expect(res.statusCode).toBe(401);
      expect(res.headers['ratelimit-limit']).toBeUndefined();
    }
    for (let i = 0; i < 3; i += 1) expect((await t.app.inject(wrongLogin(user.email))).statusCode).toBe(401);
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email, password: PASSWORD },
    });
    expect(login.statusCode).toBe(200);
    expect(warnings('rate limits are not enforced')).toHaveLength(1);
    expect(warnings('login lock-outs are not enforced')).toHaveLength(1);

    proxy.setMode('reset');
    for (let i = 0; i < 5; i += 1) {
      const res = await t.app.inject(me('203.0.113.92'));
      expect(res.statusCode).toBe(401);
      expect(res.headers['ratelimit-limit']).toBeUndefined();
    }
    expect((await t.app.inject(wrongLogin(user.email))).statusCode).toBe(401);
    // Still one line each: the warning repeats at most once a minute.
    expect(warnings('rate limits are not enforced')).toHaveLength(1);
    expect(warnings('login lock-outs are not enforced')).toHaveLength(1);

    // Back: the client reconnects and the limits apply again.
    proxy.setMode('pass');
    await waitFor(async () => (await t.app.inject(me('203.0.113.93'))).headers['ratelimit-limit'] === '3');
  });
});

/** The app's log lines, parsed, and the stream that collects them. */
function capturedLog(): { lines: { level: number; msg: string }[]; logStream: Writable } {
  const lines: { level: number; msg: string }[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { lines, logStream };
}

describe('rate limits with a REDIS_URL where no Redis answers', () => {
  it('fail open from the first request: no 500, no stall, one warning line per counter', async () => {
    // A server that takes the connection and never answers: the client never becomes ready.
    const silent = createServer(() => {});
    const sockets: Socket[] = [];
    silent.on('connection', (socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const { lines, logStream } = capturedLog();
      const t = await instance({
        env: { ...env, LOG_LEVEL: 'warn', REDIS_URL: `redis://127.0.0.1:${port}` },
        logStream,
      });
      const user = await createUser(t.app);
      for (let i = 0; i < 5; i += 1) {
        const res = await t.app.inject(me('203.0.113.95'));
        expect(res.statusCode).toBe(401);
        expect(res.headers['ratelimit-limit']).toBeUndefined();
      }
      for (let i = 0; i < 3; i += 1)
        expect((await t.app.inject(wrongLogin(user.email))).statusCode).toBe(401);
      const login = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: user.email, password: PASSWORD },
      });
      expect(login.statusCode).toBe(200);
      const warnings = (text: string) => lines.filter((line) => line.level === 40 && line.msg.includes(text));
      expect(warnings('rate limits are not enforced')).toHaveLength(1);
      expect(warnings('login lock-outs are not enforced')).toHaveLength(1);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

async function waitFor(check: () => Promise<boolean>, attempts = 100): Promise<void> {
  for (let i = 0; i < attempts; i += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the condition never held');
}
