import { uuidv7 } from 'uuidv7';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AppContext } from '../../src/lib/module.js';
import type { Principal } from '../../src/lib/principal.js';
import type { DeliveryRow } from '../../src/modules/webhooks/deliveries.repository.js';
import { type DeliveriesService, toDelivery } from '../../src/modules/webhooks/deliveries.service.js';
import { buildTestServices, failure, type TestServices } from '../helpers/services.js';

/**
 * The deliveries service called directly (test/helpers/services.ts): the delivery log of a
 * webhook, redelivery and ping, with the rows they leave and the jobs they enqueue. The job queue
 * is not started: nothing is sent.
 */

const T0 = Date.UTC(2026, 11, 4, 10, 0, 0);
const PASSWORD = 'correct horse battery staple 42';
const URL_A = 'https://93.184.216.34/hooks';
const MISSING = '01935e1f-2b3e-7d4e-8f5a-6b7e8d9e0f1a';

let services: TestServices;
let ctx: AppContext;
let deliveries: DeliveriesService;
let counter = 0;
let enqueued: { name: string; payload: unknown }[] = [];

beforeAll(async () => {
  services = await buildTestServices();
  ctx = services.ctx;
  deliveries = ctx.services.webhookDeliveries;
});
afterAll(async () => services.close());
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
  enqueued = [];
  const enqueue = ctx.jobs.enqueue.bind(ctx.jobs);
  vi.spyOn(ctx.jobs, 'enqueue').mockImplementation(async (trx, name, payload, options) => {
    enqueued.push({ name, payload });
    return enqueue(trx, name, payload, options);
  });
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const at = (ms: number) => new Date(T0 + ms).toISOString();

async function person(): Promise<Principal> {
  counter += 1;
  const u = await ctx.services.users.create({
    email: `deliveries-unit-${counter}@example.com`,
    password: PASSWORD,
    name: `d${counter}`,
  });
  return { userId: u.id, role: 'user', sessionId: null, scopes: null, apiKeyId: null, tokenExpiresAt: null };
}

async function hookOf(caller: Principal) {
  return ctx.services.webhooks.create(caller, { url: URL_A, events: ['*'] });
}

/** A task made in a project of the caller's: its event's number. */
async function taskEvent(caller: Principal): Promise<number> {
  const project = await ctx.services.projects.create(caller, { name: `p${counter}` });
  await ctx.services.tasks.create(caller, { title: 'watched', projectId: project.id });
  return (await ctx.services.events.state()).head;
}

/** A delivery of an event, as the dispatcher leaves one after its attempts. */
async function stored(webhookId: string, ms: number, position: number | null = null): Promise<DeliveryRow> {
  const row: DeliveryRow = {
    id: uuidv7(),
    webhook_id: webhookId,
    event_id: `e-${ms}`,
    position,
    type: 'task.created',
    payload: JSON.stringify({ type: 'task.created', n: ms }),
    attempt: 2,
    status: 'failed',
    response_status: 500,
    duration_ms: 12,
    error: 'HTTP 500',
    response_body: 'oops',
    next_attempt_at: null,
    created_at: at(ms),
    updated_at: at(ms),
  };
  await ctx.database.db.insertInto('webhook_deliveries').values(row).execute();
  return row;
}

const rowsOf = (webhookId: string) =>
  ctx.database.db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('webhook_id', '=', webhookId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();

const deactivate = (id: string) =>
  ctx.database.db.updateTable('webhooks').set({ active: 0 }).where('id', '=', id).execute();

describe('toDelivery', () => {
  it('maps a row to the API shape', () => {
    const row: DeliveryRow = {
      id: 'd1',
      webhook_id: 'w1',
      event_id: 'e1',
      position: 7,
      type: 'task.updated',
      payload: '{}',
      attempt: 3,
      status: 'succeeded',
      response_status: 204,
      duration_ms: 40,
      error: null,
      response_body: '',
      next_attempt_at: null,
      created_at: at(0),
      updated_at: at(9),
    };
    expect(toDelivery(row)).toEqual({
      id: 'd1',
      eventId: 'e1',
      type: 'task.updated',
      attempt: 3,
      status: 'succeeded',
      responseStatus: 204,
      durationMs: 40,
      error: null,
      responseBody: '',
      createdAt: at(0),
    });
  });
});

describe('list and listAfter', () => {
  it('lists a webhook’s deliveries newest first, a page at a time, with the total', async () => {
    const caller = await person();
    const hook = await hookOf(caller);
    const other = await hookOf(caller);
    await stored(other.id, 50);
    const rows = [await stored(hook.id, 0), await stored(hook.id, 10), await stored(hook.id, 20)];
    const first = await deliveries.list(caller.userId, hook.id, { page: 1, size: 2 });
    expect(first).toEqual({
      items: [toDelivery(rows[2] as DeliveryRow), toDelivery(rows[1] as DeliveryRow)],
      total: 3,
      page: 1,
      size: 2,
      pages: 2,
    });
    const second = await deliveries.list(caller.userId, hook.id, { page: 2, size: 2 });
    expect(second).toMatchObject({ total: 3, page: 2, pages: 2 });
    expect(second.items).toEqual([toDelivery(rows[0] as DeliveryRow)]);
    const none = await deliveries.list(caller.userId, (await hookOf(caller)).id, { page: 1, size: 5 });
    expect(none).toEqual({ items: [], total: 0, page: 1, size: 5, pages: 0 });
  });

  it('pages with a signed cursor bound to the caller and the webhook', async () => {
    const caller = await person();
    const hook = await hookOf(caller);
    const rows = [await stored(hook.id, 0), await stored(hook.id, 10), await stored(hook.id, 10)];
    const newestFirst = rows
      .map((r) => r.id)
      .sort()
      .reverse();
    // Two at the same time: the later id first.
    expect(newestFirst.slice(0, 2)).toEqual([rows[2]?.id, rows[1]?.id]);
    const first = await deliveries.listAfter(caller.userId, hook.id, { limit: 2, cursor: undefined });
    expect(first.items.map((d) => d.id)).toEqual(newestFirst.slice(0, 2));
    expect(first.items[0]).toEqual(toDelivery(rows[2] as DeliveryRow));
    const cursor = first.nextCursor as string;
    const binding = { list: 'webhook-deliveries', caller: caller.userId, webhook: hook.id };
    expect(ctx.cursors.open(binding, cursor)).toEqual({ v: at(10), id: rows[1]?.id });
    const second = await deliveries.listAfter(caller.userId, hook.id, { limit: 2, cursor });
    expect(second).toEqual({ items: [toDelivery(rows[0] as DeliveryRow)], nextCursor: null });
    expect(
      (await deliveries.listAfter(caller.userId, hook.id, { limit: 3, cursor: undefined })).nextCursor,
    ).toBeNull();
    // One at a time: each page's cursor is its one item's.
    const walked: string[] = [];
    let next: string | null | undefined;
    for (let i = 0; i < 3; i += 1) {
      const one = await deliveries.listAfter(caller.userId, hook.id, { limit: 1, cursor: next ?? undefined });
      walked.push(...one.items.map((d) => d.id));
      next = one.nextCursor;
    }
    expect(walked).toEqual(newestFirst);
    expect(next).toBeNull();
    // Another webhook of the same caller does not take it.
    const other = await hookOf(caller);
    const error = await failure(deliveries.listAfter(caller.userId, other.id, { limit: 2, cursor }));
    expect(error.code).toBe('invalid_cursor');
    for (const position of [null, 'x', { v: at(0) }, { id: 'x' }, { v: 1, id: 'x' }, { v: at(0), id: 2 }]) {
      const bad = await failure(
        deliveries.listAfter(caller.userId, hook.id, {
          limit: 2,
          cursor: ctx.cursors.sign(binding, position),
        }),
      );
      expect(bad.code).toBe('invalid_cursor');
      expect(bad.status).toBe(400);
    }
  });

  it('404 for a webhook that is not the caller’s, or none', async () => {
    const owner = await person();
    const other = await person();
    const hook = await hookOf(owner);
    await stored(hook.id, 0);
    for (const [userId, id] of [
      [other.userId, hook.id],
      [owner.userId, MISSING],
    ]) {
      expect(
        (await failure(deliveries.list(userId as string, id as string, { page: 1, size: 5 }))).code,
      ).toBe('not_found');
      const v2 = await failure(
        deliveries.listAfter(userId as string, id as string, { limit: 5, cursor: undefined }),
      );
      expect(v2.code).toBe('not_found');
      expect(v2.status).toBe(404);
      expect((await failure(deliveries.ping(userId as string, id as string))).code).toBe('not_found');
    }
    expect(enqueued).toEqual([]);
  });
});

describe('ping', () => {
  it('queues a signed ping: { type, id, occurredAt, webhookId }, pending, attempt 1 next', async () => {
    const caller = await person();
    const hook = await hookOf(caller);
    vi.setSystemTime(T0 + 1234);
    const delivery = await deliveries.ping(caller.userId, hook.id);
    expect(delivery).toEqual({
      id: expect.any(String),
      eventId: expect.stringMatching(/^ping-[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      type: 'ping',
      attempt: 0,
      status: 'pending',
      responseStatus: null,
      durationMs: null,
      error: null,
      responseBody: null,
      createdAt: at(1234),
    });
    const [row] = await rowsOf(hook.id);
    expect(row).toMatchObject({
      id: delivery.id,
      event_id: delivery.eventId,
      position: null,
      type: 'ping',
      status: 'pending',
      next_attempt_at: at(1234),
      updated_at: at(1234),
    });
    expect(JSON.parse(row?.payload as string)).toEqual({
      type: 'ping',
      id: delivery.eventId,
      occurredAt: at(1234),
      webhookId: hook.id,
    });
    expect(enqueued).toEqual([
      { name: 'webhook-delivery', payload: { deliveryId: delivery.id, attempt: 1 } },
    ]);
    const second = await deliveries.ping(caller.userId, hook.id);
    expect(second.eventId).not.toBe(delivery.eventId);
  });

  it('409 for an inactive webhook: nothing is stored or queued', async () => {
    const caller = await person();
    const hook = await hookOf(caller);
    await deactivate(hook.id);
    const error = await failure(deliveries.ping(caller.userId, hook.id));
    expect(error.code).toBe('conflict');
    expect(error.status).toBe(409);
    expect(error.detail).toBe(
      'the webhook is not active: set active to true first (nothing is sent to an inactive webhook)',
    );
    expect(await rowsOf(hook.id)).toEqual([]);
    expect(enqueued).toEqual([]);
  });

  it('stores nothing when the job cannot be queued (one transaction)', async () => {
    const caller = await person();
    const hook = await hookOf(caller);
    vi.mocked(ctx.jobs.enqueue).mockRejectedValueOnce(new Error('queue down'));
    await expect(deliveries.ping(caller.userId, hook.id)).rejects.toThrow('queue down');
    expect(await rowsOf(hook.id)).toEqual([]);
  });
});

describe('redeliver', () => {
  it('sends the event again as a new pending delivery with the same event, type and payload', async () => {
    const caller = await person();
    const hook = await hookOf(caller);
    const position = await taskEvent(caller);
    const original = await stored(hook.id, 0, position);
    vi.setSystemTime(T0 + 60_000);
    const again = await deliveries.redeliver(caller.userId, hook.id, original.id);
    expect(again).toEqual({
      id: expect.any(String),
      eventId: original.event_id,
      type: original.type,
      attempt: 0,
      status: 'pending',
      responseStatus: null,
      durationMs: null,
      error: null,
      responseBody: null,
      createdAt: at(60_000),
    });
    expect(again.id).not.toBe(original.id);
    const rows = await rowsOf(hook.id);
    expect(rows).toHaveLength(2);
    expect({ ...rows[0], position: Number(rows[0]?.position) }).toEqual(original);
    expect(rows[1]).toMatchObject({
      id: again.id,
      event_id: original.event_id,
      type: original.type,
      payload: original.payload,
      attempt: 0,
      status: 'pending',
      next_attempt_at: at(60_000),
    });
    expect(Number(rows[1]?.position)).toBe(position);
    expect(enqueued).toEqual([{ name: 'webhook-delivery', payload: { deliveryId: again.id, attempt: 1 } }]);
  });

  it('redelivers a ping (no event number) as it was, whatever the retention', async () => {
    const caller = await person();
    const hook = await hookOf(caller);
    const ping = await deliveries.ping(caller.userId, hook.id);
    const head = (await ctx.services.events.state()).head;
    await ctx.database.db.updateTable('event_log').set({ pruned_through: head }).execute();
    try {
      const again = await deliveries.redeliver(caller.userId, hook.id, ping.id);
      expect(again).toMatchObject({ eventId: ping.eventId, type: 'ping', status: 'pending' });
      const rows = await rowsOf(hook.id);
      expect(rows.map((r) => r.payload)).toEqual([rows[0]?.payload, rows[0]?.payload]);
    } finally {
      await ctx.database.db.updateTable('event_log').set({ pruned_through: 0 }).execute();
    }
  });

  it('410 events_expired once the event is deleted or within the pruned range', async () => {
    const caller = await person();
    const hook = await hookOf(caller);
    const position = await taskEvent(caller);
    const original = await stored(hook.id, 0, position);
    try {
      // Pruned through the number before it: still there.
      await ctx.database.db
        .updateTable('event_log')
        .set({ pruned_through: position - 1 })
        .execute();
      expect((await deliveries.redeliver(caller.userId, hook.id, original.id)).eventId).toBe(
        original.event_id,
      );
      // Pruned through its number, the row not yet deleted.
      await ctx.database.db.updateTable('event_log').set({ pruned_through: position }).execute();
      const pruned = await failure(deliveries.redeliver(caller.userId, hook.id, original.id));
      expect(pruned.code).toBe('events_expired');
      expect(pruned.status).toBe(410);
      expect(pruned.detail).toBe(
        'the event of this delivery is older than the retention: it can no longer be sent',
      );
    } finally {
      await ctx.database.db.updateTable('event_log').set({ pruned_through: 0 }).execute();
    }
    // The row deleted, the range not yet moved.
    const gone = await stored(hook.id, 5, 10 ** 9);
    const deleted = await failure(deliveries.redeliver(caller.userId, hook.id, gone.id));
    expect(deleted.code).toBe('events_expired');
    expect(await rowsOf(hook.id)).toHaveLength(3);
    expect(enqueued).toHaveLength(1);
  });

  it('404 for a delivery of another webhook or none, before the 409 of an inactive webhook', async () => {
    const owner = await person();
    const other = await person();
    const hook = await hookOf(owner);
    const second = await hookOf(owner);
    const original = await stored(hook.id, 0);
    const elsewhere = await stored(second.id, 0);
    for (const [userId, webhookId, id] of [
      [other.userId, hook.id, original.id],
      [owner.userId, MISSING, original.id],
      [owner.userId, hook.id, elsewhere.id],
      [owner.userId, hook.id, MISSING],
    ] as const) {
      const error = await failure(deliveries.redeliver(userId, webhookId, id));
      expect(error.code).toBe('not_found');
    }
    await deactivate(hook.id);
    expect((await failure(deliveries.redeliver(owner.userId, hook.id, MISSING))).code).toBe('not_found');
    const inactive = await failure(deliveries.redeliver(owner.userId, hook.id, original.id));
    expect(inactive.code).toBe('conflict');
    expect(inactive.detail).toMatch(/^the webhook is not active/);
    expect(await rowsOf(hook.id)).toEqual([original]);
    expect(enqueued).toEqual([]);
  });
});
