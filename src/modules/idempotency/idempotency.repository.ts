import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { IdempotencyKeysTable } from '../../db/tables/idempotency-keys.table.js';

/** The SQL of idempotency keys; every write that can race is one conditional statement. */

export type Db = Kysely<Database>;
export type KeyRow = IdempotencyKeysTable;

/** A new lease, unless the key has a row already (then false: read it). */
export async function insertLease(db: Db, row: KeyRow): Promise<boolean> {
  const inserted = await db
    .insertInto('idempotency_keys')
    .values(row)
    .onConflict((oc) => oc.column('key_hash').doNothing())
    .returning('key_hash')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function findKey(db: Db, keyHash: string): Promise<KeyRow | undefined> {
  return db.selectFrom('idempotency_keys').selectAll().where('key_hash', '=', keyHash).executeTakeFirst();
}

/**
 * Takes the key over from the holder `previousLease` when its record has expired or its lease
 * has ended as of `now` (both re-checked here, so of two takers one wins); true when this did.
 */
export async function takeOver(db: Db, previousLease: string, now: string, row: KeyRow): Promise<boolean> {
  const result = await db
    .updateTable('idempotency_keys')
    .set({ ...row, status: null, headers: null, body: null })
    .where('key_hash', '=', row.key_hash)
    .where('lease_id', '=', previousLease)
    .where((eb) =>
      eb.or([eb('expires_at', '<=', now), eb.and([eb('status', 'is', null), eb('lease_until', '<=', now)])]),
    )
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Stores the reply, if `leaseId` still holds the key and nothing is stored yet. */
export async function completeLease(
  db: Db,
  keyHash: string,
  leaseId: string,
  stored: Pick<KeyRow, 'status' | 'headers' | 'body' | 'expires_at'>,
): Promise<boolean> {
  const result = await db
    .updateTable('idempotency_keys')
    .set(stored)
    .where('key_hash', '=', keyHash)
    .where('lease_id', '=', leaseId)
    .where('status', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Frees a key whose request stored nothing (it was refused or failed), if `leaseId` still holds it. */
export async function releaseLease(db: Db, keyHash: string, leaseId: string): Promise<void> {
  await db
    .deleteFrom('idempotency_keys')
    .where('key_hash', '=', keyHash)
    .where('lease_id', '=', leaseId)
    .where('status', 'is', null)
    .execute();
}

/** Deletes up to `limit` records that expired before `now`; returns how many. */
export async function deleteExpired(db: Db, now: string, limit: number): Promise<number> {
  const chunk = await db
    .selectFrom('idempotency_keys')
    .select('key_hash')
    .where('expires_at', '<=', now)
    .limit(limit)
    .execute();
  if (chunk.length === 0) return 0;
  await db
    .deleteFrom('idempotency_keys')
    .where(
      'key_hash',
      'in',
      chunk.map((row) => row.key_hash),
    )
    // Re-checked: a key taken over since the select has a new expiry.
    .where('expires_at', '<=', now)
    .execute();
  return chunk.length;
}
