import type { Kysely } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { Database } from '../../db/schema.js';
import { ApiError } from '../../errors.js';
import type { CursorPage, CursorRequest, Page, PageRequest } from '../../lib/lists.js';
import { pageOf } from '../../lib/lists.js';
import type { AppContext } from '../../lib/module.js';
import * as repo from './deliveries.repository.js';
import type { Delivery } from './deliveries.schemas.js';
import { DELIVERY_JOB, type DeliveryJobPayload } from './delivery-job.js';

/** The delivery log of a webhook, redelivery and ping; the webhook must be the caller's. */
export class DeliveriesService {
  constructor(private readonly ctx: AppContext) {}

  private get db(): Kysely<Database> {
    return this.ctx.database.db;
  }

  private async owned(userId: string, webhookId: string): Promise<repo.WebhookRow> {
    const webhook = await repo.findOwnedWebhook(this.db, userId, webhookId);
    if (!webhook) throw new ApiError('not_found');
    return webhook;
  }

  async list(userId: string, webhookId: string, request: PageRequest): Promise<Page<Delivery>> {
    await this.owned(userId, webhookId);
    const [rows, total] = await Promise.all([
      repo.listDeliveries(this.db, webhookId, request.size, (request.page - 1) * request.size),
      repo.countDeliveries(this.db, webhookId),
    ]);
    return pageOf(rows.map(toDelivery), total, request);
  }

  async listAfter(userId: string, webhookId: string, request: CursorRequest): Promise<CursorPage<Delivery>> {
    await this.owned(userId, webhookId);
    const { cursors } = this.ctx;
    const { limit, cursor } = request;
    const binding = { list: 'webhook-deliveries', caller: userId, webhook: webhookId };
    let after: { createdAt: string; id: string } | null = null;
    if (cursor !== undefined) {
      const p = cursors.open(binding, cursor) as { v?: unknown; id?: unknown } | null;
      if (typeof p?.v !== 'string' || typeof p.id !== 'string') throw new ApiError('invalid_cursor');
      after = { createdAt: p.v, id: p.id };
    }
    const rows = await repo.listDeliveries(this.db, webhookId, limit + 1, 0, after);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > limit && last ? cursors.sign(binding, { v: last.created_at, id: last.id }) : null;
    return { items: page.map(toDelivery), nextCursor };
  }

  /** That delivery's event again, as a new delivery with a schedule of its own. */
  async redeliver(userId: string, webhookId: string, deliveryId: string): Promise<Delivery> {
    const webhook = await this.owned(userId, webhookId);
    const original = await repo.findWebhookDelivery(this.db, webhookId, deliveryId);
    if (!original) throw new ApiError('not_found');
    mustBeActive(webhook);
    if (original.position !== null) {
      const state = await this.ctx.services.events.state();
      const kept = await repo.eventExists(this.db, Number(original.position));
      if (!kept || Number(original.position) <= state.prunedThrough) {
        throw new ApiError('events_expired', {
          detail: 'the event of this delivery is older than the retention: it can no longer be sent',
        });
      }
    }
    return this.deliver(webhookId, original.event_id, original.position, original.type, original.payload);
  }

  /** A ping: `{ type: "ping", id, occurredAt, webhookId }`, signed and sent like an event. */
  async ping(userId: string, webhookId: string): Promise<Delivery> {
    const webhook = await this.owned(userId, webhookId);
    mustBeActive(webhook);
    const id = `ping-${uuidv7()}`;
    const occurredAt = new Date(this.ctx.clock()).toISOString();
    const payload = JSON.stringify({ type: 'ping', id, occurredAt, webhookId });
    return this.deliver(webhookId, id, null, 'ping', payload);
  }

  private async deliver(
    webhookId: string,
    eventId: string,
    position: number | string | null,
    type: string,
    payload: string,
  ): Promise<Delivery> {
    const now = new Date(this.ctx.clock()).toISOString();
    const row = repo.pendingDelivery(
      { webhook_id: webhookId, event_id: eventId, position, type, payload },
      uuidv7(),
      now,
    );
    await this.db.transaction().execute(async (trx) => {
      await repo.insertDeliveries(trx, [row]);
      const job: DeliveryJobPayload = { deliveryId: row.id, attempt: 1 };
      await this.ctx.jobs.enqueue(trx, DELIVERY_JOB, job);
    });
    return toDelivery(row);
  }
}

function mustBeActive(webhook: repo.WebhookRow): void {
  if (webhook.active !== 1) {
    throw new ApiError('conflict', {
      detail: 'the webhook is not active: set active to true first (nothing is sent to an inactive webhook)',
    });
  }
}

export function toDelivery(row: repo.DeliveryRow): Delivery {
  return {
    id: row.id,
    eventId: row.event_id,
    type: row.type,
    attempt: row.attempt,
    status: row.status,
    responseStatus: row.response_status,
    durationMs: row.duration_ms,
    error: row.error,
    responseBody: row.response_body,
    createdAt: row.created_at,
  };
}
