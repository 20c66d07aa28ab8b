import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseUrl } from '../helpers/database.js';
import { signedIn } from '../helpers/factories.js';
import { type Instances, twoInstances } from '../helpers/instances.js';
import { createProject } from '../helpers/projects.js';
import { until } from '../helpers/wait.js';
import {
  insertWebhook,
  type Receiver,
  record,
  startReceiver,
  taskChange,
  WEBHOOK_ENV,
} from '../helpers/webhooks.js';

/**
 * PostgreSQL + Redis only: two SQLite instances in one process share its event loop, and
 * better-sqlite3 waits for another connection's write lock synchronously, blocking the very
 * instance that holds it (the SIGKILL test in restart.test.ts runs two processes on one file).
 */
let both: Instances;
let receivers: Receiver[];

beforeAll(async () => {
  if (!testDatabaseUrl) return;
  both = await twoInstances(WEBHOOK_ENV);
  receivers = [await startReceiver(), await startReceiver()];
}, 120_000);
afterAll(async () => {
  for (const r of receivers ?? []) await r.close();
  await both?.close();
});

describe.skipIf(!testDatabaseUrl)('two instances (postgres + redis)', () => {
  it('deliver every event once per webhook, whichever instance committed it', async () => {
    const { a, b } = both;
    const owner = await signedIn(a);
    const project = await createProject(a, owner.user.id);
    for (const r of receivers) await insertWebhook(a, { userId: owner.user.id, url: r.url });
    // Both instances commit, concurrently and in turns; both dispatch and deliver.
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 30; i += 1) {
      writes.push(record(i % 2 === 0 ? a : b, taskChange(project)));
      if (i % 5 === 4) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    await until(() => receivers.every((r) => r.received.length >= 30), 60_000);
    // Every delivery finished: nothing more is on its way.
    await until(async () => {
      const rows = await a.ctx.database.db
        .selectFrom('webhook_deliveries')
        .select('status')
        .where('status', '!=', 'succeeded')
        .execute();
      return rows.length === 0;
    });
    // The test's own task events (signing up records the owner's Inbox before the webhooks exist).
    const events = await a.ctx.database.db
      .selectFrom('events')
      .select('position')
      .where('type', 'like', 'task.%')
      .execute();
    expect(events).toHaveLength(30);
    for (const r of receivers) {
      expect(r.received).toHaveLength(30);
      expect(r.eventIds().size).toBe(30);
    }
    const deliveries = await a.ctx.database.db.selectFrom('webhook_deliveries').select('id').execute();
    expect(deliveries).toHaveLength(60);
  }, 120_000);
});
