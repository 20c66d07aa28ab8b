import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Metrics, QueueDepth } from './metrics.js';

/**
 * The background job queue, one interface over two engines (src/jobs/): pg-boss on PostgreSQL,
 * a small poller over our own `jobs` table on SQLite. A job is enqueued in the transaction of the
 * change that asks for it, so it exists exactly when the change committed; it runs after the
 * commit, in this process (WORKER=inline) or in `npm run worker`, once per attempt across every
 * instance that shares the database; a failed attempt is retried on its type's schedule, and the
 * last failure leaves it dead (kept and logged).
 */

/** How a job type retries: `attempts` in all, the n-th retry after about `delayMs · 2^(n-1)`. */
export interface RetrySchedule {
  /** Every attempt, the first included (1 = never retried). */
  attempts: number;
  /** The first retry's base delay; each later one doubles, with jitter (see retryDelayMs). */
  delayMs: number;
}

/** What a handler learns of the job it runs. */
export interface JobRun {
  /** Stable across the attempts of one job. */
  id: string;
  /** 1 on the first attempt. */
  attempt: number;
  /** Whether this is the last attempt its schedule allows. */
  last: boolean;
}

export type JobHandler<P> = (payload: P, run: JobRun) => Promise<void>;

export interface JobType<P> {
  /** Lower-case letters, digits and dashes: `password-reset-mail`. */
  name: string;
  retry: RetrySchedule;
  handler: JobHandler<P>;
  /**
   * At most one job of this type waits (queued, not yet started) at a time: jobs of it are added
   * with `enqueueOnce`. For periodic work that several instances schedule.
   */
  singleton?: boolean;
}

export interface EnqueueOptions {
  /** Not before this time (milliseconds since the epoch); default now. */
  runAt?: number;
  /** Overrides the type's number of attempts for this job. */
  maxAttempts?: number;
}

/** A Kysely executor: the transaction of the change (or, rarely, the database itself). */
export type Executor = Kysely<Database>;

export interface JobQueue {
  /** Registers the handler of a job type (a module's entry does, from `subscribe`). */
  define<P>(type: JobType<P>): void;
  /**
   * Adds a job in `trx`: it commits or rolls back with the change. The type must be defined.
   * Returns the job's id.
   */
  enqueue<P>(trx: Executor, name: string, payload: P, options?: EnqueueOptions): Promise<string>;
  /**
   * As enqueue, for a `singleton` type: adds nothing (null) while one of its jobs waits (queued,
   * not yet started), on every engine and across instances.
   */
  enqueueOnce<P>(trx: Executor, name: string, payload: P, options?: EnqueueOptions): Promise<string | null>;
  /**
   * Opens the engine, so that the first enqueue costs no more than the next (a process that only
   * enqueues: WORKER=off). Never throws: a failure is logged, and enqueue tries again.
   */
  prepare(): Promise<void>;
  /** Runs the handlers from now on (WORKER=inline, or `npm run worker`). */
  start(): Promise<void>;
  /**
   * Stops taking jobs; a running job may finish within `timeoutMs`, after which it is released
   * for another instance (its attempt counts as failed and is retried on its schedule).
   */
  stop(timeoutMs?: number): Promise<void>;
  /**
   * The jobs waiting now, by type (one query; metrics read it when scraped): those queued and not
   * yet started, delayed retries included, and how long the earliest due one has waited.
   */
  depth(): Promise<QueueDepth[]>;
}

/** The queue with every handler timed and counted in `metrics` (attempts, failures, duration). */
export function instrumentJobQueue(queue: JobQueue, metrics: Metrics): JobQueue {
  return {
    define: (type) =>
      queue.define({
        ...type,
        handler: metrics.timeJob(type.name, (_payload, run) => run.last, type.handler),
      }),
    enqueue: (trx, name, payload, options) => queue.enqueue(trx, name, payload, options),
    enqueueOnce: (trx, name, payload, options) => queue.enqueueOnce(trx, name, payload, options),
    prepare: () => queue.prepare(),
    start: () => queue.start(),
    stop: (timeoutMs) => queue.stop(timeoutMs),
    depth: () => queue.depth(),
  };
}

export const JOB_NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * The delay before retry `retry` (1 = the first retry): `delayMs · 2^(retry-1)`, times a random
 * factor in [1, 2) (jitter, so a burst of failures does not retry in lockstep). The same formula
 * pg-boss applies on PostgreSQL (`retryBackoff`), so a schedule means the same on both engines.
 */
export function retryDelayMs(schedule: RetrySchedule, retry: number, random: () => number = Math.random) {
  const base = schedule.delayMs * 2 ** Math.min(16, retry - 1);
  return Math.round(base * (1 + random()));
}

/** The longest a job of this schedule can wait between its first and its last attempt. */
export function longestRetrySpanMs(schedule: RetrySchedule): number {
  let total = 0;
  for (let retry = 1; retry < schedule.attempts; retry += 1) total += retryDelayMs(schedule, retry, () => 1);
  return total;
}
