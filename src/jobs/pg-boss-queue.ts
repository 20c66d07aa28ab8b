import type { FastifyBaseLogger } from 'fastify';
import { CompiledQuery, type Kysely, sql } from 'kysely';
import type PgBoss from 'pg-boss';
import type { Database } from '../db/schema.js';
import { isDatabaseUnavailable } from '../lib/db-errors.js';
import type { EnqueueOptions, Executor, JobQueue, JobType } from '../lib/jobs.js';
import type { QueueDepth } from '../lib/metrics.js';
import { rateLimitedWarning } from '../lib/rate-limited-log.js';
import { JobRegistry } from './registry.js';

/**
 * PostgreSQL's engine: pg-boss 10, chosen over graphile-worker 0.17 after measuring both on this
 * machine's PostgreSQL (figures in the closing note): enqueue cost inside a transaction
 * was alike (one INSERT, ~1–2 ms), idle load was alike (pg-boss 13–21 queries per 10 s with one
 * queue, graphile-worker 10), and graphile-worker picks a job up faster (LISTEN/NOTIFY, ~3 ms
 * against pg-boss's polling, ≤ 1 s). pg-boss wins on what the queue must guarantee: a retry
 * schedule per job (graphile-worker's backoff is one fixed exp(attempt) curve with no jitter and
 * no per-type setting), exponential backoff with jitter built in, failed jobs kept in a `failed`
 * state, shutdown that waits for running jobs and then fails them back to the queue, and its
 * whole schema as plain SQL that our migration installs in our schema and transaction (0004).
 * Jobs are claimed with FOR UPDATE SKIP LOCKED, so instances share the work, one attempt each.
 * Pickup latency: a job enqueued in this process wakes its workers at once; one enqueued by
 * another process waits for the next poll.
 */

export interface PgBossQueueOptions {
  db: Kysely<Database>;
  /** The schema pg-boss's tables live in; null: the connection's current schema. */
  schema: string | null;
  log: FastifyBaseLogger;
  /** How often an idle worker polls (pg-boss accepts 0.5 s or more). */
  pollSeconds?: number;
  /** Jobs of each type this process runs at once. */
  concurrency?: number;
  /** A running job not finished by then is failed (and retried): longer than any handler runs. */
  expireSeconds?: number;
}

/**
 * pg-boss's database adapter over a Kysely executor: the pool, or the caller's transaction.
 * `dropped` (the pool's adapter) says when a failed write of pg-boss's own bookkeeping is dropped
 * instead of rejected: pg-boss writes a job's completion or failure without awaiting it, so a
 * rejection there is unhandled (and ends the process). Once the queue has stopped (a handler that
 * outlived the stop's timeout ends after the database may have closed), and while the database
 * does not answer, that write is dropped: the job's lease runs out and it is retried, as after a
 * crash.
 */
function adapter(
  executor: Kysely<Database>,
  dropped: (text: string, error: unknown) => boolean = () => false,
): PgBoss.Db {
  return {
    // pg-boss's own typing of query results.
    // biome-ignore lint/suspicious/noExplicitAny: pg-boss's Db interface takes any[]
    async executeSql(text: string, values: any[] = []) {
      try {
        const result = await executor.executeQuery(CompiledQuery.raw(text, values));
        return { rows: [...result.rows] };
      } catch (error) {
        // No rows at all: pg-boss then counts nothing affected (an empty list would be read as a row).
        // biome-ignore lint/suspicious/noExplicitAny: pg-boss's Db interface types rows as any[]
        if (dropped(text, error)) return { rows: undefined as any };
        throw error;
      }
    },
  };
}

/** pg-boss's completion and failure writes of a job it ran (plans.js completeJobs, failJobs). */
function isBookkeeping(text: string): boolean {
  return text.includes('SET completed_on = now()') || text.includes('WITH deleted_jobs AS');
}

export class PgBossJobQueue implements JobQueue {
  private readonly registry = new JobRegistry();
  private boss: Promise<PgBoss> | null = null;
  /** Set by stop(): see adapter(). */
  private stopped = false;
  private readonly workers: string[] = [];
  private working = false;
  private retry: NodeJS.Timeout | null = null;

  private readonly unavailable: (error: Error) => void;

  constructor(private readonly options: PgBossQueueOptions) {
    this.unavailable = rateLimitedWarning(
      options.log,
      'job queue: the database does not answer; jobs wait until it is back',
    );
  }

  define<P>(type: JobType<P>): void {
    this.registry.define(type);
  }

  /** pg-boss, started (maintenance runs in every process) with a queue per defined type. */
  private ready(): Promise<PgBoss> {
    this.boss ??= this.open().catch((error: unknown) => {
      // A schema that is behind (pg-boss not installed yet): try again on the next use.
      this.boss = null;
      throw error;
    });
    return this.boss;
  }

  private async open(): Promise<PgBoss> {
    const { db, log } = this.options;
    const schema =
      this.options.schema ??
      (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]?.schema;
    if (!schema) throw new Error('job queue: no schema of the search_path exists');
    // Loaded on first use: a SQLite service never pays for it at start-up.
    const { default: Boss } = await import('pg-boss');
    const boss = new Boss({
      db: adapter(db, (text, error) => {
        if (this.stopped) return true;
        if (!isBookkeeping(text) || !isDatabaseUnavailable(error)) return false;
        this.unavailable(error as Error);
        return true;
      }),
      schema,
      // Installed and upgraded by our migrations (0004), never by pg-boss at start-up.
      migrate: false,
      // No cron schedules: the clock monitor and cron workers would only add idle queries.
      schedule: false,
      supervise: true,
      // Dead jobs stay in the job table a week (then a week in pg-boss's archive) for operators.
      archiveFailedAfterSeconds: 7 * 86_400,
      pollingIntervalSeconds: this.options.pollSeconds ?? 1,
    });
    // Its workers poll every second and report each failure: while the database does not answer,
    // one line a minute says so; the workers go on polling and pick up again when it is back.
    boss.on('error', (error: unknown) => {
      if (isDatabaseUnavailable(error)) this.unavailable(error as Error);
      else log.error({ err: error }, 'job queue (pg-boss) error');
    });
    await boss.start();
    for (const type of this.registry.all()) {
      await boss.createQueue(type.name, {
        name: type.name,
        retryLimit: type.retry.attempts - 1,
        retryDelay: Math.ceil(type.retry.delayMs / 1000),
        retryBackoff: true,
        expireInSeconds: this.options.expireSeconds ?? 600,
        // 'short': a unique index lets one job wait (state created) at a time; send returns null.
        ...(type.singleton ? { policy: 'short' } : {}),
      });
    }
    return boss;
  }

  async enqueue<P>(trx: Executor, name: string, payload: P, options: EnqueueOptions = {}): Promise<string> {
    const id = await this.send(trx, name, payload, options);
    if (!id) throw new Error(`job queue: pg-boss did not accept a ${name} job`);
    return id;
  }

  async enqueueOnce<P>(
    trx: Executor,
    name: string,
    payload: P,
    options: EnqueueOptions = {},
  ): Promise<string | null> {
    if (!this.registry.get(name).singleton) throw new Error(`job type "${name}" is not a singleton`);
    // The queue's 'short' policy: a unique index refuses a second job in state created (null).
    return this.send(trx, name, payload, options);
  }

  private async send<P>(
    trx: Executor,
    name: string,
    payload: P,
    options: EnqueueOptions,
  ): Promise<string | null> {
    const type = this.registry.get(name);
    const boss = await this.ready();
    const attempts = options.maxAttempts ?? type.retry.attempts;
    const id = await boss.send(name, payload as object, {
      db: adapter(trx),
      retryLimit: attempts - 1,
      retryDelay: Math.ceil(type.retry.delayMs / 1000),
      retryBackoff: true,
      ...(options.runAt !== undefined ? { startAfter: new Date(options.runAt) } : {}),
    });
    if (id) this.wakeSoon(boss, options.runAt);
    return id;
  }

  /** The caller's transaction commits after enqueue returns: wake this process's workers then. */
  private wakeSoon(boss: PgBoss, runAt: number | undefined): void {
    if (!this.working || (runAt !== undefined && runAt > Date.now())) return;
    for (const delay of [25, 250]) {
      setTimeout(() => {
        for (const id of this.workers) boss.notifyWorker(id);
      }, delay).unref();
    }
  }

  async prepare(): Promise<void> {
    await this.ready().catch((error: unknown) => {
      this.options.log.error({ err: error }, 'job queue: cannot open pg-boss (is the schema migrated?)');
    });
  }

  async start(): Promise<void> {
    if (this.working) return;
    this.working = true;
    this.stopped = false;
    let boss: PgBoss;
    try {
      boss = await this.ready();
    } catch (error) {
      // pg-boss is not installed yet (MIGRATE_ON_START=false, schema behind): try again later.
      this.options.log.error({ err: error }, 'job queue: cannot start; trying again in 10 s');
      this.working = false;
      this.retry = setTimeout(() => void this.start(), 10_000);
      this.retry.unref();
      return;
    }
    if (!this.working) return;
    const concurrency = this.options.concurrency ?? 2;
    for (const type of this.registry.all()) {
      for (let i = 0; i < concurrency; i += 1) {
        let workerId = '';
        workerId = await boss.work<unknown>(
          type.name,
          { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: this.options.pollSeconds ?? 1 },
          async ([job]) => {
            if (!job) return;
            const attempt = job.retryCount + 1;
            const last = job.retryCount >= job.retryLimit;
            try {
              await type.handler(job.data, { id: job.id, attempt, last });
            } catch (error) {
              const fields = { job: type.name, jobId: job.id, attempt, err: (error as Error)?.message };
              if (last) this.options.log.error(fields, 'job failed for the last time: dead');
              else this.options.log.warn(fields, 'job failed: retrying');
              throw error;
            } finally {
              // pg-boss waits a whole interval after each fetch; a backlog drains without waiting.
              boss.notifyWorker(workerId);
            }
          },
        );
        this.workers.push(workerId);
      }
    }
  }

  /** pg-boss's waiting states are `created` and `retry` (below `active`; its index job_i5 covers them). */
  async depth(): Promise<QueueDepth[]> {
    const job = this.options.schema ? sql.id(this.options.schema, 'job') : sql.id('job');
    const { rows } = await sql<{ name: string; waiting: string; oldest: number | null }>`
      select name, count(*) as waiting,
        extract(epoch from now() - min(start_after) filter (where start_after <= now()))::float8 as oldest
      from ${job} where state < 'active' group by name`.execute(this.options.db);
    return rows.map((row) => ({
      job: row.name,
      waiting: Number(row.waiting),
      oldestDueSeconds: row.oldest === null ? 0 : Math.max(0, Number(row.oldest)),
    }));
  }

  async stop(timeoutMs = 5000): Promise<void> {
    this.working = false;
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    const boss = this.boss;
    this.boss = null;
    if (!boss) return;
    const started = await boss.catch(() => null);
    // Running jobs may finish within the timeout; pg-boss then fails the rest back to the queue.
    await started?.stop({ graceful: true, wait: true, close: false, timeout: timeoutMs });
  }
}
