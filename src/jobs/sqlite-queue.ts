import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { Database } from '../db/schema.js';
import { isDatabaseUnavailable } from '../lib/db-errors.js';
import {
  type EnqueueOptions,
  type Executor,
  type JobQueue,
  type JobType,
  retryDelayMs,
} from '../lib/jobs.js';
import type { QueueDepth } from '../lib/metrics.js';
import { rateLimitedWarning } from '../lib/rate-limited-log.js';
import { JobRegistry } from './registry.js';

/**
 * After a claim met another connection's lock: better-sqlite3 waits out its busy timeout
 * synchronously, holding the event loop, so polling every 500 ms through a lock would hold it
 * most of the time. While the file is locked the queue looks again this much later.
 */
export const LOCKED_POLL_MS = 5000;

export interface SqliteQueueOptions {
  db: Kysely<Database>;
  log: FastifyBaseLogger;
  clock: () => number;
  /** How often an idle poller looks for due jobs; an enqueue in this process wakes it at once. */
  pollMs?: number;
  /** Jobs this process runs at once. */
  concurrency?: number;
  /**
   * How long a claim holds: a job whose process died is taken again after this. Longer than any
   * handler may run (mail gives up a connection after 30 s).
   */
  leaseMs?: number;
  random?: () => number;
}

/**
 * The embedded engine: an in-process poller over our `jobs` table. A claim is one conditional
 * UPDATE … RETURNING (SQLite has one writer at a time), so several processes on one file never
 * take one job twice; a claim is a lease, so a crashed process's job is taken again after it.
 */
export class SqliteJobQueue implements JobQueue {
  private readonly registry = new JobRegistry();
  private readonly owner = randomUUID();
  private readonly running = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private polling = false;
  private again = false;
  private readonly pollMs: number;
  private readonly concurrency: number;
  private readonly leaseMs: number;

  private readonly locked: (error: Error) => void;

  constructor(private readonly options: SqliteQueueOptions) {
    this.locked = rateLimitedWarning(
      options.log,
      'job queue: the database is locked by another connection; jobs wait until it is free',
    );
    this.pollMs = options.pollMs ?? 500;
    this.concurrency = options.concurrency ?? 2;
    this.leaseMs = options.leaseMs ?? 10 * 60_000;
  }

  define<P>(type: JobType<P>): void {
    this.registry.define(type);
  }

  async enqueueOnce<P>(
    trx: Executor,
    name: string,
    payload: P,
    options: EnqueueOptions = {},
  ): Promise<string | null> {
    if (!this.registry.get(name).singleton) throw new Error(`job type "${name}" is not a singleton`);
    // SQLite has one writer at a time: nobody adds one between this read and the insert.
    const waiting = await trx
      .selectFrom('jobs')
      .select('id')
      .where('name', '=', name)
      .where('state', '=', 'queued')
      .where('attempts', '=', 0)
      .executeTakeFirst();
    return waiting ? null : this.enqueue(trx, name, payload, options);
  }

  async enqueue<P>(trx: Executor, name: string, payload: P, options: EnqueueOptions = {}): Promise<string> {
    const type = this.registry.get(name);
    const id = uuidv7();
    const now = new Date(this.options.clock()).toISOString();
    await trx
      .insertInto('jobs')
      .values({
        id,
        name,
        payload: JSON.stringify(payload),
        state: 'queued',
        attempts: 0,
        max_attempts: options.maxAttempts ?? type.retry.attempts,
        run_at: Math.trunc(options.runAt ?? this.options.clock()),
        created_at: now,
        updated_at: now,
      })
      .execute();
    // The transaction commits after this returns: look again shortly, not only at the next tick.
    this.wakeSoon();
    return id;
  }

  async prepare(): Promise<void> {}

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.schedule(0);
  }

  async stop(timeoutMs = 5000): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([Promise.allSettled([...this.running.values()]), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') await this.releaseClaims();
  }

  /** What a test or an operator sees of one job. */
  async inspect(id: string) {
    return this.options.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
  }

  private wakeSoon(): void {
    if (this.started) setTimeout(() => this.poll(), 20).unref();
  }

  private schedule(delayMs: number): void {
    if (!this.started) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.poll(), delayMs);
    this.timer.unref();
  }

  /** Claims due jobs up to the concurrency, runs them, and looks again. */
  private async poll(): Promise<void> {
    if (!this.started) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.polling = true;
    let next = this.pollMs;
    try {
      do {
        this.again = false;
        while (this.started && this.running.size < this.concurrency) {
          const job = await this.claim();
          if (!job) break;
          const run = this.run(job).finally(() => {
            this.running.delete(job.id);
            // A slot is free: the next due job need not wait for the timer.
            if (this.started) void this.poll();
          });
          this.running.set(job.id, run);
        }
      } while (this.again && this.started);
    } catch (error) {
      if (isDatabaseUnavailable(error)) {
        // A busy file (SQLITE_BUSY past the busy timeout): an outage, not a failure of the queue.
        this.locked(error as Error);
        next = Math.max(this.pollMs, LOCKED_POLL_MS);
      } else {
        // A missing table (an unmigrated database): log, and try again later.
        this.options.log.error({ err: error }, 'job queue: cannot claim jobs');
      }
    } finally {
      this.polling = false;
      this.schedule(next);
    }
  }

  private async claim() {
    const now = Math.trunc(this.options.clock());
    const { db } = this.options;
    const next = db
      .selectFrom('jobs')
      .select('id')
      .where((eb) =>
        eb.or([
          eb.and([eb('state', '=', 'queued'), eb('run_at', '<=', now)]),
          eb.and([eb('state', '=', 'running'), eb('locked_until', '<', now)]),
        ]),
      )
      .orderBy('run_at')
      .limit(1);
    // One statement: the row is re-checked as it is written, so two processes cannot both win.
    return db
      .updateTable('jobs')
      .set((eb) => ({
        state: 'running',
        attempts: eb('attempts', '+', 1),
        locked_by: this.owner,
        locked_until: now + this.leaseMs,
        updated_at: new Date(now).toISOString(),
      }))
      .where('id', '=', next)
      .where((eb) =>
        eb.or([
          eb.and([eb('state', '=', 'queued'), eb('run_at', '<=', now)]),
          eb.and([eb('state', '=', 'running'), eb('locked_until', '<', now)]),
        ]),
      )
      .returningAll()
      .executeTakeFirst();
  }

  private async run(job: {
    id: string;
    name: string;
    payload: string;
    attempts: number;
    max_attempts: number;
  }): Promise<void> {
    const { db, log, clock } = this.options;
    const last = job.attempts >= job.max_attempts;
    let type: JobType<unknown>;
    try {
      type = this.registry.get(job.name);
    } catch {
      // Another version defined it: leave it for a process that knows it.
      await db
        .updateTable('jobs')
        .set({ state: 'queued', attempts: job.attempts - 1, locked_by: null, locked_until: null })
        .where('id', '=', job.id)
        .where('locked_by', '=', this.owner)
        .execute()
        .catch((error: unknown) => log.error({ err: error }, 'job queue: cannot release an unknown job'));
      return;
    }
    try {
      await type.handler(JSON.parse(job.payload), { id: job.id, attempt: job.attempts, last });
      await db.deleteFrom('jobs').where('id', '=', job.id).where('locked_by', '=', this.owner).execute();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const now = Math.trunc(clock());
      const retryAt = now + retryDelayMs(type.retry, job.attempts, this.options.random);
      const fields = { job: job.name, jobId: job.id, attempt: job.attempts, err: message };
      if (last) log.error(fields, 'job failed for the last time: dead');
      else log.warn({ ...fields, retryAt: new Date(retryAt).toISOString() }, 'job failed: retrying');
      await db
        .updateTable('jobs')
        .set({
          state: last ? 'dead' : 'queued',
          run_at: last ? now : retryAt,
          locked_by: null,
          locked_until: null,
          last_error: message.slice(0, 1000),
          updated_at: new Date(now).toISOString(),
        })
        .where('id', '=', job.id)
        .where('locked_by', '=', this.owner)
        .execute()
        .catch((writeError: unknown) => log.error({ err: writeError }, 'job queue: cannot record a failure'));
    }
  }

  async depth(): Promise<QueueDepth[]> {
    const now = Math.trunc(this.options.clock());
    const rows = await this.options.db
      .selectFrom('jobs')
      .select((eb) => [
        'name',
        eb.fn.countAll<number>().as('waiting'),
        eb.fn.min(eb.case().when('run_at', '<=', now).then(eb.ref('run_at')).end()).as('oldest'),
      ])
      .where('state', '=', 'queued')
      .groupBy('name')
      .execute();
    return rows.map((row) => ({
      job: row.name,
      waiting: Number(row.waiting),
      oldestDueSeconds: row.oldest === null ? 0 : Math.max(0, (now - Number(row.oldest)) / 1000),
    }));
  }

  /** Shutdown ran out of time: the jobs still running go back to the queue for another process. */
  private async releaseClaims(): Promise<void> {
    const ids = [...this.running.keys()];
    this.options.log.warn({ jobIds: ids }, 'job queue: releasing running jobs at shutdown');
    await this.options.db
      .updateTable('jobs')
      .set({ state: 'queued', run_at: Math.trunc(this.options.clock()), locked_by: null, locked_until: null })
      .where('id', 'in', ids)
      .where('locked_by', '=', this.owner)
      .execute()
      .catch((error: unknown) => this.options.log.error({ err: error }, 'job queue: cannot release jobs'));
  }
}
