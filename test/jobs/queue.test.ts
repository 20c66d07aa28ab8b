import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { createJobQueue } from '../../src/jobs/index.js';
import { type JobQueue, type JobType, longestRetrySpanMs, retryDelayMs } from '../../src/lib/jobs.js';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from '../helpers/database.js';
import { until } from '../helpers/wait.js';

const dialect = testDatabaseUrl ? 'postgres' : 'sqlite';
const dirs: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A logger whose lines the test reads. */
function capturingLog(): { log: FastifyBaseLogger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log: log as unknown as FastifyBaseLogger, lines };
}

/** A migrated database that a second handle can open too (a SQLite file, or one PostgreSQL schema). */
async function sharedDatabase(): Promise<{ first: TestDatabase; second: () => DatabaseHandle }> {
  const dir = mkdtempSync(join(tmpdir(), 'taskforge-jobs-'));
  dirs.push(dir);
  const file = join(dir, 'jobs.db');
  const first = await createTestDatabase(testDatabaseUrl ? {} : { sqliteFile: file });
  cleanups.push(() => first.drop());
  await migrateToLatest(first.handle);
  const second = () => {
    const handle = testDatabaseUrl
      ? openDatabase(
          { kind: 'postgres', connectionString: testDatabaseUrl },
          { searchPath: first.schema ?? '', poolSize: 3 },
        )
      : openDatabase({ kind: 'sqlite', filename: file });
    cleanups.push(() => handle.close());
    return handle;
  };
  return { first, second };
}

function queueOn(handle: DatabaseHandle, log?: FastifyBaseLogger): JobQueue {
  const queue = createJobQueue(handle, { log: log ?? capturingLog().log, clock: Date.now });
  cleanups.push(() => queue.stop(1000));
  return queue;
}

/** The stored state of a job, in each engine's words (SQLite: queued · running · dead; pg-boss: created · retry · active · failed). */
async function stored(handle: DatabaseHandle, id: string): Promise<{ state: string; runAt: number } | null> {
  if (handle.dialect === 'sqlite') {
    const row = await handle.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? { state: row.state, runAt: row.run_at } : null;
  }
  const { rows } = await sql<{ state: string; start_after: Date }>`
    select state, start_after from job where id = ${id}::uuid`.execute(handle.db);
  const row = rows[0];
  return row ? { state: row.state, runAt: row.start_after.getTime() } : null;
}

const dead = dialect === 'sqlite' ? 'dead' : 'failed';

function recorder(name: string, retry = { attempts: 3, delayMs: 0 }) {
  const runs: { payload: unknown; attempt: number; id: string; last: boolean }[] = [];
  let fail = 0;
  const type: JobType<unknown> = {
    name,
    retry,
    handler: async (payload, run) => {
      runs.push({ payload, ...run });
      if (fail > 0) {
        fail -= 1;
        throw new Error(`refused (${fail} more)`);
      }
    },
  };
  return { type, runs, failNext: (n: number) => (fail = n) };
}

describe('retry schedule', () => {
  it('doubles from the base delay, with jitter in [1, 2)', () => {
    const schedule = { attempts: 12, delayMs: 20_000 };
    expect(retryDelayMs(schedule, 1, () => 0)).toBe(20_000);
    expect(retryDelayMs(schedule, 1, () => 0.5)).toBe(30_000);
    expect(retryDelayMs(schedule, 3, () => 0)).toBe(80_000);
    expect(retryDelayMs(schedule, 3, () => 0.999)).toBeLessThan(160_000);
  });

  it('spans the whole schedule', () => {
    expect(longestRetrySpanMs({ attempts: 1, delayMs: 1000 })).toBe(0);
    expect(longestRetrySpanMs({ attempts: 3, delayMs: 1000 })).toBe(2000 + 4000);
  });
});

describe(`job queue (${dialect})`, () => {
  it('runs a job enqueued in a committed transaction once, and never one whose transaction rolled back', async () => {
    const { first } = await sharedDatabase();
    const queue = queueOn(first.handle);
    const job = recorder('probe');
    queue.define(job.type);
    await queue.start();
    await first.handle.db
      .transaction()
      .execute(async (trx) => {
        await queue.enqueue(trx, 'probe', { n: 'rolled back' });
        throw new Error('roll back');
      })
      .catch(() => {});
    const id = await first.handle.db.transaction().execute((trx) => queue.enqueue(trx, 'probe', { n: 1 }));
    await until(() => job.runs.length === 1);
    expect(job.runs[0]).toEqual({ payload: { n: 1 }, attempt: 1, id, last: false });
    // A finished job is gone (SQLite deletes it; pg-boss marks it completed).
    await until(async () => {
      const row = await stored(first.handle, id);
      return row === null || row.state === 'completed';
    });
    // The rolled-back one never existed: nothing else ran.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(job.runs).toHaveLength(1);
  });

  it('refuses an undefined job type at enqueue', async () => {
    const { first } = await sharedDatabase();
    const queue = queueOn(first.handle);
    await expect(
      first.handle.db.transaction().execute((trx) => queue.enqueue(trx, 'nobody', {})),
    ).rejects.toThrow(/not defined/);
  });

  it('retries a failing job on its schedule until it succeeds', async () => {
    const { first } = await sharedDatabase();
    const queue = queueOn(first.handle);
    const job = recorder('flaky', { attempts: 5, delayMs: 0 });
    queue.define(job.type);
    await queue.start();
    job.failNext(2);
    const id = await first.handle.db.transaction().execute((trx) => queue.enqueue(trx, 'flaky', { n: 2 }));
    await until(() => job.runs.length === 3, 15_000);
    expect(job.runs.map((r) => [r.id, r.attempt])).toEqual([
      [id, 1],
      [id, 2],
      [id, 3],
    ]);
  });

  it('puts the next attempt of a failed job after the backoff delay', async () => {
    const { first } = await sharedDatabase();
    const queue = queueOn(first.handle);
    const job = recorder('later', { attempts: 3, delayMs: 60_000 });
    queue.define(job.type);
    await queue.start();
    job.failNext(1);
    const before = Date.now();
    const id = await first.handle.db.transaction().execute((trx) => queue.enqueue(trx, 'later', {}));
    await until(() => job.runs.length === 1);
    await until(
      async () => (await stored(first.handle, id))?.state !== (dialect === 'sqlite' ? 'running' : 'active'),
    );
    const row = await stored(first.handle, id);
    expect(row?.state).toBe(dialect === 'sqlite' ? 'queued' : 'retry');
    // delay · 2^0 · [1, 2): between one and two minutes from the failure.
    expect(row?.runAt).toBeGreaterThanOrEqual(before + 60_000 - 1000);
    expect(row?.runAt).toBeLessThan(Date.now() + 120_000 + 1000);
  });

  it('keeps a job dead after its last attempt, and logs it', async () => {
    const { first } = await sharedDatabase();
    const { log, lines } = capturingLog();
    const queue = queueOn(first.handle, log);
    const job = recorder('doomed', { attempts: 2, delayMs: 0 });
    queue.define(job.type);
    await queue.start();
    job.failNext(10);
    const id = await first.handle.db.transaction().execute((trx) => queue.enqueue(trx, 'doomed', {}));
    await until(async () => (await stored(first.handle, id))?.state === dead, 15_000);
    expect(job.runs.map((r) => [r.attempt, r.last])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(lines.some((l) => l.msg === 'job failed for the last time: dead' && l.jobId === id)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(job.runs).toHaveLength(2);
  });

  it('honours maxAttempts and runAt given at enqueue', async () => {
    const { first } = await sharedDatabase();
    const queue = queueOn(first.handle);
    const job = recorder('options', { attempts: 5, delayMs: 0 });
    queue.define(job.type);
    await queue.start();
    job.failNext(10);
    const id = await first.handle.db
      .transaction()
      .execute((trx) => queue.enqueue(trx, 'options', {}, { maxAttempts: 1 }));
    await until(async () => (await stored(first.handle, id))?.state === dead, 15_000);
    expect(job.runs).toHaveLength(1);
    const runAt = Date.now() + 3_600_000;
    const later = await first.handle.db
      .transaction()
      .execute((trx) => queue.enqueue(trx, 'options', {}, { runAt }));
    expect(Math.abs(((await stored(first.handle, later))?.runAt ?? 0) - runAt)).toBeLessThan(1000);
  });

  it('shares the work between instances: each job runs once', async () => {
    const { first, second } = await sharedDatabase();
    const seen: string[] = [];
    const slow: JobType<{ n: number }> = {
      name: 'shared',
      retry: { attempts: 1, delayMs: 0 },
      handler: async ({ n }) => {
        seen.push(String(n));
        await new Promise((resolve) => setTimeout(resolve, 5));
      },
    };
    const queues = [queueOn(first.handle), queueOn(second()), queueOn(second())];
    for (const queue of queues) queue.define(slow);
    await first.handle.db.transaction().execute(async (trx) => {
      for (let n = 0; n < 30; n += 1) await queues[0]?.enqueue(trx, 'shared', { n });
    });
    await Promise.all(queues.map((queue) => queue.start()));
    await until(() => seen.length >= 30, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(seen.sort()).toEqual(Array.from({ length: 30 }, (_, n) => String(n)).sort());
  });

  it('lets a running job finish when it stops in time', async () => {
    const { first } = await sharedDatabase();
    const queue = queueOn(first.handle);
    let release: () => void = () => {};
    const finished: string[] = [];
    queue.define({
      name: 'long',
      retry: { attempts: 3, delayMs: 0 },
      handler: async (_payload, run) => {
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        finished.push(run.id);
      },
    });
    await queue.start();
    const id = await first.handle.db.transaction().execute((trx) => queue.enqueue(trx, 'long', {}));
    await until(
      async () => (await stored(first.handle, id))?.state === (dialect === 'sqlite' ? 'running' : 'active'),
    );
    const stopping = queue.stop(10_000);
    setTimeout(() => release(), 200);
    await stopping;
    expect(finished).toEqual([id]);
    const row = await stored(first.handle, id);
    expect(row === null || row.state === 'completed').toBe(true);
  });

  it('releases a job still running when the stop times out, and another instance runs it', async () => {
    const { first, second } = await sharedDatabase();
    const stuck = queueOn(first.handle);
    const runs: string[] = [];
    stuck.define({
      name: 'stuck',
      retry: { attempts: 3, delayMs: 0 },
      handler: async () => {
        runs.push('stuck');
        await new Promise(() => {}); // never finishes
      },
    });
    await stuck.start();
    const id = await first.handle.db.transaction().execute((trx) => stuck.enqueue(trx, 'stuck', {}));
    await until(() => runs.length === 1);
    await stuck.stop(1000);
    const other = queueOn(second());
    other.define({
      name: 'stuck',
      retry: { attempts: 3, delayMs: 0 },
      handler: async (_payload, run) => {
        runs.push(`other:${run.id}`);
      },
    });
    await other.start();
    await until(() => runs.length === 2, 15_000);
    expect(runs).toEqual(['stuck', `other:${id}`]);
  });
});
