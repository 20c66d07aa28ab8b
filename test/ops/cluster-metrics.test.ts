import { EventEmitter } from 'node:events';
import { AggregatorRegistry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { askPrimaryForMetrics, type PrimaryChannel } from '../../src/lib/cluster-metrics.js';
import { Metrics } from '../../src/lib/metrics.js';
import type { ClusterMetrics } from '../../src/plugins/metrics.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { parse, value } from '../helpers/metrics.js';

/**
 * Metrics under WEB_CONCURRENCY, in one process: how the primary combines the workers' values, and
 * what a worker answers when the primary does not. The real cluster (a scrape equal to the total
 * of every worker) runs in test/server/production-start.test.ts.
 */

/** A worker's IPC channel to a primary that answers with `answer` (or never, for null). */
function primary(
  answer: ((id: number) => Record<string, unknown>) | null,
): PrimaryChannel & { sent: number } {
  const events = new EventEmitter();
  const channel = {
    sent: 0,
    connected: true,
    send(message: { id: number }) {
      channel.sent += 1;
      if (answer) setImmediate(() => events.emit('message', answer(message.id)));
      return true;
    },
    on: (event: 'message', listener: (message: unknown) => void) => events.on(event, listener),
    off: (event: 'message', listener: (message: unknown) => void) => events.off(event, listener),
  };
  return channel;
}

const RESPONSE = 'taskforge:cluster-metrics-response';

describe('the aggregate of two workers', () => {
  it('sums counters, histograms and per-process gauges, and takes the largest job queue depth', async () => {
    const workers = [new Metrics(), new Metrics()];
    for (const [i, metrics] of workers.entries()) {
      for (let n = 0; n <= i; n += 1) metrics.request('GET', '/api/v1/tasks', 200, 0.01);
      metrics.watchDatabase('postgresql', () => ({ total: 4, idle: 1, waiting: i, max: 10 }));
      // Both read the one queue table: the same depth, not twice as many jobs.
      metrics.watchJobQueue(async () => [{ job: 'webhook-delivery', waiting: 7, oldestDueSeconds: 2 + i }]);
      metrics.watchOpenStreams(() => 3);
    }
    const text = await AggregatorRegistry.aggregate(
      await Promise.all(workers.map((metrics) => metrics.registry.getMetricsAsJSON())),
    ).metrics();
    const samples = parse(text);
    const request = {
      http_request_method: 'GET',
      http_route: '/api/v1/tasks',
      http_response_status_code: '200',
    };
    expect(value(samples, 'http_server_request_duration_seconds_count', request)).toBe(3);
    expect(value(samples, 'db_client_connection_count', { db_client_connection_state: 'used' })).toBe(6);
    expect(value(samples, 'db_client_connection_pending_requests')).toBe(1);
    expect(value(samples, 'db_client_connection_max', { db_system_name: 'postgresql' })).toBe(20);
    expect(value(samples, 'taskforge_event_streams_open')).toBe(6);
    expect(value(samples, 'taskforge_job_queue_up')).toBe(1);
    expect(value(samples, 'taskforge_job_queue_depth', { job: 'webhook-delivery' })).toBe(7);
    expect(value(samples, 'taskforge_job_queue_oldest_age_seconds', { job: 'webhook-delivery' })).toBe(3);
  });
});

describe("a worker's GET /metrics", () => {
  it("answers the primary's text", async () => {
    const scrape = askPrimaryForMetrics(primary((id) => ({ type: RESPONSE, id, text: 'up 1\n' })));
    expect(await scrape()).toBe('up 1\n');
  });

  it('rejects with not_ready when the primary does not answer in time, or could not gather the metrics', async () => {
    const silent = primary(null);
    await expect(askPrimaryForMetrics(silent, 20)()).rejects.toMatchObject({ code: 'not_ready' });
    expect(silent.sent).toBe(1);
    const failed = askPrimaryForMetrics(
      primary((id) => ({ type: RESPONSE, id })),
      1000,
    );
    await expect(failed()).rejects.toBeInstanceOf(ApiError);
    const gone = { ...primary(null), connected: false };
    await expect(askPrimaryForMetrics(gone, 1000)()).rejects.toMatchObject({ code: 'not_ready' });
    expect(gone.sent).toBe(0);
  });

  describe('in the app', () => {
    let app: TestApp;
    const shared: Metrics[] = [];
    beforeAll(async () => {
      const clusterMetrics: ClusterMetrics = {
        share: (metrics) => shared.push(metrics),
        scrape: askPrimaryForMetrics(primary(null), 20),
      };
      app = await buildTestApp({ overrides: { clusterMetrics } });
    });
    afterAll(() => app.close());

    it('answers 503 not_ready as problem+json when the primary does not answer, and shares its metrics', async () => {
      const res = await app.app.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ code: 'not_ready', status: 503 });
      expect(shared).toHaveLength(1);
    });
  });
});
