import type { FastifyBaseLogger } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Principal } from './principal.js';

/**
 * The change log (contract §8): every change to a project, member, task or comment records one
 * event in the transaction of the change, so none is lost and none describes a change that did
 * not happen. A write runs through `ChangeLog.transaction`; whatever it (or a port listener inside
 * it) records with `record(trx, change)` is numbered and inserted as the transaction's last
 * statement, and the committed head is announced to `onCommit` subscribers (the event stream, the
 * webhook dispatcher) once it has committed.
 *
 * Commit order: the numbers come from `event_log.head`, raised by one UPDATE whose row lock is held
 * until the commit. A second writer waits at that UPDATE until the first has committed, so it gets
 * larger numbers, and a reader that sees number n sees every smaller one too (a sequence or a
 * UUIDv7, taken before commit, would let a reader pass a slower transaction's smaller id for good).
 * Holding the lock costs one short wait per concurrent write, at its very end.
 */

export const EVENT_TYPES = [
  'project.created',
  'project.updated',
  'project.deleted',
  'member.added',
  'member.changed',
  'member.removed',
  'task.created',
  'task.updated',
  'task.deleted',
  'comment.created',
  'comment.updated',
  'comment.deleted',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type SubjectType = 'project' | 'member' | 'task' | 'comment';

/** Who made a change: a user with an access token, a user's API key, or the service itself. */
export interface Actor {
  type: 'user' | 'api_key' | 'system';
  /** The user's or the key's id; null for the system. */
  id: string | null;
}

/** Changes made by no caller's request: a user's personal project, a deleted account's traces. */
export const SYSTEM_ACTOR: Actor = { type: 'system', id: null };

export function actorOf(caller: Principal): Actor {
  return caller.apiKeyId ? { type: 'api_key', id: caller.apiKeyId } : { type: 'user', id: caller.userId };
}

/** `{ field: { from, to } }` for exactly the fields that changed (API names, API values). */
export type FieldChanges = Record<string, { from: unknown; to: unknown }>;

/**
 * The `changes` of an update: for each of `fields` whose value differs between `before` and
 * `after` (API shapes), `{ from, to }`. Values compare by their JSON (so arrays such as tags
 * compare by value, in order); null when nothing differs: a write that changes nothing records
 * nothing.
 */
export function diffFields<T extends object>(
  before: T,
  after: T,
  fields: readonly (keyof T & string)[],
): FieldChanges | null {
  const changes: FieldChanges = {};
  for (const field of fields) {
    const from = before[field] ?? null;
    const to = after[field] ?? null;
    if (JSON.stringify(from) !== JSON.stringify(to)) changes[field] = { from, to };
  }
  return Object.keys(changes).length > 0 ? changes : null;
}

/** One change, as the module that made it describes it. */
export interface Change {
  type: EventType;
  /** RFC 3339 with milliseconds: the change's own time (the row's updatedAt, for an update). */
  at: string;
  actor: Actor;
  /** The project the subject belongs to (a move: the new one). */
  projectId: string;
  /** A member's id is its user's id. */
  subject: { type: SubjectType; id: string };
  /** The task of a task or comment event (its activity); null otherwise. */
  taskId: string | null;
  /** On `*.updated` and `member.changed`; null otherwise. */
  changes: FieldChanges | null;
  /** The subject in its API shape, after the change (before it, for `*.deleted`). */
  data: object;
  /**
   * Who sees it besides the members its project has when it is read: the user a `member.*` event
   * is about, a deleted project's members, the members of a move's old project, a task's assignee
   * before and after the change (contract §8, "Who sees an event").
   */
  viewers: readonly string[];
}

/** What `onCommit` subscribers learn: the newest event number now committed. */
export interface Committed {
  head: number;
}

export type Work<T> = (trx: Transaction<Database>) => Promise<T>;

const INSERT_CHUNK = 200;

export class ChangeLog {
  private readonly pending = new WeakMap<Transaction<Database>, Change[]>();
  private readonly subscribers = new Set<(committed: Committed) => void>();

  constructor(private readonly log: FastifyBaseLogger) {}

  /**
   * Runs `work` in a transaction of `db`; the changes recorded in it are written as its last
   * statements and announced after the commit. Use it for every write that records changes.
   */
  async transaction<T>(db: Kysely<Database>, work: Work<T>): Promise<T> {
    let head: number | null = null;
    const result = await db.transaction().execute(async (trx) => {
      const changes: Change[] = [];
      this.pending.set(trx, changes);
      try {
        const value = await work(trx);
        head = await this.flush(trx, changes);
        return value;
      } finally {
        this.pending.delete(trx);
      }
    });
    if (head !== null) this.announce({ head });
    return result;
  }

  /** Records a change in `trx`, which must be a transaction `transaction()` opened. */
  record(trx: Kysely<Database>, change: Change): void {
    const changes = this.pending.get(trx as Transaction<Database>);
    if (!changes) throw new Error(`${change.type} recorded outside a ChangeLog transaction`);
    changes.push(change);
  }

  /** Called after every commit that wrote events (in this process); returns the unsubscriber. */
  onCommit(subscriber: (committed: Committed) => void): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  private announce(committed: Committed): void {
    for (const subscriber of this.subscribers) {
      try {
        subscriber(committed);
      } catch (error) {
        this.log.error({ err: error }, 'an event subscriber failed');
      }
    }
  }

  private async flush(trx: Transaction<Database>, changes: Change[]): Promise<number | null> {
    if (changes.length === 0) return null;
    const { head } = await trx
      .updateTable('event_log')
      .set((eb) => ({ head: eb('head', '+', changes.length) }))
      .where('id', '=', 1)
      .returning('head')
      .executeTakeFirstOrThrow();
    const last = Number(head);
    const first = last - changes.length + 1;
    const rows = changes.map((change, i) => ({
      position: first + i,
      type: change.type,
      occurred_at: change.at,
      actor_type: change.actor.type,
      actor_id: change.actor.id,
      project_id: change.projectId,
      subject_type: change.subject.type,
      subject_id: change.subject.id,
      task_id: change.taskId,
      changes: change.changes === null ? null : JSON.stringify(change.changes),
      data: JSON.stringify(change.data),
    }));
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      await trx
        .insertInto('events')
        .values(rows.slice(i, i + INSERT_CHUNK))
        .execute();
    }
    const viewers = changes.flatMap((change, i) =>
      [...new Set(change.viewers)].map((userId) => ({ user_id: userId, position: first + i })),
    );
    for (let i = 0; i < viewers.length; i += INSERT_CHUNK * 2) {
      await trx
        .insertInto('event_viewers')
        .values(viewers.slice(i, i + INSERT_CHUNK * 2))
        .execute();
    }
    return last;
  }
}

/** Event ids: `<tag>-<number, 16 digits>`, so that they sort as strings in commit order. */
const EVENT_ID = /^([0-9a-f]{8})-([0-9]{16})$/;
export const EVENT_ID_PATTERN = EVENT_ID.source;
export const EVENT_ID_EXAMPLE = '0a1b2e3f-0000000000000042';

export function formatEventId(tag: string, position: number): string {
  return `${tag}-${String(position).padStart(16, '0')}`;
}

/** The tag and number of a well-formed event id; null when malformed. */
export function parseEventId(id: string): { tag: string; position: number } | null {
  const match = EVENT_ID.exec(id);
  if (!match?.[1] || !match[2]) return null;
  const position = Number(match[2]);
  return Number.isSafeInteger(position) ? { tag: match[1], position } : null;
}
