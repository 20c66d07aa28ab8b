import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/migrator.js';
import { createJobQueue } from '../../src/jobs/index.js';
import { isDatabaseUnavailable } from '../../src/lib/db-errors.js';
import type { JobType } from '../../src/lib/jobs.js';
import type { TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from '../helpers/database.js';
import { signedIn } from '../helpers/factories.js';
import { type TcpProxy, tcpProxy } from '../helpers/tcp-proxy.js';
import { until } from '../helpers/wait.js';
import {
  appOn,
  capturedLog,
  expectNotReady,
  expectUnready,
  isReady,
  type LogLine,
  postgresHandle,
} from './outage-helpers.js';

/**
 * PostgreSQL slow or gone, played by a TCP proxy in front of the shared server (never stopped:
 * other files use it): `reset` drops every connection, `stall` accepts them and answers nothing
 * (a network partition). Requests fail fast with 503 not_ready and Retry-After, readiness says
 * so, and once the proxy passes again the service heals by itself: the pool drops the
 * connections that broke instead of handing them out again.
 */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  t: TestApp;
  proxy: TcpProxy;
  direct: TestDatabase;
  lines: LogLine[];
  headers: Record<string, string>;
}

/** An app whose database is one fresh schema of the shared PostgreSQL, reached through a proxy. */
async function setUp(): Promise<Setup> {
  const direct = await createTestDatabase();
  cleanups.push(() => direct.drop());
  // Migrated directly, with the usual bounds: only the app's traffic goes through the proxy.
  await migrateToLatest(direct.handle);
  const target = new URL(testDatabaseUrl ?? '');
  const proxy = await tcpProxy(target.hostname, Number(target.port || 5432));
  const url = new URL(testDatabaseUrl ?? '');
  url.host = `127.0.0.1:${proxy.port}`;
  const { handle, database } = postgresHandle(url.href, direct.schema);
  cleanups.push(() => handle.close());
  cleanups.push(() => proxy.close());
  const { lines, logStream } = capturedLog();
  const t = await appOn(database, { logStream });
  let closed: Promise<void> | null = null;
  const close = t.close;
  t.close = () => {
    closed ??= close();
    return closed;
  };
  cleanups.push(() => t.close());
  const { headers } = await signedIn(t.app);
  return { t, proxy, direct, lines, headers };
}

const createTask = (headers: Record<string, string>, title = 'during an outage') => ({
  method: 'POST' as const,
  url: '/api/v1/tasks',
  headers,
  payload: { title },
});
const listTasks = (headers: Record<string, string>) => ({
  method: 'GET' as const,
  url: '/api/v1/tasks',
  headers,
});

/** Requests succeed again through the same app: the pool has healed. */
async function expectServing({ t, headers }: Setup): Promise<void> {
  await until(async () => (await t.app.inject(listTasks(headers))).statusCode === 200, 15_000);
  // Every connection of the pool (3) is used at once, so none of them is a stalled one left over.
  const replies = await Promise.all(
    Array.from({ length: 6 }, (_, i) => t.app.inject(createTask(headers, `after ${i}`))),
  );
  expect(replies.map((res) => res.statusCode)).toEqual(Array(6).fill(201));
  await until(() => isReady(t.app), 5000);
}

describe.skipIf(!testDatabaseUrl)('PostgreSQL behind a proxy that fails', () => {
  it('reset: 503 not_ready at once, readiness 503, one warning line; then it heals', async () => {
    const s = await setUp();
    expect((await s.t.app.inject(listTasks(s.headers))).statusCode).toBe(200);
    s.proxy.setMode('reset');
    for (let i = 0; i < 4; i += 1) {
      await expectNotReady(s.t.app, listTasks(s.headers));
      await expectNotReady(s.t.app, createTask(s.headers));
    }
    await expectUnready(s.t.app);
    const warnings = (text: string) => s.lines.filter((line) => line.level === 40 && line.msg.includes(text));
    // One line each, not one per request or per probe.
    expect(warnings('requests get 503 not_ready')).toHaveLength(1);
    expect(warnings('readiness: the database does not answer')).toHaveLength(1);
    expect(s.lines.filter((line) => line.level >= 50)).toEqual([]);
    s.proxy.setMode('pass');
    await expectServing(s);
  });

  it('stall: 503 not_ready within the bounds, not a hang; the stalled connections are dropped and it heals', async () => {
    const s = await setUp();
    // Every connection of the pool is open (and idle) when the network stalls.
    await Promise.all(Array.from({ length: 3 }, () => s.t.app.inject(listTasks(s.headers))));
    s.proxy.setMode('stall');
    // More requests at once than the pool has connections: the rest wait for one, boundedly.
    const replies = Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        i % 2
          ? expectNotReady(s.t.app, createTask(s.headers))
          : expectNotReady(s.t.app, listTasks(s.headers)),
      ),
    );
    await replies;
    await expectNotReady(s.t.app, listTasks(s.headers));
    await expectUnready(s.t.app);
    s.proxy.setMode('pass');
    await expectServing(s);
  });

  it('readiness answers 503 within its bound while stalled connections hold the whole pool', async () => {
    const s = await setUp();
    s.proxy.setMode('stall');
    // Three requests hold the three connections on a silent server.
    const held = Array.from({ length: 3 }, () => s.t.app.inject(listTasks(s.headers)));
    const started = Date.now();
    await expectUnready(s.t.app);
    // The health check's own bound is 2 s (a loaded machine may add some).
    expect(Date.now() - started).toBeLessThan(8000);
    for (const res of await Promise.all(held)) expect(res.statusCode).toBe(503);
    s.proxy.setMode('pass');
    await until(() => isReady(s.t.app), 15_000);
  });

  it('a transaction cut in the middle is rolled back: nothing of it is kept', async () => {
    const s = await setUp();
    const { db } = s.t.app.ctx.database;
    for (const mode of ['reset', 'stall'] as const) {
      const marker = `cut-${mode}-${Date.now()}`;
      const attempt = s.t.app.ctx.changes.transaction(db, async (trx) => {
        await trx.updateTable('users').set({ name: marker }).execute();
        s.proxy.setMode(mode);
        await sql`select 1`.execute(trx);
      });
      const error = await attempt.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).not.toBeNull();
      expect(isDatabaseUnavailable(error)).toBe(true);
      s.proxy.setMode('pass');
      // Read directly (not through the proxy): no user got the name.
      const renamed = await s.direct.handle.db
        .selectFrom('users')
        .select('id')
        .where('name', '=', marker)
        .execute();
      expect(renamed).toEqual([]);
    }
    await expectServing(s);
  });

  it('the job queue picks up again after a stall: its workers do not keep the stalled connections', async () => {
    const s = await setUp();
    const queue = createJobQueue(s.t.app.ctx.database, { log: s.t.app.log, clock: Date.now });
    cleanups.push(() => queue.stop(1000));
    const ran: string[] = [];
    const type: JobType<{ n: string }> = {
      name: 'stall-probe',
      retry: { attempts: 3, delayMs: 0 },
      handler: async ({ n }) => {
        ran.push(n);
      },
    };
    queue.define(type);
    await queue.start();
    const { db } = s.t.app.ctx.database;
    await queue.enqueue(db, type.name, { n: 'before' });
    await until(() => ran.includes('before'), 15_000);
    s.proxy.setMode('stall');
    // Its workers' polls hang on the silent connections until the client's query timeout.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    s.proxy.setMode('pass');
    await until(async () => {
      try {
        await queue.enqueue(db, type.name, { n: 'after' });
        return true;
      } catch {
        return false;
      }
    }, 15_000);
    await until(() => ran.includes('after'), 20_000);
    expect(s.lines.filter((line) => line.level >= 50).map((line) => line.msg)).toEqual([]);
  });

  it('app close stays bounded while the database does not answer', async () => {
    const s = await setUp();
    s.proxy.setMode('stall');
    await expectNotReady(s.t.app, listTasks(s.headers));
    const started = Date.now();
    await s.t.close();
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
