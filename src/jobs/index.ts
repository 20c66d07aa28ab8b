import type { FastifyBaseLogger } from 'fastify';
import type { DatabaseHandle } from '../db/database.js';
import type { JobQueue } from '../lib/jobs.js';
import { PgBossJobQueue } from './pg-boss-queue.js';
import { SqliteJobQueue } from './sqlite-queue.js';

export interface JobQueueOptions {
  log: FastifyBaseLogger;
  clock: () => number;
}

/** The job queue of a database: pg-boss on PostgreSQL, our poller on SQLite (see lib/jobs.ts). */
export function createJobQueue(database: DatabaseHandle, options: JobQueueOptions): JobQueue {
  if (database.dialect === 'postgres') {
    return new PgBossJobQueue({ db: database.db, schema: database.schema, log: options.log });
  }
  return new SqliteJobQueue({ db: database.db, log: options.log, clock: options.clock });
}
