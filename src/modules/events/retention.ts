import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { JobType } from '../../lib/jobs.js';
import type { AppContext, BackgroundWork } from '../../lib/module.js';
import { periodicJob } from '../../lib/periodic-job.js';

/**
 * Retention (contract §8, EVENTS_RETENTION): a job that deletes the events older than the
 * retention, in bounded chunks, raises `event_log.pruned_through` to the largest number it
 * deleted (never lowers it: the feed answers 410 for what is gone) and deletes the webhook
 * deliveries older than the retention too. Every process that runs jobs schedules a run at start
 * and every hour; the type is a singleton, so however many instances there are, at most one run
 * waits in the queue.
 */

export const RETENTION_JOB = 'events-retention';
export const RETENTION_EVERY_MS = 60 * 60_000;
/** Rows one statement deletes: a run holds no lock for long, however much is due. */
export const RETENTION_CHUNK = 1000;

export interface Pruned {
  events: number;
  deliveries: number;
  /** The largest event number deleted (0: none). */
  through: number;
}

/** Deletes what is older than the retention as of `now` (ms since the epoch). */
export async function prune(db: Kysely<Database>, retentionMs: number, now: number): Promise<Pruned> {
  const cutoff = new Date(now - retentionMs).toISOString();
  let events = 0;
  let through = 0;
  for (;;) {
    const chunk = await db
      .selectFrom('events')
      .select('position')
      .where('occurred_at', '<', cutoff)
      .orderBy('position')
      .limit(RETENTION_CHUNK)
      .execute();
    if (chunk.length === 0) break;
    const positions = chunk.map((row) => Number(row.position));
    const largest = Math.max(...positions);
    await db.transaction().execute(async (trx) => {
      // event_viewers go by foreign key (on delete cascade).
      await trx.deleteFrom('events').where('position', 'in', positions).execute();
      await trx
        .updateTable('event_log')
        .set({ pruned_through: largest })
        .where('id', '=', 1)
        .where('pruned_through', '<', largest)
        .execute();
    });
    events += positions.length;
    through = Math.max(through, largest);
  }
  let deliveries = 0;
  for (;;) {
    const chunk = await db
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('created_at', '<', cutoff)
      .limit(RETENTION_CHUNK)
      .execute();
    if (chunk.length === 0) break;
    await db
      .deleteFrom('webhook_deliveries')
      .where(
        'id',
        'in',
        chunk.map((row) => row.id),
      )
      .execute();
    deliveries += chunk.length;
  }
  return { events, deliveries, through };
}

export function retentionJob(ctx: AppContext): JobType<Record<string, never>> {
  return {
    name: RETENTION_JOB,
    retry: { attempts: 3, delayMs: 60_000 },
    singleton: true,
    handler: async () => {
      const pruned = await prune(ctx.database.db, ctx.config.eventsRetentionMs, ctx.clock());
      if (pruned.events > 0 || pruned.deliveries > 0) ctx.log.info(pruned, 'events retention: pruned');
    },
  };
}

/** One run at start, then one every hour, in every process that runs jobs. */
export function retentionBackground(ctx: AppContext): BackgroundWork {
  return periodicJob(ctx, RETENTION_JOB, RETENTION_EVERY_MS, 'events retention');
}
