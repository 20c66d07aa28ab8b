import { uuidv7 } from 'uuidv7';
import { parseEventId } from '../../lib/change-log.js';
import { isDatabaseUnavailable } from '../../lib/db-errors.js';
import type { AppContext, BackgroundWork } from '../../lib/module.js';
import { rateLimitedWarning } from '../../lib/rate-limited-log.js';
import type { Event } from '../events/index.js';
import * as repo from './deliveries.repository.js';
import { DELIVERY_JOB, type DeliveryJobPayload } from './delivery-job.js';

/**
 * The webhook dispatcher (design §4): turns committed events into deliveries. A pass reads the
 * events after `webhook_dispatch.through` (at most BATCH), finds for each the active webhooks
 * that take it (its type or "*", no project or its project) and whose owner may see it now, then,
 * in one transaction, moves `through` past them (a compare-and-set: of several instances reading
 * the same cursor, one wins, the others change nothing and look again), inserts the deliveries
 * and enqueues their first attempts, oldest event first. Passes run when this process commits
 * events, every second (other processes' commits), and again while they are behind.
 */

export const BATCH = 100;
export /** How long stop() waits for a pass in flight. */
const STOP_WAIT_MS = 2000;
const TICK_MS = 1000;

interface Planned {
  webhookId: string;
  event: Event;
  position: number;
}

export class Dispatcher implements BackgroundWork {
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  /** Every tick fails while the database does not answer: one line a minute, not an error a second. */
  private readonly databaseDown: (error: Error) => void;

  constructor(private readonly ctx: AppContext) {
    this.databaseDown = rateLimitedWarning(
      ctx.log,
      'webhook dispatcher: the database does not answer; events are dispatched when it is back',
    );
  }

  start(): void {
    this.stopped = false;
    this.unsubscribe = this.ctx.changes.onCommit(() => this.kick());
    this.timer = setInterval(() => this.kick(), TICK_MS);
    this.timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // A pass in flight finishes (its transaction commits or rolls back), but a database that stopped
    // answering must not hold the shutdown: past STOP_WAIT_MS the pass is left to fail on its own.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise((resolve) => (bound = setTimeout(resolve, STOP_WAIT_MS)))]);
    clearTimeout(bound);
  }

  /** Runs passes until caught up; a kick while one runs makes it look again when done. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = null;
    });
  }

  private async drain(): Promise<void> {
    do {
      this.again = false;
      try {
        while (!this.stopped && (await this.pass())) {
          // behind: the next batch at once
        }
      } catch (error) {
        // A busy database or a lost race: logged; the next tick tries again.
        if (isDatabaseUnavailable(error)) this.databaseDown(error as Error);
        else this.ctx.log.error({ err: error }, 'webhook dispatcher: a pass failed');
        return;
      }
    } while (this.again && !this.stopped);
  }

  /** One batch; true when more events wait (or another instance moved the cursor meanwhile). */
  async pass(): Promise<boolean> {
    const { ctx } = this;
    const db = ctx.database.db;
    const [through, state] = await Promise.all([repo.dispatchedThrough(db), ctx.services.events.state()]);
    if (state.head <= through) return false;
    const upto = Math.min(state.head, through + BATCH);
    const planned = await this.plan(through, upto);
    const now = new Date(ctx.clock()).toISOString();
    const won = await db.transaction().execute(async (trx) => {
      if (!(await repo.advanceDispatch(trx, through, upto))) return false;
      const rows = planned.map((p) =>
        repo.pendingDelivery(
          {
            webhook_id: p.webhookId,
            event_id: p.event.id,
            position: p.position,
            type: p.event.type,
            payload: JSON.stringify(p.event),
          },
          uuidv7(),
          now,
        ),
      );
      await repo.insertDeliveries(trx, rows);
      for (const row of rows) {
        const payload: DeliveryJobPayload = { deliveryId: row.id, attempt: 1 };
        await ctx.jobs.enqueue(trx, DELIVERY_JOB, payload);
      }
      return true;
    });
    return !won || upto < state.head;
  }

  /** The deliveries of events (through, upto], oldest event first, each webhook once per event. */
  private async plan(through: number, upto: number): Promise<Planned[]> {
    const { events } = this.ctx.services;
    const webhooks = await repo.activeWebhooks(this.ctx.database.db);
    const byOwner = new Map<string, repo.ActiveWebhook[]>();
    for (const webhook of webhooks) {
      const list = byOwner.get(webhook.user_id) ?? [];
      list.push(webhook);
      byOwner.set(webhook.user_id, list);
    }
    const planned: Planned[] = [];
    for (const [userId, owned] of byOwner) {
      const viewer = { userId, admin: owned[0]?.owner_role === 'admin' };
      // At most upto - through events lie in the range: one page holds every visible one.
      const page = await events.feed(viewer, through, upto - through);
      for (const event of page.items) {
        const position = parseEventId(event.id)?.position ?? 0;
        if (position <= through || position > upto) continue;
        for (const webhook of owned) {
          if (takes(webhook, event, position)) planned.push({ webhookId: webhook.id, event, position });
        }
      }
    }
    // Event order, then the webhooks' order: each webhook's first attempts start in event order.
    return planned.sort((a, b) => a.position - b.position);
  }
}

/**
 * Whether a webhook subscribes to the event numbered `position`: its type or "*", no project or
 * the event's, and committed after the webhook was made (numbers are in commit order; a
 * dispatcher that was behind never sends what came before it).
 */
export function takes(
  webhook: repo.WebhookRow,
  event: Pick<Event, 'type' | 'projectId'>,
  position: number,
): boolean {
  if (position <= Number(webhook.since)) return false;
  if (webhook.project_id !== null && webhook.project_id !== event.projectId) return false;
  const types = JSON.parse(webhook.events) as string[];
  return types.includes('*') || types.includes(event.type);
}
