import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../src/db/database.js';
import { formatEventId } from '../../src/lib/change-log.js';
import { buildTestApp } from '../helpers/app.js';
import { createDurableTestDatabase, testDatabaseUrl } from '../helpers/database.js';
import { signedIn } from '../helpers/factories.js';
import { freePort } from '../helpers/free-port.js';
import { createProject } from '../helpers/projects.js';
import { serverAnswers, startServerProcess } from '../helpers/server-process.js';
import { until } from '../helpers/wait.js';
import {
  attemptsDueNow,
  deliveriesOf,
  insertWebhook,
  record,
  startReceiver,
  taskChange,
  WEBHOOK_ENV,
} from '../helpers/webhooks.js';

const dialect = testDatabaseUrl ? 'postgres' : 'sqlite';
/** The ids of the task events (the test's own; signing up records its Inbox before the webhook exists). */
async function eventIds(handle: DatabaseHandle): Promise<string[]> {
  const { tag } = await handle.db.selectFrom('event_log').select('tag').executeTakeFirstOrThrow();
  const rows = await handle.db
    .selectFrom('events')
    .select('position')
    .where('type', 'like', 'task.%')
    .orderBy('position')
    .execute();
  return rows.map((row) => formatEventId(tag, Number(row.position)));
}

/**
 * A process killed with SIGKILL keeps its claims until their lease ends (10 minutes in both
 * engines): the test ends them now, as the clock would.
 */
async function leasesLapse(handle: DatabaseHandle): Promise<void> {
  if (handle.dialect === 'sqlite') {
    await handle.db.updateTable('jobs').set({ locked_until: 0 }).where('state', '=', 'running').execute();
    return;
  }
  await sql`update job set state = 'retry', start_after = now()
    where name = 'webhook-delivery' and state = 'active'`.execute(handle.db);
}

describe(`deliveries across restarts (${dialect})`, () => {
  it('keeps a retry schedule across a restart: the next app on the database makes the pending attempt', async () => {
    const db = await createDurableTestDatabase('hooks');
    const r = await startReceiver();
    try {
      const first = await buildTestApp({ database: db, env: WEBHOOK_ENV });
      const owner = await signedIn(first.app);
      const project = await createProject(first.app, owner.user.id);
      const hook = await insertWebhook(first.app, { userId: owner.user.id, url: r.url });
      r.respond(503);
      await record(first.app, taskChange(project));
      await until(async () => (await deliveriesOf(db.handle, hook.id))[0]?.attempt === 1);
      await first.close();

      r.respond(200);
      const second = await buildTestApp({ database: db, env: WEBHOOK_ENV });
      try {
        await until(async () => {
          await attemptsDueNow(db.handle);
          return (await deliveriesOf(db.handle, hook.id))[0]?.status === 'succeeded';
        }, 60_000);
        const [delivery] = await deliveriesOf(db.handle, hook.id);
        expect(delivery?.attempt).toBe(2);
        expect(r.received).toHaveLength(2);
        expect(r.eventIds()).toEqual(new Set(await eventIds(db.handle)));
      } finally {
        await second.close();
      }
    } finally {
      await r.close();
      await db.drop();
    }
  }, 240_000);

  it('dispatches events committed while no process ran the background work (WORKER=off), once one does', async () => {
    const db = await createDurableTestDatabase('hooks');
    const r = await startReceiver();
    try {
      const api = await buildTestApp({ database: db, env: { ...WEBHOOK_ENV, WORKER: 'off' } });
      const owner = await signedIn(api.app);
      const project = await createProject(api.app, owner.user.id);
      await insertWebhook(api.app, { userId: owner.user.id, url: r.url });
      for (let i = 0; i < 5; i += 1) await record(api.app, taskChange(project));
      const through = await db.handle.db
        .selectFrom('webhook_dispatch')
        .select('through')
        .executeTakeFirstOrThrow();
      expect(Number(through.through)).toBe(0);
      await api.close();

      const worker = await buildTestApp({ database: db, env: WEBHOOK_ENV });
      try {
        await until(() => r.received.length === 5, 60_000);
        expect(r.eventIds()).toEqual(new Set(await eventIds(db.handle)));
      } finally {
        await worker.close();
      }
    } finally {
      await r.close();
      await db.drop();
    }
  }, 240_000);

  it('SIGKILL: a server killed while its receiver is down delivers every event at least once after a restart', async () => {
    const db = await createDurableTestDatabase('hooks');
    const url = db.url;
    if (!url) throw new Error('the test database has no URL for a child process');
    const r = await startReceiver();
    // The test process writes (its own app runs no background work); the child dispatches and delivers.
    const writer = await buildTestApp({ database: db, env: { ...WEBHOOK_ENV, WORKER: 'off' } });
    const port = await freePort();
    try {
      const owner = await signedIn(writer.app);
      const project = await createProject(writer.app, owner.user.id);
      await insertWebhook(writer.app, { userId: owner.user.id, url: r.url });
      r.respond(503);
      const first = startServerProcess(url, port, WEBHOOK_ENV);
      await serverAnswers(port, '/health/live', 240_000);
      for (let i = 0; i < 10; i += 1) await record(writer.app, taskChange(project));
      await until(() => r.received.length >= 1, 60_000);
      // More commits, and the server dies at once: some events may not even be dispatched yet.
      for (let i = 0; i < 10; i += 1) await record(writer.app, taskChange(project));
      first.child.kill('SIGKILL');
      await first.exited;
      await leasesLapse(db.handle);

      r.respond(200);
      const second = startServerProcess(url, port, WEBHOOK_ENV);
      await serverAnswers(port, '/health/live', 240_000);
      const expected = new Set(await eventIds(db.handle));
      expect(expected.size).toBe(20);
      await until(async () => {
        await attemptsDueNow(db.handle);
        const got = r.eventIds();
        return [...expected].every((id) => got.has(id));
      }, 60_000);
      second.child.kill('SIGTERM');
      await second.exited;
    } finally {
      await writer.close();
      await r.close();
      await db.drop();
    }
  }, 420_000);
});
