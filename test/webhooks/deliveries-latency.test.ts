import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { testDatabaseUrl } from '../helpers/database.js';
import { signedIn } from '../helpers/factories.js';
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
 * Measurements (printed, never asserted: the machine is shared): commit → receipt latency over
 * 200 events committed one by one, and how fast a backlog of 200 events committed at once drains.
 */
const dialect = testDatabaseUrl ? 'postgres' : 'sqlite';
const N = 200;
let t: TestApp;
let r: Receiver;

beforeAll(async () => {
  t = await buildTestApp({ env: WEBHOOK_ENV });
  r = await startReceiver();
}, 60_000);
afterAll(async () => {
  await r?.close();
  await t?.close();
});

const seqOf = (body: string) => (JSON.parse(body) as { data: { seq: number } }).data.seq;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

describe(`delivery latency and throughput (${dialect})`, () => {
  it(`delivers ${N} events committed one by one, and a backlog of ${N} committed at once`, async () => {
    const owner = await signedIn(t.app);
    const project = await createProject(t.app, owner.user.id);
    await insertWebhook(t.app, { userId: owner.user.id, url: r.url });

    const committedAt = new Map<number, number>();
    for (let seq = 0; seq < N; seq += 1) {
      await record(t.app, taskChange(project, { data: { seq } }));
      committedAt.set(seq, Date.now());
      // Spread the commits a little, as a service's writes come.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await until(() => r.received.length >= N, 120_000);
    const latencies = r.received
      .map((got) => got.at - (committedAt.get(seqOf(got.body)) ?? got.at))
      .sort((a, b) => a - b);
    expect(new Set(r.received.map((got) => seqOf(got.body))).size).toBe(N);

    r.received.length = 0;
    const changes = Array.from({ length: N }, (_, i) => taskChange(project, { data: { seq: N + i } }));
    const start = Date.now();
    await record(t.app, ...changes);
    await until(() => r.received.length >= N, 120_000);
    const drainMs = Math.max(...r.received.map((got) => got.at)) - start;
    expect(new Set(r.received.map((got) => seqOf(got.body))).size).toBe(N);

    console.log(
      `[webhook deliveries, ${dialect}] commit→receipt over ${N} events: p50 ${percentile(latencies, 50)} ms, ` +
        `p99 ${percentile(latencies, 99)} ms, max ${latencies.at(-1)} ms; a backlog of ${N} drained in ` +
        `${drainMs} ms (${Math.round((N * 1000) / drainMs)} deliveries/s)`,
    );
  }, 300_000);
});
