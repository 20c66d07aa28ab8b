import { type Kysely, type Selectable, type SqlBool, sql } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { ApiKeysTable } from '../../db/tables/api-keys.table.js';

/** All SQL about API keys. Every function takes the executor, so the service decides transactions. */
export type Db = Kysely<Database>;
export type ApiKeyRow = Selectable<ApiKeysTable>;

export async function insertApiKey(db: Db, row: ApiKeyRow): Promise<void> {
  await db.insertInto('api_keys').values(row).execute();
}

/** The lookup of a presented key: by its public prefix (unique, indexed). */
export async function findByPrefix(db: Db, prefix: string): Promise<ApiKeyRow | undefined> {
  return db.selectFrom('api_keys').selectAll().where('prefix', '=', prefix).executeTakeFirst();
}

export async function findOwned(db: Db, userId: string, id: string): Promise<ApiKeyRow | undefined> {
  return db
    .selectFrom('api_keys')
    .selectAll()
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

export async function countOwned(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll().as('count'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** A user's keys, newest first; version 2 passes the last one seen (keyset on the index). */
export async function listOwned(
  db: Db,
  userId: string,
  limit: number,
  offset: number,
  after: { createdAt: string; id: string } | null = null,
): Promise<ApiKeyRow[]> {
  let query = db.selectFrom('api_keys').selectAll().where('user_id', '=', userId);
  if (after) query = query.where(sql<SqlBool>`(created_at, id) < (${after.createdAt}, ${after.id})`);
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).offset(offset).execute();
}

/** Deletes one of a user's keys; its prefix when it existed. */
export async function deleteOwned(db: Db, userId: string, id: string): Promise<string | null> {
  const row = await db
    .deleteFrom('api_keys')
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .returning('prefix')
    .executeTakeFirst();
  return row?.prefix ?? null;
}

export async function deleteUserKeys(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('api_keys').where('user_id', '=', userId).execute();
}

export async function touchApiKey(db: Db, id: string, at: string): Promise<void> {
  await db.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
}
