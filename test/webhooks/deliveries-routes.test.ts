import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/modules/webhooks/signature.js';
import { issueKey } from '../api-keys/helpers.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { testDatabaseUrl } from '../helpers/database.js';
import { signedIn } from '../helpers/factories.js';
import { createProject } from '../helpers/projects.js';
import { until } from '../helpers/wait.js';
import {
  deliveriesOf,
  insertWebhook,
  type Receiver,
  record,
  startReceiver,
  taskChange,
  WEBHOOK_ENV,
} from '../helpers/webhooks.js';

const dialect = testDatabaseUrl ? 'postgres' : 'sqlite';
const MISSING = '0191d8a0-0000-7000-8000-000000000000';
let t: TestApp;
let r: Receiver;

beforeAll(async () => {
  t = await buildTestApp({ env: WEBHOOK_ENV });
});
afterEach(async () => r?.close());
afterAll(async () => t.close());

async function setUp() {
  const owner = await signedIn(t.app);
  const project = await createProject(t.app, owner.user.id);
  r = await startReceiver();
  const hook = await insertWebhook(t.app, { userId: owner.user.id, url: r.url });
  return { owner, project, hook };
}

const DELIVERY_KEYS = [
  'attempt',
  'createdAt',
  'durationMs',
  'error',
  'eventId',
  'id',
  'responseBody',
  'responseStatus',
  'status',
  'type',
];

describe(`the delivery log, redeliver and ping (${dialect})`, () => {
  it('lists deliveries newest first: v1 pages, v2 cursors; no-store; another user’s webhook is not found', async () => {
    const { owner, project, hook } = await setUp();
    for (let i = 0; i < 3; i += 1) await record(t.app, taskChange(project));
    await until(
      async () =>
        (await deliveriesOf(t.db.handle, hook.id)).filter((d) => d.status === 'succeeded').length === 3,
    );
    const url = `/webhooks/${hook.id}/deliveries`;
    const v1 = await t.app.inject({ url: `/api/v1${url}?size=2`, headers: owner.headers });
    expect(v1.statusCode).toBe(200);
    expect(v1.headers['cache-control']).toBe('no-store');
    const page = v1.json();
    expect(page).toMatchObject({ total: 3, page: 1, size: 2, pages: 2 });
    expect(Object.keys(page.items[0]).sort()).toEqual(DELIVERY_KEYS);
    expect(page.items[0]).toMatchObject({
      status: 'succeeded',
      attempt: 1,
      responseStatus: 200,
      error: null,
      responseBody: 'ok',
    });
    const stored = await deliveriesOf(t.db.handle, hook.id);
    const newestFirst = stored.map((d) => d.id).reverse();

    const first = await t.app.inject({ url: `/api/v2${url}?limit=2`, headers: owner.headers });
    expect(first.statusCode).toBe(200);
    const body = first.json();
    expect(first.headers.link).toContain('rel="next"');
    const second = (
      await t.app.inject({ url: `/api/v2${url}?limit=2&cursor=${body.nextCursor}`, headers: owner.headers })
    ).json();
    expect(second.nextCursor).toBeNull();
    expect([...body.items, ...second.items].map((d: { id: string }) => d.id)).toEqual(newestFirst);
    expect(page.items.map((d: { id: string }) => d.id)).toEqual(newestFirst.slice(0, 2));
    const bad = await t.app.inject({ url: `/api/v2${url}?cursor=nonsense`, headers: owner.headers });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('invalid_cursor');

    const other = await signedIn(t.app);
    for (const version of ['v1', 'v2']) {
      for (const path of [url, `/webhooks/${MISSING}/deliveries`]) {
        const res = await t.app.inject({ url: `/api/${version}${path}`, headers: other.headers });
        expect(res.statusCode).toBe(404);
        expect(res.json().code).toBe('not_found');
      }
    }
  });

  it('redelivers an event as a new delivery with the same event id; 410 once the event is gone', async () => {
    const { owner, project, hook } = await setUp();
    await record(t.app, taskChange(project));
    await until(async () => (await deliveriesOf(t.db.handle, hook.id))[0]?.status === 'succeeded');
    const [original] = await deliveriesOf(t.db.handle, hook.id);
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v2/webhooks/${hook.id}/deliveries/${original?.id}/redeliver`,
      headers: owner.headers,
    });
    expect(res.statusCode).toBe(202);
    expect(res.headers['cache-control']).toBe('no-store');
    const again = res.json();
    expect(again).toMatchObject({
      eventId: original?.event_id,
      status: 'pending',
      attempt: 0,
      type: 'task.created',
    });
    expect(again.id).not.toBe(original?.id);
    await until(() => r.received.length === 2);
    const [a, b] = r.received;
    expect(b?.body).toBe(a?.body);
    expect(b?.headers['taskforge-event-id']).toBe(a?.headers['taskforge-event-id']);
    expect(b?.headers['taskforge-delivery']).toBe(again.id);

    // Another webhook's delivery id, or none: 404.
    const other = await insertWebhook(t.app, {
      userId: owner.user.id,
      url: r.url,
      events: ['project.created'],
    });
    for (const path of [
      `/webhooks/${other.id}/deliveries/${original?.id}/redeliver`,
      `/webhooks/${hook.id}/deliveries/${MISSING}/redeliver`,
    ]) {
      const missing = await t.app.inject({ method: 'POST', url: `/api/v1${path}`, headers: owner.headers });
      expect(missing.statusCode).toBe(404);
    }

    // Retention removed the event.
    await t.db.handle.db.deleteFrom('events').where('position', '=', Number(original?.position)).execute();
    await t.db.handle.db
      .updateTable('event_log')
      .set({ pruned_through: Number(original?.position) })
      .execute();
    const gone = await t.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${hook.id}/deliveries/${original?.id}/redeliver`,
      headers: owner.headers,
    });
    expect(gone.statusCode).toBe(410);
    expect(gone.json().code).toBe('events_expired');
  });

  it('pings: a signed { type: "ping", id, occurredAt, webhookId }; an inactive webhook → 409', async () => {
    const { owner, hook } = await setUp();
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${hook.id}/ping`,
      headers: owner.headers,
    });
    expect(res.statusCode).toBe(202);
    const delivery = res.json();
    expect(delivery).toMatchObject({ type: 'ping', status: 'pending', attempt: 0 });
    expect(delivery.eventId).toMatch(/^ping-[0-9a-f-]{36}$/);
    await until(() => r.received.length === 1);
    const [got] = r.received;
    expect(JSON.parse(got?.body ?? '{}')).toEqual({
      type: 'ping',
      id: delivery.eventId,
      occurredAt: expect.stringMatching(/Z$/),
      webhookId: hook.id,
    });
    expect(got?.headers['taskforge-event']).toBe('ping');
    expect(got?.headers['taskforge-event-id']).toBe(delivery.eventId);
    expect(verifySignature(String(got?.headers['taskforge-signature']), got?.body ?? '', hook.secret)).toBe(
      true,
    );
    await until(async () => (await deliveriesOf(t.db.handle, hook.id))[0]?.status === 'succeeded');
    // A ping is redelivered as it was.
    const again = await t.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${hook.id}/deliveries/${delivery.id}/redeliver`,
      headers: owner.headers,
    });
    expect(again.statusCode).toBe(202);
    expect(again.json().eventId).toBe(delivery.eventId);

    await t.db.handle.db.updateTable('webhooks').set({ active: 0 }).where('id', '=', hook.id).execute();
    for (const url of [
      `/api/v2/webhooks/${hook.id}/ping`,
      `/api/v2/webhooks/${hook.id}/deliveries/${delivery.id}/redeliver`,
    ]) {
      const refused = await t.app.inject({ method: 'POST', url, headers: owner.headers });
      expect(refused.statusCode).toBe(409);
      expect(refused.json().code).toBe('conflict');
    }
    const stranger = await signedIn(t.app);
    const notYours = await t.app.inject({
      method: 'POST',
      url: `/api/v1/webhooks/${hook.id}/ping`,
      headers: stranger.headers,
    });
    expect(notYours.statusCode).toBe(404);
  });

  it('refuses API keys (403) and anonymous callers (401)', async () => {
    const { owner, hook } = await setUp();
    const key = await issueKey(t.app, owner.headers, ['tasks:read', 'tasks:write']);
    for (const [method, url] of [
      ['GET', `/api/v1/webhooks/${hook.id}/deliveries`],
      ['POST', `/api/v2/webhooks/${hook.id}/ping`],
    ] as const) {
      const withKey = await t.app.inject({ method, url, headers: { 'x-api-key': key.key } });
      expect(withKey.statusCode).toBe(403);
      expect(withKey.headers['cache-control']).toBe('no-store');
      expect((await t.app.inject({ method, url })).statusCode).toBe(401);
    }
  });
});
