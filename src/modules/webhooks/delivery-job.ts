import type { JobType } from '../../lib/jobs.js';
import type { AppContext } from '../../lib/module.js';
import { serviceVersion } from '../../lib/package-info.js';
import * as repo from './deliveries.repository.js';
import { signatureHeader } from './signature.js';
import type { WebhookTransport } from './transport.js';

/**
 * One attempt of one delivery (contract §8, "Deliveries"): a job of type `webhook-delivery` per
 * attempt. A failed attempt enqueues the next one as a new job with its `runAt`, in the
 * transaction that records the failure, so a crash between them loses nothing; the job type's
 * own retries only cover a crash inside an attempt, and cannot count an attempt twice (see
 * repo.recordAttempt).
 */

export const DELIVERY_JOB = 'webhook-delivery';

export interface DeliveryJobPayload {
  deliveryId: string;
  /** The attempt this job makes, 1 for the first. */
  attempt: number;
}

/** Every attempt of one delivery, the first included. */
export const MAX_ATTEMPTS = 8;
/** The last attempt is made this long after the first: a day of failures disables the webhook. */
export const RETRY_SPAN_MS = 24 * 3_600_000;
/** The wait after attempts 1–6 (before the jitter); attempt 8 comes at the first + RETRY_SPAN_MS. */
const DELAYS_MS = [10_000, 60_000, 300_000, 1_800_000, 7_200_000, 21_600_000, 43_200_000];

/**
 * When attempt `attempt + 1` is made after attempt `attempt` failed at `now`, for a delivery whose
 * first attempt was at `firstAt`; null when `attempt` was the last. Attempts 2–7 wait 10 s, 1 min,
 * 5 min, 30 min, 2 h and 6 h, each times a jitter in [1, 1.25); the 8th comes 24 h after the first
 * (never sooner than 10 s after the 7th), so "24 h of failures" is what disables a webhook.
 */
export function nextAttemptAt(
  attempt: number,
  firstAt: number,
  now: number,
  random: () => number = Math.random,
): number | null {
  if (attempt >= MAX_ATTEMPTS) return null;
  if (attempt === MAX_ATTEMPTS - 1) return Math.max(firstAt + RETRY_SPAN_MS, now + 10_000);
  const delay = DELAYS_MS[attempt - 1] ?? 0;
  return now + Math.round(delay * (1 + 0.25 * random()));
}

/** What a receiver wrote, storable in a text column (PostgreSQL refuses NUL), at most `max` characters. */
function storable(text: string | null, max: number): string | null {
  return text === null ? null : text.replaceAll('\u0000', '\ufffd').slice(0, max);
}

function errorOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function deliveryJob(ctx: AppContext, transport: WebhookTransport): JobType<DeliveryJobPayload> {
  const userAgent = `Taskforge-Webhooks/${serviceVersion()}`;
  return {
    name: DELIVERY_JOB,
    // A crash (database down) inside an attempt: the same attempt again, soon.
    retry: { attempts: 5, delayMs: 10_000 },
    async handler({ deliveryId, attempt }) {
      const db = ctx.database.db;
      const delivery = await repo.findDelivery(db, deliveryId);
      // Gone with its webhook, finished, or this attempt already recorded: nothing to do.
      if (delivery?.status !== 'pending' || delivery.attempt >= attempt) return;
      const webhook = await repo.findWebhook(db, delivery.webhook_id);
      if (!webhook) return;
      const at = () => new Date(ctx.clock()).toISOString();
      const finish = (error: string) =>
        repo.recordAttempt(db, deliveryId, attempt, {
          status: 'failed',
          response_status: null,
          duration_ms: null,
          error,
          response_body: null,
          next_attempt_at: null,
          updated_at: at(),
        });
      if (webhook.active !== 1) {
        await finish('the webhook is not active');
        return;
      }
      // A disabled owner may see nothing: its webhooks send nothing, retries included.
      if (Number(webhook.owner_disabled) !== 0) {
        await finish('its owner is disabled');
        return;
      }
      if (delivery.position !== null) {
        const viewer = { userId: webhook.user_id, admin: webhook.owner_role === 'admin' };
        const event = await ctx.services.events.visible(viewer, Number(delivery.position));
        if (!event) {
          await finish('no longer visible');
          return;
        }
      }
      const t = Math.floor(ctx.clock() / 1000);
      const outcome = await transport
        .send({
          url: webhook.url,
          headers: {
            'content-type': 'application/json',
            'user-agent': userAgent,
            'taskforge-event': delivery.type,
            'taskforge-event-id': delivery.event_id,
            'taskforge-delivery': delivery.id,
            'taskforge-signature': signatureHeader(webhook.secret, t, delivery.payload),
          },
          body: delivery.payload,
        })
        .catch((error: unknown) => ({
          ok: false,
          status: null,
          durationMs: 0,
          error: `cannot send: ${errorOf(error)}`,
          body: null,
        }));
      ctx.metrics.webhookDelivery(
        outcome.ok ? 'success' : outcome.status === null ? 'no_response' : 'http_error',
        outcome.durationMs / 1000,
      );
      const now = ctx.clock();
      const nextAt = outcome.ok ? null : nextAttemptAt(attempt, Date.parse(delivery.created_at), now);
      const status = outcome.ok ? 'succeeded' : nextAt === null ? 'failed' : 'pending';
      await ctx.database.db.transaction().execute(async (trx) => {
        const recorded = await repo.recordAttempt(trx, deliveryId, attempt, {
          status,
          response_status: outcome.status,
          duration_ms: Math.round(outcome.durationMs),
          error: storable(outcome.error, 500),
          response_body: storable(outcome.body, 1024),
          next_attempt_at: nextAt === null ? null : new Date(nextAt).toISOString(),
          updated_at: new Date(now).toISOString(),
        });
        if (!recorded) return;
        await repo.touchWebhook(trx, webhook.id, new Date(now).toISOString());
        if (nextAt !== null) {
          const next: DeliveryJobPayload = { deliveryId, attempt: attempt + 1 };
          await ctx.jobs.enqueue(trx, DELIVERY_JOB, next, { runAt: nextAt });
        } else if (status === 'failed') {
          const reason = `deliveries of event ${delivery.event_id} failed for 24 hours`;
          await repo.disableWebhook(trx, webhook.id, reason, new Date(now).toISOString());
          ctx.log.warn({ webhookId: webhook.id, eventId: delivery.event_id }, `webhook disabled: ${reason}`);
        }
      });
    },
  };
}
