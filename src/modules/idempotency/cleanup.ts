import type { JobType } from '../../lib/jobs.js';
import type { AppContext, BackgroundWork } from '../../lib/module.js';
import { periodicJob } from '../../lib/periodic-job.js';
import { deleteExpired } from './idempotency.repository.js';

/**
 * The stored replies of idempotency keys go once they have expired (24 h): a singleton job,
 * scheduled at start and every hour by every process that runs jobs. An expired record no longer
 * replays before that (the claim treats it as absent); the job only reclaims the space.
 */

export const CLEANUP_JOB = 'idempotency-cleanup';
export const CLEANUP_EVERY_MS = 60 * 60_000;
/** Rows one statement deletes: a run holds no lock for long, however much is due. */
export const CLEANUP_CHUNK = 1000;

/** Deletes every record expired as of `now` (ms since the epoch); returns how many. */
export async function cleanUp(ctx: AppContext, now: number): Promise<number> {
  const cutoff = new Date(now).toISOString();
  let deleted = 0;
  for (;;) {
    const n = await deleteExpired(ctx.database.db, cutoff, CLEANUP_CHUNK);
    deleted += n;
    if (n < CLEANUP_CHUNK) return deleted;
  }
}

export function cleanupJob(ctx: AppContext): JobType<Record<string, never>> {
  return {
    name: CLEANUP_JOB,
    retry: { attempts: 3, delayMs: 60_000 },
    singleton: true,
    handler: async () => {
      const deleted = await cleanUp(ctx, ctx.clock());
      if (deleted > 0) ctx.log.info({ deleted }, 'idempotency keys: expired records deleted');
    },
  };
}

export function cleanupBackground(ctx: AppContext): BackgroundWork {
  return periodicJob(ctx, CLEANUP_JOB, CLEANUP_EVERY_MS, 'idempotency cleanup');
}
