import type { Kysely } from 'kysely';
import type { Dialect } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import { toCount } from '../../db/sql.js';
import type { PasswordResetsTable } from '../../db/tables/password-resets.table.js';

/** All SQL about reset links. Every function takes the executor, so the service decides transactions. */
export type Db = Kysely<Database>;

/**
 * Serialises the reset requests of one user on PostgreSQL (the count of recent links, then the
 * new one); SQLite has one writer at a time, and a deferred transaction that lost the race
 * fails and is retried.
 */
export async function lockUser(db: Db, dialect: Dialect, userId: string): Promise<void> {
  if (dialect !== 'postgres') return;
  await db.selectFrom('users').select('id').where('id', '=', userId).forUpdate().execute();
}

/** The requests of `email` that issued a link since `since`, other than `requestId`. */
export async function countRecentRequests(db: Db, email: string, since: string, requestId: string) {
  const row = await db
    .selectFrom('password_resets')
    .select((eb) => eb.fn.count<number>('request_id').distinct().as('n'))
    .where('email', '=', email)
    .where('created_at', '>', since)
    .where('request_id', '!=', requestId)
    .executeTakeFirst();
  return toCount(row?.n);
}

/** A newer link replaces every open one of the user. */
export async function invalidateOpenLinks(db: Db, userId: string, at: string): Promise<void> {
  await db
    .updateTable('password_resets')
    .set({ invalidated_at: at })
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .where('invalidated_at', 'is', null)
    .execute();
}

export async function insertLink(db: Db, row: PasswordResetsTable): Promise<void> {
  await db.insertInto('password_resets').values(row).execute();
}

/** The user of an open link, or undefined. */
export async function findOpenLink(db: Db, tokenHash: string, now: string) {
  return db
    .selectFrom('password_resets')
    .select(['user_id'])
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('invalidated_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
}

/** Spends an open link: one conditional statement, so of two confirms at once exactly one wins. */
export async function spendLink(db: Db, tokenHash: string, now: string): Promise<boolean> {
  const result = await db
    .updateTable('password_resets')
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .where('invalidated_at', 'is', null)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
