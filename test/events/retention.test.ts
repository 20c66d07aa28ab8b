import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Change } from '../../src/lib/change-log.js';
import { prune, RETENTION_CHUNK, RETENTION_JOB } from '../../src/modules/events/retention.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { createProject } from '../helpers/projects.js';
import { until } from '../helpers/wait.js';
import { baseUrlOf, openStream } from './stream-client.js';

/** Retention (EVENTS_RETENTION): old events and deliveries go, pruned_through rises, later ones stay. */

const DAY = 86_400_000;
const RETENTION = 30 * DAY;

let t: TestApp;
let projectId: string;
let userId: string;
let headers: Record<string, string>;
/** The events the set-up recorded (the user's Inbox): the tests look after them. */
let base: number;
beforeAll(async () => {
  // WORKER=off: no start-up run or worker here; the tests run the job and the queue by hand.
  t = await buildTestApp({ env: { WORKER: 'off' } });
  const me = await signedIn(t.app);
  userId = me.user.id;
  headers = me.headers;
  projectId = await createProject(t.app, userId);
  base = (await t.app.ctx.services.events.state()).head;
});
afterAll(async () => t.close());

function change(at: number): Change {
  return {
    type: 'project.updated',
    at: new Date(at).toISOString(),
    actor: { type: 'system', id: null },
    projectId,
    subject: { type: 'project', id: projectId },
    taskId: null,
    changes: { name: { from: 'a', to: 'b' } },
    data: { id: projectId },
    viewers: [userId],
  };
}

async function record(ats: number[]): Promise<void> {
  const { changes } = t.app.ctx;
  await changes.transaction(t.app.ctx.database.db, async (trx) => {
    for (const at of ats) changes.record(trx, change(at));
  });
}

async function positions(): Promise<number[]> {
  const rows = await t.app.ctx.database.db
    .selectFrom('events')
    .select('position')
    .where('position', '>', base)
    .orderBy('position')
    .execute();
  return rows.map((row) => Number(row.position));
}

async function deliveryAt(webhookId: string, at: string): Promise<string> {
  const id = uuidv7();
  await t.app.ctx.database.db
    .insertInto('webhook_deliveries')
    .values({
      id,
      webhook_id: webhookId,
      event_id: '0a1b2e3f-0000000000000001',
      position: 1,
      type: 'project.updated',
      payload: '{}',
      attempt: 1,
      status: 'succeeded',
      response_status: 200,
      duration_ms: 1,
      error: null,
      response_body: null,
      next_attempt_at: null,
      created_at: at,
      updated_at: at,
    })
    .execute();
  return id;
}

describe('prune', () => {
  it('deletes the events older than the retention in chunks, raises pruned_through, keeps the rest', async () => {
    const now = Date.now();
    const start = (await t.app.ctx.services.events.state()).head;
    const old = Array.from({ length: RETENTION_CHUNK + 20 }, (_, i) => now - RETENTION - DAY + i);
    await record(old);
    await record([now - RETENTION + DAY, now]);
    const lastOld = start + old.length;

    const pruned = await prune(t.app.ctx.database.db, RETENTION, now);
    expect(pruned).toMatchObject({ events: old.length, through: lastOld });
    expect(await positions()).toEqual([lastOld + 1, lastOld + 2]);
    const state = await t.app.ctx.services.events.state();
    expect(state.prunedThrough).toBe(lastOld);
    // Their viewer rows went with them.
    const viewers = await t.app.ctx.database.db
      .selectFrom('event_viewers')
      .select('position')
      .where('position', '<=', lastOld)
      .execute();
    expect(viewers).toEqual([]);

    // A later run, with nothing due, changes nothing; pruned_through never goes down.
    await t.app.ctx.database.db
      .updateTable('event_log')
      .set({ pruned_through: lastOld + 50 })
      .execute();
    await record([now - RETENTION - DAY]);
    await prune(t.app.ctx.database.db, RETENTION, now);
    expect((await t.app.ctx.services.events.state()).prunedThrough).toBe(lastOld + 50);
    expect(await positions()).toEqual([lastOld + 1, lastOld + 2]);
    await t.app.ctx.database.db.updateTable('event_log').set({ pruned_through: lastOld }).execute();

    // Time passes: the next one is due too.
    await prune(t.app.ctx.database.db, RETENTION, now + 2 * DAY);
    expect(await positions()).toEqual([lastOld + 2]);
    expect((await t.app.ctx.services.events.state()).prunedThrough).toBe(lastOld + 1);
  });

  it('deletes the webhook deliveries older than the retention', async () => {
    const now = Date.now();
    const webhookId = uuidv7();
    const at = new Date(now).toISOString();
    await t.app.ctx.database.db
      .insertInto('webhooks')
      .values({
        id: webhookId,
        user_id: userId,
        url: 'https://example.com/hook',
        events: '["*"]',
        project_id: null,
        description: '',
        secret: 'whsec_test',
        active: 1,
        disabled_reason: null,
        created_at: at,
        updated_at: at,
        last_delivery_at: null,
      })
      .execute();
    await deliveryAt(webhookId, new Date(now - RETENTION - DAY).toISOString());
    const kept = await deliveryAt(webhookId, new Date(now - DAY).toISOString());
    const pruned = await prune(t.app.ctx.database.db, RETENTION, now);
    expect(pruned.deliveries).toBe(1);
    const left = await t.app.ctx.database.db.selectFrom('webhook_deliveries').select('id').execute();
    expect(left.map((row) => row.id)).toEqual([kept]);
  });
});

describe('the job', () => {
  it('runs at start-up where the jobs run, with the context clock', async () => {
    // Another instance of the same service, whose clock is 31 days ahead: its start-up run prunes
    // what this one recorded just now.
    const now = Date.now();
    await record([now]);
    const recorded = (await t.app.ctx.services.events.state()).head;
    const later = await buildTestApp({ database: t.db, clock: () => now + RETENTION + DAY });
    try {
      await until(async () => !(await positions()).includes(recorded), 30_000);
      expect((await later.app.ctx.services.events.state()).prunedThrough).toBeGreaterThanOrEqual(recorded);
    } finally {
      await later.close();
    }
  });

  it('at most one run waits in the queue at a time', async () => {
    // (After the start-up run: a run waiting until tomorrow would keep it from being queued.)
    const { jobs, database } = t.app.ctx;
    const first = await jobs.enqueueOnce(database.db, RETENTION_JOB, {}, { runAt: Date.now() + DAY });
    expect(first).toEqual(expect.any(String));
    expect(await jobs.enqueueOnce(database.db, RETENTION_JOB, {})).toBeNull();
    expect(
      await jobs.enqueueOnce(database.db, RETENTION_JOB, {}, { runAt: Date.now() + 2 * DAY }),
    ).toBeNull();
    await expect(jobs.enqueueOnce(database.db, 'password-reset-mail', {})).rejects.toThrow('not a singleton');
  });
});

describe('GET /events at the retention edge', () => {
  it('answers 410 when retention deletes events after `after` while the page is read', async () => {
    const { events } = t.app.ctx.services;
    const after = await events.head();
    const old = Date.now() - RETENTION - DAY;
    await record([old, old]);
    await record([Date.now()]);
    // Retention runs between the read's check of `after` and its scan.
    const feed = events.feed.bind(events);
    events.feed = async (...args) => {
      await prune(t.app.ctx.database.db, RETENTION, Date.now());
      return feed(...args);
    };
    try {
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/events?after=${after}`, headers });
      expect(res.statusCode).toBe(410);
      expect(res.json().code).toBe('events_expired');
    } finally {
      events.feed = feed;
    }
    // Without retention in the way, the next read from the same id is 410 too (it is older now).
    const again = await t.app.inject({ method: 'GET', url: `/api/v1/events?after=${after}`, headers });
    expect(again.statusCode).toBe(410);
  });
});

describe('GET /events/stream at the retention edge', () => {
  it('ends with events_expired when retention deletes events it had not sent yet', async () => {
    const { events, eventStream } = t.app.ctx.services;
    const client = await openStream(await baseUrlOf(t.app), headers);
    expect(client.status).toBe(200);
    const feed = events.feed.bind(events);
    // Retention runs just before the stream reads what followed its position.
    events.feed = async (...args) => {
      await prune(t.app.ctx.database.db, RETENTION, Date.now());
      return feed(...args);
    };
    try {
      const old = Date.now() - RETENTION - DAY;
      await record([old, old]);
      await record([Date.now()]);
      await client.waitEnded();
      expect(client.comments()).toContain('end events_expired');
      expect(client.frames()).toEqual([]);
    } finally {
      events.feed = feed;
      client.close();
    }
    await until(() => eventStream.size === 0);
  }, 20_000);
});
