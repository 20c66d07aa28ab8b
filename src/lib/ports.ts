import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Ports: how one module's change reaches the others without the module knowing them. The module
 * that owns a change runs it through `transaction()` and emits its events there; every listener
 * runs inside that transaction and receives it, so what a listener writes commits or rolls back
 * with the change (a future change log writes from such a listener). Work that must follow the
 * commit (a cache invalidation, a message to other processes) subscribes with `afterCommit`.
 */

type Listener<E> = (trx: Transaction<Database>, event: E) => Promise<unknown>;
type AfterCommit<E> = (event: E) => void;
export type Emit<Events> = <K extends keyof Events>(name: K, event: Events[K]) => Promise<void>;

/** How a port opens its transaction (the change log's, so listeners may record changes). */
export type TransactionRunner = <T>(
  db: Kysely<Database>,
  work: (trx: Transaction<Database>) => Promise<T>,
) => Promise<T>;

const plainTransaction: TransactionRunner = (db, work) => db.transaction().execute(work);

export class EventPort<Events extends object> {
  constructor(private readonly run: TransactionRunner = plainTransaction) {}

  private readonly listeners = new Map<keyof Events, Listener<never>[]>();
  private readonly followers = new Map<keyof Events, AfterCommit<never>[]>();

  /** Runs inside the transaction of the change, in the order of subscription. */
  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): void {
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), listener as Listener<never>]);
  }

  /** Runs once the change has committed (never when it rolled back); must not throw. */
  afterCommit<K extends keyof Events>(name: K, follower: AfterCommit<Events[K]>): void {
    this.followers.set(name, [...(this.followers.get(name) ?? []), follower as AfterCommit<never>]);
  }

  /**
   * Runs `work` in a transaction of `db`; the events it emits reach their listeners at once
   * (inside the transaction) and their `afterCommit` subscribers after the commit, in order.
   */
  async transaction<T>(
    db: Kysely<Database>,
    work: (trx: Transaction<Database>, emit: Emit<Events>) => Promise<T>,
  ): Promise<T> {
    const emitted: [keyof Events, unknown][] = [];
    const result = await this.run(db, (trx) =>
      work(trx, async (name, event) => {
        for (const listener of this.listeners.get(name) ?? [])
          await (listener as Listener<unknown>)(trx, event);
        emitted.push([name, event]);
      }),
    );
    for (const [name, event] of emitted) {
      for (const follower of this.followers.get(name) ?? []) (follower as AfterCommit<unknown>)(event);
    }
    return result;
  }
}

/** A change to a user, made by the users module at `at` (RFC 3339, milliseconds). */
export interface UserChange {
  userId: string;
  at: string;
}

/**
 * What happens to users, for the modules that keep something per user. The users module emits;
 * it knows none of the subscribers (auth ends sessions, tasks unassigns, a new module adds its own
 * rule by subscribing).
 */
export interface UserEvents {
  /** It was created, in this transaction (its row exists): modules add what every user has. */
  created: UserChange & { role: 'admin' | 'user' | 'guest' };
  /** Its role, disabled flag or existence changed: caches of the user forget it. */
  changed: { userId: string };
  /** It was enabled and is now disabled. */
  disabled: UserChange;
  /** It is about to be deleted, in this transaction: listeners run while its row still exists. */
  deleted: UserChange;
  /** The operator took the account over (create-admin, ADMIN_EMAIL): its previous holder is out. */
  takenOver: UserChange;
  /** It changed its own password: every session but `keepSessionId` ends. */
  passwordChanged: UserChange & { keepSessionId: string | null };
  /**
   * Its password was reset through a mailed link (contract §3): every session ends, and the
   * login-failure counter of `email` (normalised) clears.
   */
  passwordReset: UserChange & { email: string };
}

export interface Ports {
  users: EventPort<UserEvents>;
}

export function createPorts(run?: TransactionRunner): Ports {
  return { users: new EventPort<UserEvents>(run) };
}
