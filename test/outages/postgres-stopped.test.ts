import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/migrator.js';
import { createJobQueue } from '../../src/jobs/index.js';
import type { JobType } from '../../src/lib/jobs.js';
import { baseUrlOf, openStream } from '../events/stream-client.js';
import { signedIn } from '../helpers/factories.js';
import { until } from '../helpers/wait.js';
import {
  appOn,
  capturedLog,
  expectNotReady,
  expectUnready,
  isReady,
  postgresHandle,
} from './outage-helpers.js';
import { type PrivatePostgres, postgresBinDir, startPrivatePostgres } from './private-postgres.js';

/**
 * A PostgreSQL server that stops and starts again (a restart, a failover), played by a private
 * cluster of this file (never the shared server: other files use it). While it is down, requests
 * get 503 not_ready and readiness says so; once it is back, the service, its job queue and its
 * event stream carry on by themselves.
 */

let server: PrivatePostgres;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  server = await startPrivatePostgres();
  const { handle } = postgresHandle(server.url, null);
  try {
    await migrateToLatest(handle);
  } finally {
    await handle.close();
  }
}, 60_000);

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await server?.destroy();
});

/** The server down for the length of `during`, up again afterwards even when it fails. */
async function whileStopped(during: () => Promise<void>): Promise<void> {
  await server.stop();
  try {
    await during();
  } finally {
    await server.start();
  }
}

async function app(env: Record<string, string> = {}) {
  const { handle, database } = postgresHandle(server.url, null);
  cleanups.push(() => handle.close());
  const { lines, logStream } = capturedLog();
  const t = await appOn(database, { logStream, env });
  cleanups.push(() => t.close());
  return { t, lines };
}

/** The messages of error lines: an outage is warned about, never logged as a failure. */
const serverErrors = (lines: { level: number; msg: string }[]) =>
  lines.filter((line) => line.level >= 50).map((line) => line.msg);

describe.skipIf(!postgresBinDir())('PostgreSQL stopped and started again (a private server)', () => {
  it('answers 503 not_ready while the server is down, and 2xx again once it is back', async () => {
    const { t, lines } = await app();
    const { headers } = await signedIn(t.app);
    const list = { method: 'GET' as const, url: '/api/v1/tasks', headers };
    const create = { method: 'POST' as const, url: '/api/v1/tasks', headers, payload: { title: 'down' } };
    expect((await t.app.inject(list)).statusCode).toBe(200);
    await whileStopped(async () => {
      for (let i = 0; i < 3; i += 1) {
        await expectNotReady(t.app, list);
        await expectNotReady(t.app, create);
      }
      await expectUnready(t.app);
    });
    // The connections the server ended are gone from the pool: every request is served again.
    await until(async () => (await t.app.inject(list)).statusCode === 200, 15_000);
    const replies = await Promise.all(
      Array.from({ length: 6 }, (_, i) => t.app.inject({ ...create, payload: { title: `back ${i}` } })),
    );
    expect(replies.map((res) => res.statusCode)).toEqual(Array(6).fill(201));
    await until(() => isReady(t.app), 5000);
    expect(serverErrors(lines)).toEqual([]);
  });

  it('the job queue goes on: a job that finished while the server was down is not fatal, and a job enqueued after it is back runs', async () => {
    const { handle } = postgresHandle(server.url, null);
    cleanups.push(() => handle.close());
    const { lines, logStream } = capturedLog();
    const log = pino({ level: 'info' }, logStream);
    const queue = createJobQueue(handle, { log, clock: Date.now });
    cleanups.push(() => queue.stop(1000));
    const ran: string[] = [];
    const started: string[] = [];
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const type: JobType<{ n: string }> = {
      name: 'outage-probe',
      retry: { attempts: 3, delayMs: 0 },
      handler: async ({ n }) => {
        started.push(n);
        // The first job is still running when the server stops, and ends while it is down.
        if (n === 'during') await held;
        ran.push(n);
      },
    };
    queue.define(type);
    await queue.start();
    await queue.enqueue(handle.db, type.name, { n: 'before' });
    await until(() => ran.includes('before'), 15_000);
    await queue.enqueue(handle.db, type.name, { n: 'during' });
    await until(() => started.includes('during'), 15_000);
    await whileStopped(async () => {
      release();
      await until(() => ran.includes('during'), 5000);
      // Its workers poll into a server that is not there for a few rounds.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await expect(queue.enqueue(handle.db, type.name, { n: 'refused' })).rejects.toThrow();
    });
    await queue.enqueue(handle.db, type.name, { n: 'after' });
    await until(() => ran.includes('after'), 20_000);
    expect(ran).not.toContain('refused');
    // The outage is one warning line, not an error per worker and poll.
    expect(serverErrors(lines)).toEqual([]);
    const warnings = lines.filter((line) => line.level === 40 && /database does not answer/.test(line.msg));
    expect(warnings).toHaveLength(1);
  });

  it('the event stream goes on: a stream open through the outage and one opened after it both get new events', async () => {
    const { t, lines } = await app();
    t.app.ctx.services.eventStream.configure({ recheckMs: 200, pollMs: 200 });
    const me = await signedIn(t.app);
    const base = await baseUrlOf(t.app);
    const create = async (title: string) => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: me.headers,
        payload: { title },
      });
      expect(res.statusCode, res.body).toBe(201);
      return (res.json() as { id: string }).id;
    };
    const early = await openStream(base, me.headers);
    expect(early.status).toBe(200);
    const first = await create('before');
    await early.waitFor((frames) => frames.some((f) => f.data.subject.id === first));
    await whileStopped(async () => {
      // Its checks and reads fail a few rounds; the stream stays open.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(early.ended).toBe(false);
    });
    await until(
      async () => (await t.app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200,
      15_000,
    );
    const late = await openStream(base, me.headers);
    expect(late.status).toBe(200);
    const second = await create('after');
    await early.waitFor((frames) => frames.some((f) => f.data.subject.id === second), 15_000);
    await late.waitFor((frames) => frames.some((f) => f.data.subject.id === second), 15_000);
    early.close();
    late.close();
    // Without Redis, the streams' checks and the head's polls read the database every 200 ms and
    // failed: one warning line said so, not one per stream and round. (With Redis, the checks are
    // served from the auth cache and the head from pub/sub, so nothing may have failed at all.)
    const warnings = lines.filter((line) => line.level === 40 && /event (stream|head)/.test(line.msg));
    expect(warnings.length).toBeLessThanOrEqual(1);
    for (const line of warnings) {
      expect(line.msg).toBe(
        'event streams: the database does not answer; open streams wait and read again when it is back',
      );
    }
    if (!process.env.TEST_REDIS_URL) expect(warnings).toHaveLength(1);
    expect(serverErrors(lines)).toEqual([]);
  });
});
