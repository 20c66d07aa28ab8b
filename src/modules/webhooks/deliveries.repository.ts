import { type Kysely, type Selectable, type SqlBool, sql } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { WebhookDeliveriesTable, WebhooksTable } from '../../db/tables/events.table.js';

/** All SQL of webhook deliveries and the dispatcher's cursor. Every function takes the executor. */

type Db = Kysely<Database>;
export type DeliveryRow = WebhookDeliveriesTable;

/** A new delivery of one event (or ping) to one webhook: pending, no attempt made yet. */
export function pendingDelivery(
  of: Pick<DeliveryRow, 'webhook_id' | 'event_id' | 'position' | 'type' | 'payload'>,
  id: string,
  now: string,
): DeliveryRow {
  return {
    id,
    ...of,
    attempt: 0,
    status: 'pending',
    response_status: null,
    duration_ms: null,
    error: null,
    response_body: null,
    next_attempt_at: now,
    created_at: now,
    updated_at: now,
  };
}
export type WebhookRow = Selectable<WebhooksTable>;

/** An active webhook, with what its owner's view of the log needs (the owner's role, whether disabled). */
export interface ActiveWebhook extends WebhookRow {
  owner_role: string;
  owner_disabled: number;
}

export async function dispatchedThrough(db: Db): Promise<number> {
  const row = await db
    .selectFrom('webhook_dispatch')
    .select('through')
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  return Number(row.through);
}

/**
 * Moves the dispatcher's cursor from `from` to `to`, only if it is still at `from`: the first
 * statement of a pass's transaction, so its row lock (PostgreSQL) or write lock (SQLite) is held
 * to the commit, and a second instance that read the same `from` changes nothing (false).
 */
export async function advanceDispatch(db: Db, from: number, to: number): Promise<boolean> {
  const result = await db
    .updateTable('webhook_dispatch')
    .set({ through: to })
    .where('id', '=', 1)
    .where('through', '=', from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function activeWebhooks(db: Db): Promise<ActiveWebhook[]> {
  return (
    db
      .selectFrom('webhooks as w')
      .innerJoin('users as u', 'u.id', 'w.user_id')
      .selectAll('w')
      .select(['u.role as owner_role', 'u.disabled as owner_disabled'])
      .where('w.active', '=', 1)
      // A disabled user's webhooks send nothing (contract §8: only what its owner may see).
      .where('u.disabled', '=', 0)
      .orderBy('w.created_at')
      .orderBy('w.id')
      .execute()
  );
}

export async function findWebhook(db: Db, id: string): Promise<ActiveWebhook | undefined> {
  return db
    .selectFrom('webhooks as w')
    .innerJoin('users as u', 'u.id', 'w.user_id')
    .selectAll('w')
    .select(['u.role as owner_role', 'u.disabled as owner_disabled'])
    .where('w.id', '=', id)
    .executeTakeFirst();
}

export async function findOwnedWebhook(db: Db, userId: string, id: string): Promise<WebhookRow | undefined> {
  return db
    .selectFrom('webhooks')
    .selectAll()
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

export async function insertDeliveries(db: Db, rows: DeliveryRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 100) {
    await db
      .insertInto('webhook_deliveries')
      .values(rows.slice(i, i + 100))
      .execute();
  }
}

export async function findDelivery(db: Db, id: string): Promise<DeliveryRow | undefined> {
  return db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findWebhookDelivery(
  db: Db,
  webhookId: string,
  id: string,
): Promise<DeliveryRow | undefined> {
  return db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('id', '=', id)
    .where('webhook_id', '=', webhookId)
    .executeTakeFirst();
}

/** A webhook's deliveries, newest first (createdAt, then id, descending). */
export async function listDeliveries(
  db: Db,
  webhookId: string,
  limit: number,
  offset: number,
  after: { createdAt: string; id: string } | null = null,
): Promise<DeliveryRow[]> {
  let query = db.selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', webhookId);
  if (after) query = query.where(sql<SqlBool>`(created_at, id) < (${after.createdAt}, ${after.id})`);
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).offset(offset).execute();
}

export async function countDeliveries(db: Db, webhookId: string): Promise<number> {
  const row = await db
    .selectFrom('webhook_deliveries')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('webhook_id', '=', webhookId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export type AttemptRecord = Pick<
  DeliveryRow,
  'status' | 'response_status' | 'duration_ms' | 'error' | 'response_body' | 'next_attempt_at' | 'updated_at'
>;

/**
 * Records attempt `attempt` of a delivery, only if it is the next one of a pending delivery: a
 * second run of the same attempt (the queue's retry after a crash, a lease taken over) records
 * nothing and schedules nothing (false).
 */
export async function recordAttempt(
  db: Db,
  id: string,
  attempt: number,
  record: AttemptRecord,
): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ ...record, attempt })
    .where('id', '=', id)
    .where('attempt', '=', attempt - 1)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function touchWebhook(db: Db, id: string, at: string): Promise<void> {
  await db.updateTable('webhooks').set({ last_delivery_at: at }).where('id', '=', id).execute();
}

export async function disableWebhook(db: Db, id: string, reason: string, at: string): Promise<void> {
  await db
    .updateTable('webhooks')
    .set({ active: 0, disabled_reason: reason, updated_at: at })
    .where('id', '=', id)
    .where('active', '=', 1)
    .execute();
}

export async function eventExists(db: Db, position: number): Promise<boolean> {
  const row = await db
    .selectFrom('events')
    .select('position')
    .where('position', '=', position)
    .executeTakeFirst();
  return row !== undefined;
}
