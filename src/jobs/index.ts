import type { FastifyBaseLogger } from 'fastify';
import type { DatabaseHandle } from '../db/database.js';
import { instrumentJobQueue, type JobQueue } from '../lib/jobs.js';
import type { Metrics } from '../lib/metrics.js';
import { PgBossJobQueue } from './pg-boss-queue.js';
import { SqliteJobQueue } from './sqlite-queue.js';

export interface JobQueueOptions {
  log: FastifyBaseLogger;
  clock: () => number;
  /** Counts each job attempt, failure and duration there. */
  metrics?: Metrics;
}

/** The job queue of a database: pg-boss on PostgreSQL, our poller on SQLite (see lib/jobs.ts). */
export function createJobQueue(database: DatabaseHandle, options: JobQueueOptions): JobQueue {
  const queue =
    database.dialect === 'postgres'
      ? new PgBossJobQueue({ db: database.db, schema: database.schema, log: options.log })
      : new SqliteJobQueue({ db: database.db, log: options.log, clock: options.clock });
  return options.metrics ? instrumentJobQueue(queue, options.metrics) : queue;
}
