import { type Kysely, type Selectable, type SqlBool, sql, type Updateable } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { WebhooksTable } from '../../db/tables/events.table.js';

/** All SQL about webhooks. Every function takes the executor, so the service decides transactions. */
export type Db = Kysely<Database>;
export type WebhookRow = Selectable<WebhooksTable>;

/**
 * Inserts the webhook when its owner has fewer than `limit`: one statement, so the count and the
 * insert see the same state (on PostgreSQL the caller also holds the owner's row, see lockOwner).
 * `since` is the committed event head of that moment: the webhook receives the events after it.
 * Whether it was inserted.
 */
export async function insertBelowLimit(
  db: Db,
  row: Omit<WebhookRow, 'since'>,
  limit: number,
): Promise<boolean> {
  const result = await sql<{ id: string }>`
    INSERT INTO webhooks (id, user_id, url, events, project_id, description, secret, active,
      disabled_reason, created_at, updated_at, last_delivery_at, since)
    SELECT ${row.id}, ${row.user_id}, ${row.url}, ${row.events}, ${row.project_id}, ${row.description},
      ${row.secret}, ${row.active}, ${row.disabled_reason}, ${row.created_at}, ${row.updated_at},
      ${row.last_delivery_at}, (SELECT head FROM event_log WHERE id = 1)
    WHERE (SELECT count(*) FROM webhooks WHERE user_id = ${row.user_id}) < ${limit}
    RETURNING id`.execute(db);
  return result.rows.length === 1;
}

/**
 * PostgreSQL: holds the owner's row to the commit, so two creations for one user queue and the
 * second counts the first (read committed takes a new snapshot per statement).
 */
export async function lockOwner(db: Db, userId: string): Promise<void> {
  await db.selectFrom('users').select('id').where('id', '=', userId).forUpdate().execute();
}

export async function findOwned(db: Db, userId: string, id: string): Promise<WebhookRow | undefined> {
  return db
    .selectFrom('webhooks')
    .selectAll()
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

/** A webhook by id alone, its secret included (for deliveries, never for a reply). */
export async function findById(db: Db, id: string): Promise<WebhookRow | undefined> {
  return db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function countOwned(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom('webhooks')
    .select((eb) => eb.fn.countAll().as('count'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** A user's webhooks, newest first; version 2 passes the last one seen (keyset on the index). */
export async function listOwned(
  db: Db,
  userId: string,
  limit: number,
  offset: number,
  after: { createdAt: string; id: string } | null = null,
): Promise<WebhookRow[]> {
  let query = db.selectFrom('webhooks').selectAll().where('user_id', '=', userId);
  if (after) query = query.where(sql<SqlBool>`(created_at, id) < (${after.createdAt}, ${after.id})`);
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).offset(offset).execute();
}

/** Changes one of a user's webhooks; the row after the change, or undefined when it is not there. */
export async function updateOwned(
  db: Db,
  userId: string,
  id: string,
  values: Updateable<WebhooksTable>,
): Promise<WebhookRow | undefined> {
  return db
    .updateTable('webhooks')
    .set(values)
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .returningAll()
    .executeTakeFirst();
}

/** Deletes one of a user's webhooks (its deliveries go with it); whether it existed. */
export async function deleteOwned(db: Db, userId: string, id: string): Promise<boolean> {
  const row = await db
    .deleteFrom('webhooks')
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function deleteUserWebhooks(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('webhooks').where('user_id', '=', userId).execute();
}
