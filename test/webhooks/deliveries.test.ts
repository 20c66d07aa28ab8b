import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ATTEMPTS, nextAttemptAt, RETRY_SPAN_MS } from '../../src/modules/webhooks/delivery-job.js';
import { takes } from '../../src/modules/webhooks/dispatcher.js';
import { verifySignature } from '../../src/modules/webhooks/signature.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { testDatabaseUrl } from '../helpers/database.js';
import { signedIn } from '../helpers/factories.js';
import { addMember, createProject } from '../helpers/projects.js';
import { until } from '../helpers/wait.js';
import {
  attemptsDueNow,
  deliveriesOf,
  insertWebhook,
  type Receiver,
  record,
  startReceiver,
  taskChange,
  WEBHOOK_ENV,
} from '../helpers/webhooks.js';

const dialect = testDatabaseUrl ? 'postgres' : 'sqlite';
let t: TestApp;
const receivers: Receiver[] = [];

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

beforeAll(async () => {
  t = await buildTestApp({ env: WEBHOOK_ENV });
});
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});
afterAll(async () => t.close());

/** An owner with a project of its own, a receiver and a webhook of `events` to it. */
async function setUp(options: { events?: string[]; role?: 'admin' | 'user' } = {}) {
  const owner = await signedIn(t.app, options.role ?? 'user');
  const project = await createProject(t.app, owner.user.id);
  const r = await receiver();
  const hook = await insertWebhook(t.app, {
    userId: owner.user.id,
    url: r.url,
    ...(options.events ? { events: options.events } : {}),
  });
  return { owner, project, r, hook };
}

describe(`deliveries (${dialect})`, () => {
  it('sends a webhook the events committed after it was made, by commit order, not by clock', async () => {
    const owner = await signedIn(t.app);
    const project = await createProject(t.app, owner.user.id);
    await record(t.app, taskChange(project), taskChange(project));
    const { head } = await t.app.ctx.services.events.state();
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers: owner.headers,
      payload: { url: 'http://127.0.0.1:9/hook', events: ['*'] },
    });
    expect(res.statusCode).toBe(201);
    const row = await t.db.handle.db
      .selectFrom('webhooks')
      .selectAll()
      .where('id', '=', res.json<{ id: string }>().id)
      .executeTakeFirstOrThrow();
    expect(Number(row.since)).toBe(head);
    const event = { type: 'task.created' as const, projectId: project };
    expect(takes(row, event, head)).toBe(false);
    expect(takes(row, event, head + 1)).toBe(true);
    // An event's own clock does not matter: only its number.
    expect(takes({ ...row, created_at: '2999-01-01T00:00:00.000Z' }, event, head + 1)).toBe(true);
  });

  it('sends each event once, signed over the raw body, with the documented headers and the Event JSON the feed serves', async () => {
    const { owner, project, r, hook } = await setUp();
    await record(t.app, taskChange(project), taskChange(project));
    await record(
      t.app,
      taskChange(project, { type: 'task.updated', changes: { title: { from: 'a', to: 'b' } } }),
    );
    await until(() => r.received.length >= 3);
    // A later event delivered means the dispatcher has passed the first three more than once.
    await record(t.app, taskChange(project));
    await until(() => r.received.length >= 4);
    await until(async () =>
      (await deliveriesOf(t.db.handle, hook.id)).every((d) => d.status === 'succeeded'),
    );

    const feed = await t.app.ctx.services.events.feed({ userId: owner.user.id, admin: false }, 0, 100);
    const ours = feed.items.filter((e) => e.projectId === project);
    expect(ours).toHaveLength(4);
    expect(r.received).toHaveLength(4);
    const deliveries = await deliveriesOf(t.db.handle, hook.id);
    expect(deliveries).toHaveLength(4);
    for (const got of r.received) {
      const event = ours.find((e) => e.id === got.headers['taskforge-event-id']);
      expect(JSON.parse(got.body)).toEqual(event);
      expect(got.headers['content-type']).toBe('application/json');
      expect(got.headers['taskforge-event']).toBe(event?.type);
      expect(got.headers['taskforge-event-id']).toBe(event?.id);
      expect(got.headers['user-agent']).toMatch(/^Taskforge-Webhooks\/[0-9]+\.[0-9]+\.[0-9]+/);
      const delivery = deliveries.find((d) => d.id === got.headers['taskforge-delivery']);
      expect(delivery?.event_id).toBe(event?.id);
      const signature = String(got.headers['taskforge-signature']);
      expect(signature).toMatch(/^t=[0-9]+,v1=[0-9a-f]{64}$/);
      expect(verifySignature(signature, got.body, hook.secret)).toBe(true);
      expect(verifySignature(signature, `${got.body} `, hook.secret)).toBe(false);
      expect(verifySignature(signature, got.body, `${hook.secret}x`)).toBe(false);
    }
    // Each event once; the deliveries were made in event order (two attempts may run at once, so
    // the receiver may see neighbours swapped).
    expect(r.received.map((x) => String(x.headers['taskforge-event-id'])).sort()).toEqual(
      ours.map((e) => e.id),
    );
    expect(deliveries.map((d) => d.event_id)).toEqual(ours.map((e) => e.id));
    const row = await t.db.handle.db
      .selectFrom('webhooks')
      .select('last_delivery_at')
      .where('id', '=', hook.id)
      .executeTakeFirstOrThrow();
    expect(row.last_delivery_at).not.toBeNull();
  });

  it('filters by event type and by project', async () => {
    const owner = await signedIn(t.app);
    const p1 = await createProject(t.app, owner.user.id);
    const p2 = await createProject(t.app, owner.user.id);
    const [updates, ofP2, all] = [await receiver(), await receiver(), await receiver()];
    await insertWebhook(t.app, { userId: owner.user.id, url: updates.url, events: ['task.updated'] });
    await insertWebhook(t.app, { userId: owner.user.id, url: ofP2.url, projectId: p2 });
    await insertWebhook(t.app, {
      userId: owner.user.id,
      url: all.url,
      events: ['task.created', 'task.updated'],
    });
    await record(
      t.app,
      taskChange(p1),
      taskChange(p1, { type: 'task.updated', changes: { title: { from: 'a', to: 'b' } } }),
      taskChange(p2),
    );
    await until(
      () => all.received.length === 3 && updates.received.length === 1 && ofP2.received.length === 1,
    );
    expect(JSON.parse(updates.received[0]?.body ?? '{}')).toMatchObject({
      type: 'task.updated',
      projectId: p1,
    });
    expect(JSON.parse(ofP2.received[0]?.body ?? '{}')).toMatchObject({ type: 'task.created', projectId: p2 });
  });

  it("sends only what the owner may see: not another project's events, an admin's all, an event naming it as a viewer", async () => {
    const stranger = await setUp();
    const admin = await setUp({ role: 'admin' });
    const other = await signedIn(t.app);
    const theirs = await createProject(t.app, other.user.id);
    // An event of a project the stranger is not in, one naming it as a viewer, then one of its own.
    await record(t.app, taskChange(theirs));
    await record(t.app, taskChange(theirs, { viewers: [stranger.owner.user.id] }));
    await record(t.app, taskChange(stranger.project));
    // Task events only: signing up records the personal projects' project.created, which admins see.
    const projects = (x: Receiver) =>
      x.received
        .map((got) => JSON.parse(got.body) as { type: string; projectId: string })
        .filter((event) => event.type.startsWith('task.'))
        .map((event) => event.projectId)
        .sort();
    await until(() => projects(stranger.r).length >= 2 && projects(admin.r).length >= 3);
    // Deliveries are made in event order: had the first been sent, it would have arrived by now.
    await until(async () =>
      (await deliveriesOf(t.db.handle, stranger.hook.id)).every((d) => d.status === 'succeeded'),
    );
    expect(projects(stranger.r)).toEqual([theirs, stranger.project].sort());
    expect(projects(admin.r)).toEqual([theirs, theirs, stranger.project].sort());
  });

  it('checks the owner again at delivery: an event it may no longer see fails as "no longer visible", unsent', async () => {
    const owner = await signedIn(t.app);
    const other = await signedIn(t.app);
    const project = await createProject(t.app, other.user.id);
    await addMember(t.app, project, owner.user.id, 'viewer');
    const r = await receiver();
    r.respond(503);
    const hook = await insertWebhook(t.app, { userId: owner.user.id, url: r.url });
    await record(t.app, taskChange(project));
    await until(() => r.received.length === 1);
    await until(async () => (await deliveriesOf(t.db.handle, hook.id))[0]?.attempt === 1);
    await t.db.handle.db.deleteFrom('project_members').where('user_id', '=', owner.user.id).execute();
    r.respond(200);
    await until(async () => {
      await attemptsDueNow(t.db.handle);
      return (await deliveriesOf(t.db.handle, hook.id))[0]?.status === 'failed';
    });
    const [delivery] = await deliveriesOf(t.db.handle, hook.id);
    expect(delivery).toMatchObject({ status: 'failed', error: 'no longer visible', attempt: 2 });
    expect(r.received).toHaveLength(1);
  });

  it('sends nothing for a disabled owner: a pending retry fails unsent, and no later event is dispatched', async () => {
    const { owner, project, r, hook } = await setUp();
    r.respond(503);
    await record(t.app, taskChange(project));
    await until(() => r.received.length === 1);
    await until(async () => (await deliveriesOf(t.db.handle, hook.id))[0]?.attempt === 1);
    await t.db.handle.db.updateTable('users').set({ disabled: 1 }).where('id', '=', owner.user.id).execute();
    r.respond(200);
    await until(async () => {
      await attemptsDueNow(t.db.handle);
      return (await deliveriesOf(t.db.handle, hook.id))[0]?.status === 'failed';
    });
    const [delivery] = await deliveriesOf(t.db.handle, hook.id);
    expect(delivery).toMatchObject({ status: 'failed', error: 'its owner is disabled', attempt: 2 });
    // A later event of its project: dispatched to a sentinel, not to the disabled owner's webhook.
    const sentinel = await setUp();
    await addMember(t.app, project, sentinel.owner.user.id, 'viewer');
    await record(t.app, taskChange(project));
    await until(() => sentinel.r.received.some((x) => JSON.parse(x.body).projectId === project));
    expect(await deliveriesOf(t.db.handle, hook.id)).toHaveLength(1);
    expect(r.received).toHaveLength(1);
  });

  it('retries a failing receiver with the same event id and delivery id, the first retry no sooner than 10 s', async () => {
    const { project, r, hook } = await setUp();
    r.respond((index) => (index < 2 ? 500 : 204));
    await record(t.app, taskChange(project));
    await until(async () => (await deliveriesOf(t.db.handle, hook.id))[0]?.attempt === 1);
    const [first] = await deliveriesOf(t.db.handle, hook.id);
    expect(first).toMatchObject({
      status: 'pending',
      response_status: 500,
      error: 'the receiver answered 500',
    });
    expect(first?.response_body).toBe('not now');
    expect(
      Date.parse(first?.next_attempt_at ?? '') - Date.parse(first?.updated_at ?? ''),
    ).toBeGreaterThanOrEqual(10_000);
    await until(async () => {
      await attemptsDueNow(t.db.handle);
      return (await deliveriesOf(t.db.handle, hook.id))[0]?.status === 'succeeded';
    }, 30_000);
    const [done] = await deliveriesOf(t.db.handle, hook.id);
    expect(done).toMatchObject({ attempt: 3, response_status: 204, error: null, next_attempt_at: null });
    expect(r.received).toHaveLength(3);
    expect(new Set(r.received.map((x) => x.headers['taskforge-event-id'])).size).toBe(1);
    expect(new Set(r.received.map((x) => x.headers['taskforge-delivery']))).toEqual(new Set([done?.id]));
    for (const got of r.received) {
      expect(verifySignature(String(got.headers['taskforge-signature']), got.body, hook.secret)).toBe(true);
    }
  });

  it('keeps the first 1 KiB of the reply, storable whatever it holds (NUL included)', async () => {
    const { project, r, hook } = await setUp();
    r.answer(`a\u0000b${'x'.repeat(5000)}`);
    await record(t.app, taskChange(project));
    await until(async () => (await deliveriesOf(t.db.handle, hook.id))[0]?.status === 'succeeded');
    const [delivery] = await deliveriesOf(t.db.handle, hook.id);
    expect(delivery?.response_body).toBe(`a\ufffdb${'x'.repeat(1021)}`);
  });

  it('lets later events go ahead while one retries', async () => {
    const { project, r, hook } = await setUp();
    r.respond((_index, request) => (request.body.includes('"first"') ? 500 : 200));
    await record(t.app, taskChange(project, { data: { title: 'first' } }));
    await until(() => r.received.length === 1);
    await record(t.app, taskChange(project, { data: { title: 'second' } }));
    await until(async () => {
      const deliveries = await deliveriesOf(t.db.handle, hook.id);
      return deliveries.map((d) => `${d.status}:${d.attempt}`).join() === 'pending:1,succeeded:1';
    });
    expect(r.received).toHaveLength(2);
  });

  it('fails the delivery and disables the webhook after the last attempt', async () => {
    const { project, r, hook } = await setUp();
    r.respond(500);
    await record(t.app, taskChange(project));
    await until(async () => {
      await attemptsDueNow(t.db.handle);
      return (await deliveriesOf(t.db.handle, hook.id))[0]?.status === 'failed';
    }, 60_000);
    const [delivery] = await deliveriesOf(t.db.handle, hook.id);
    expect(delivery).toMatchObject({ status: 'failed', attempt: MAX_ATTEMPTS, response_status: 500 });
    expect(r.received).toHaveLength(MAX_ATTEMPTS);
    const webhook = await t.db.handle.db
      .selectFrom('webhooks')
      .selectAll()
      .where('id', '=', hook.id)
      .executeTakeFirstOrThrow();
    expect(webhook.active).toBe(0);
    expect(webhook.disabled_reason).toBe(`deliveries of event ${delivery?.event_id} failed for 24 hours`);
    // Nothing more is dispatched to it.
    const sentinel = await setUp();
    await record(t.app, taskChange(project), taskChange(sentinel.project));
    await until(() => sentinel.r.received.length === 1);
    expect(await deliveriesOf(t.db.handle, hook.id)).toHaveLength(1);
  });
});

describe('the retry schedule', () => {
  const first = Date.UTC(2031, 0, 1);
  it('waits 10 s, 1 min, 5 min, 30 min, 2 h and 6 h (each ×[1, 1.25)), then the 8th attempt 24 h after the first', () => {
    for (const random of [() => 0, () => 0.999999, Math.random]) {
      let at = first;
      const times = [at];
      for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt += 1) {
        const next = nextAttemptAt(attempt, first, at, random);
        expect(next).not.toBeNull();
        at = next ?? 0;
        times.push(at);
      }
      expect(nextAttemptAt(MAX_ATTEMPTS, first, at, random)).toBeNull();
      const gaps = times.slice(1).map((time, i) => time - (times[i] ?? 0));
      const bases = [10_000, 60_000, 300_000, 1_800_000, 7_200_000, 21_600_000];
      for (const [i, base] of bases.entries()) {
        expect(gaps[i]).toBeGreaterThanOrEqual(base);
        expect(gaps[i]).toBeLessThan(base * 1.25 + 1);
      }
      expect(times).toHaveLength(MAX_ATTEMPTS);
      expect(times.at(-1)).toBe(first + RETRY_SPAN_MS);
    }
  });

  it('never makes the last attempt sooner than 10 s after the one before', () => {
    expect(nextAttemptAt(MAX_ATTEMPTS - 1, first, first + RETRY_SPAN_MS, () => 0)).toBe(
      first + RETRY_SPAN_MS + 10_000,
    );
  });
});
