import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { EventsTable } from '../../db/tables/events.table.js';

/** All SQL about the change log's events. Every function takes the executor. */

type Db = Kysely<Database>;
export type EventRow = EventsTable;

/** Whose view of the log a read takes: admins see every event. */
export interface Viewer {
  userId: string;
  admin: boolean;
}

export interface LogState {
  tag: string;
  /** The newest committed event number (0: none yet). */
  head: number;
  /** Every event up to this number is gone (retention). */
  prunedThrough: number;
}

export async function logState(db: Db): Promise<LogState> {
  const row = await db
    .selectFrom('event_log')
    .select(['tag', 'head', 'pruned_through'])
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  return { tag: row.tag, head: Number(row.head), prunedThrough: Number(row.pruned_through) };
}

/**
 * The events numbered in (after, through] that `viewer` may see now, oldest first, at most
 * `limit`: those of a project it is a member of, and those that name it as a viewer. `through`
 * bounds the scan, so a page costs the same however few of the events are visible.
 */
export async function visibleBetween(
  db: Db,
  viewer: Viewer,
  after: number,
  through: number,
  limit: number,
): Promise<EventRow[]> {
  let query = db
    .selectFrom('events as e')
    .selectAll('e')
    .where('e.position', '>', after)
    .where('e.position', '<=', through);
  if (!viewer.admin) {
    query = query.where((eb) =>
      eb.or([
        eb(
          'e.project_id',
          'in',
          eb.selectFrom('project_members as m').select('m.project_id').where('m.user_id', '=', viewer.userId),
        ),
        eb.exists(
          eb
            .selectFrom('event_viewers as v')
            .select('v.position')
            .where('v.user_id', '=', viewer.userId)
            .whereRef('v.position', '=', 'e.position'),
        ),
      ]),
    );
  }
  return query.orderBy('e.position').limit(limit).execute();
}

/** One event by number, when `viewer` may see it now. */
export async function findVisible(db: Db, viewer: Viewer, position: number): Promise<EventRow | undefined> {
  const [row] = await visibleBetween(db, viewer, position - 1, position, 1);
  return row;
}

/**
 * A task's activity: its events and its comments' (task_id), oldest first, from `offset`
 * (version 1) or after number `after` (version 2); a seek on events (task_id, position).
 */
export async function taskActivity(
  db: Db,
  taskId: string,
  limit: number,
  offset: number,
  after: number | null = null,
): Promise<EventRow[]> {
  let query = db.selectFrom('events').selectAll().where('task_id', '=', taskId);
  if (after !== null) query = query.where('position', '>', after);
  return query.orderBy('position').limit(limit).offset(offset).execute();
}

export async function countTaskActivity(db: Db, taskId: string): Promise<number> {
  const row = await db
    .selectFrom('events')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('task_id', '=', taskId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
