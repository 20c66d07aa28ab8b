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
export function visibleBetween(
  db: Db,
  viewer: Viewer,
  after: number,
  through: number,
  limit: number,
): Promise<EventRow[]> {
  return visibleQuery(db, viewer, after, through).limit(limit).execute();
}

/** The query of visibleBetween without its limit (its plan is checked in test/events/feed-plan). */
export function visibleQuery(db: Db, viewer: Viewer, after: number, through: number) {
  let query = db
    .selectFrom('events as e')
    .selectAll('e')
    .where('e.position', '>', after)
    .where('e.position', '<=', through);
  if (!viewer.admin) {
    query = query.where((eb) =>
      eb.or([
        // Correlated, not `project_id IN (…)`: SQLite would otherwise seek each of the viewer's
        // projects on events_project and sort the union; this way both dialects read one range
        // of the primary key, whatever the number of projects (test/events/feed-plan).
        eb.exists(
          eb
            .selectFrom('project_members as m')
            .select('m.project_id')
            .whereRef('m.project_id', '=', 'e.project_id')
            .where('m.user_id', '=', viewer.userId),
        ),
        // Bounded like the scan: a range of the viewers' primary key, never all of a user's rows.
        eb(
          'e.position',
          'in',
          eb
            .selectFrom('event_viewers as v')
            .select('v.position')
            .where('v.user_id', '=', viewer.userId)
            .where('v.position', '>', after)
            .where('v.position', '<=', through),
        ),
      ]),
    );
  }
  return query.orderBy('e.position');
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

/** The log's state and whether `viewer` may now see an event numbered in (after, through]. */
export interface StateAndChange extends LogState {
  changed: boolean;
}

/**
 * The log state and whether any event in (after, through] is visible to `viewer`, in one
 * statement, so both come from one snapshot: every event up to the head it reads has committed,
 * and the visibility is judged on the memberships of that same moment (a cache that asks this
 * never pairs a head with a later membership). `through` bounds the scan; numbers past the head
 * do not exist in that snapshot.
 */
export async function stateAndChange(
  db: Db,
  viewer: Viewer,
  after: number,
  through: number,
): Promise<StateAndChange> {
  const row = await db
    .selectFrom('event_log')
    .select((eb) => [
      'tag',
      'head',
      'pruned_through',
      eb
        .exists(visibleQuery(db, viewer, after, through).clearSelect().select('e.position').limit(1))
        .as('changed'),
    ])
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  return {
    tag: row.tag,
    head: Number(row.head),
    prunedThrough: Number(row.pruned_through),
    // SQLite answers 0 or 1, PostgreSQL a boolean.
    changed: Boolean(Number(row.changed)),
  };
}
