import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { Database } from '../../src/db/schema.js';
import { type Change, type EventType, SYSTEM_ACTOR } from '../../src/lib/change-log.js';
import type { Event } from '../../src/modules/events/events.schemas.js';

/**
 * Events for the feed tests, recorded straight through the change log (design §7: until the write
 * paths record their own, a test describes the change it stands for). Each carries a `mark` in
 * its data, so a test finds its own events among any others the app records.
 */

export interface FeedPage {
  items: Event[];
  next: string;
  hasMore: boolean;
}

let marks = 0;
/** A unique mark for an event's data. */
export function nextMark(prefix = 'm'): string {
  marks += 1;
  return `${prefix}${marks}-${process.pid}`;
}

export interface ChangeOptions {
  type?: EventType;
  subject?: Change['subject'];
  taskId?: string | null;
  viewers?: string[];
  changes?: Change['changes'];
  mark?: string;
}

export type MarkedChange = Change & { data: { mark: string } };

/** A change in `projectId` (a task.updated unless told), marked in its data. */
export function change(projectId: string, options: ChangeOptions = {}): MarkedChange {
  const type = options.type ?? 'task.updated';
  const taskId = options.taskId === undefined ? uuidv7() : options.taskId;
  return {
    type,
    at: new Date().toISOString(),
    actor: SYSTEM_ACTOR,
    projectId,
    subject: options.subject ?? { type: 'task', id: taskId ?? uuidv7() },
    taskId,
    changes:
      options.changes === undefined
        ? type.endsWith('.updated') || type === 'member.changed'
          ? { title: { from: 'a', to: 'b' } }
          : null
        : options.changes,
    data: { mark: options.mark ?? nextMark() },
    viewers: options.viewers ?? [],
  };
}

/** Records `changes` in one change-log transaction of the app's database (or `db`). */
export async function record(
  app: FastifyInstance,
  changes: Change[],
  db: Kysely<Database> = app.ctx.database.db,
): Promise<void> {
  await app.ctx.changes.transaction(db, async (trx) => {
    for (const c of changes) app.ctx.changes.record(trx, c);
  });
}

/** The mark of an event recorded by these helpers (undefined for any other). */
export function markOf(event: Event): string | undefined {
  const mark = (event.data as { mark?: unknown }).mark;
  return typeof mark === 'string' ? mark : undefined;
}

/** GET /events (or /events/head) of `version`, asserting a 200. */
export async function getJson<T>(
  app: FastifyInstance,
  url: string,
  headers: Record<string, string>,
  version: 'v1' | 'v2' = 'v1',
): Promise<T> {
  const res = await app.inject({ method: 'GET', url: `/api/${version}${url}`, headers });
  if (res.statusCode !== 200) throw new Error(`GET ${url}: ${res.statusCode} ${res.body}`);
  return res.json() as T;
}

export async function headOf(app: FastifyInstance, headers: Record<string, string>): Promise<string> {
  return (await getJson<{ head: string }>(app, '/events/head', headers)).head;
}

/** Follows the feed from `after` until `hasMore` is false: every event served, and the last `next`. */
export async function follow(
  app: FastifyInstance,
  headers: Record<string, string>,
  after: string,
  limit = 100,
): Promise<{ events: Event[]; next: string; pages: number }> {
  const events: Event[] = [];
  let next = after;
  let pages = 0;
  for (;;) {
    const page = await getJson<FeedPage>(app, `/events?after=${next}&limit=${limit}`, headers);
    pages += 1;
    events.push(...page.items);
    // At the head there is nothing to pass; anywhere else `next` must move on.
    if (page.next < next || (page.next === next && page.hasMore))
      throw new Error(`next did not advance: ${next} → ${page.next}`);
    next = page.next;
    if (!page.hasMore) return { events, next, pages };
  }
}
