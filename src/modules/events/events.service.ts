import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { ApiError } from '../../errors.js';
import { EVENT_ID_PATTERN, formatEventId, parseEventId } from '../../lib/change-log.js';
import type { AppContext } from '../../lib/module.js';
import type { Principal } from '../../lib/principal.js';
import * as repo from './events.repository.js';
import type { Event } from './events.schemas.js';

export type { Viewer } from './events.repository.js';

/** The most events one read looks at, visible or not: a page's work is bounded (contract §8). */
export const SCAN_LIMIT = 1000;

export interface FeedPage {
  items: Event[];
  /** The number to read after next time; always advances past what this read scanned. */
  next: number;
  hasMore: boolean;
}

/** A page of the feed as the API serves it: event ids instead of numbers. */
export interface FeedReply {
  items: Event[];
  next: string;
  hasMore: boolean;
}

const WELL_FORMED = new RegExp(EVENT_ID_PATTERN);

/**
 * The number an event id given by a client (`after`, `Last-Event-ID`) stands for in `log`:
 * omitted, the oldest retained (`prunedThrough`); malformed → 400 invalid_cursor; of another
 * database, older than the retention or newer than the head → 410 events_expired. Decided on
 * the state the read itself uses, so the check and the scan agree.
 */
export function positionAfter(log: repo.LogState, id: string | undefined, name = 'after'): number {
  if (id === undefined) return log.prunedThrough;
  const parsed = parseEventId(id);
  const expired = () =>
    new ApiError('events_expired', {
      detail: `${name} names no event this feed still holds (expired, from another database, or newer than the head): resync with a list`,
    });
  // Well-formed but past every safe integer: newer than any head can be.
  if (!parsed && WELL_FORMED.test(id)) throw expired();
  if (!parsed) throw new ApiError('invalid_cursor', { detail: `${name} is not an event id` });
  if (parsed.tag !== log.tag || parsed.position < log.prunedThrough || parsed.position > log.head)
    throw expired();
  return parsed.position;
}

export function viewerOf(caller: Principal): repo.Viewer {
  return { userId: caller.userId, admin: caller.role === 'admin' };
}

/** Reads of the change log: the feed, its head, one event; the API shape of an event. */
export class EventsService {
  constructor(private readonly ctx: AppContext) {}

  private get db(): Kysely<Database> {
    return this.ctx.database.db;
  }

  state(db: Kysely<Database> = this.db): Promise<repo.LogState> {
    return repo.logState(db);
  }

  /**
   * The log state and whether `viewer` may now see an event numbered after `after` (scanning at
   * most `span` numbers: past that, `changed` says nothing), read in one snapshot: what a cache of
   * a caller's view asks to know whether an entry made at head `after` still holds.
   */
  stateAndChange(viewer: repo.Viewer, after: number, span: number): Promise<repo.StateAndChange> {
    return repo.stateAndChange(this.db, viewer, after, after + span);
  }

  /**
   * Up to `limit` events `viewer` may see after number `after`, scanning at most SCAN_LIMIT
   * numbers and never past the committed head: `next` is the last one served when the page is
   * full, else the end of the scan.
   */
  async feed(viewer: repo.Viewer, after: number, limit: number, state?: repo.LogState): Promise<FeedPage> {
    const log = state ?? (await repo.logState(this.db));
    const through = Math.min(log.head, after + SCAN_LIMIT);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent, the test only spares a query of an empty range
    const rows = through > after ? await repo.visibleBetween(this.db, viewer, after, through, limit) : [];
    const last = rows.at(-1);
    const next = rows.length === limit && last ? Number(last.position) : Math.max(after, through);
    return { items: rows.map((row) => toEvent(row, log.tag)), next, hasMore: next < log.head };
  }

  /**
   * The feed as GET /events serves it: the log state is read once, so the head, the bound of
   * the scan and the 410 check agree.
   */
  async page(viewer: repo.Viewer, afterId: string | undefined, limit: number): Promise<FeedReply> {
    const log = await repo.logState(this.db);
    const after = positionAfter(log, afterId);
    const page = await this.feed(viewer, after, limit, log);
    // Retention may have deleted events after `after` between the state read and the scan: the
    // page would skip them silently. A reader at that edge is told to resynchronise instead.
    if (afterId !== undefined && (await repo.logState(this.db)).prunedThrough > after)
      throw new ApiError('events_expired');
    return { items: page.items, next: formatEventId(log.tag, page.next), hasMore: page.hasMore };
  }

  /** The newest committed event id (on an empty feed, one that sorts before every event). */
  async head(): Promise<string> {
    const log = await repo.logState(this.db);
    return formatEventId(log.tag, log.head);
  }

  /** One event, when `viewer` may see it now (a webhook's delivery checks its owner so). */
  async visible(viewer: repo.Viewer, position: number): Promise<Event | null> {
    const [log, row] = await Promise.all([
      repo.logState(this.db),
      repo.findVisible(this.db, viewer, position),
    ]);
    return row ? toEvent(row, log.tag) : null;
  }
}

export function toEvent(row: repo.EventRow, tag: string): Event {
  return {
    id: formatEventId(tag, Number(row.position)),
    type: row.type as Event['type'],
    occurredAt: row.occurred_at,
    actor: { type: row.actor_type, id: row.actor_id },
    projectId: row.project_id,
    subject: { type: row.subject_type as Event['subject']['type'], id: row.subject_id },
    // Stryker disable next-line ConditionalExpression: equivalent, JSON.parse(null) is null too
    changes: row.changes === null ? null : (JSON.parse(row.changes) as Event['changes']),
    data: JSON.parse(row.data) as Event['data'],
  };
}
