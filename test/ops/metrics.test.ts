import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src/lib/metrics.js';
import { defineModule } from '../../src/lib/module.js';
import { baseUrlOf, openStream } from '../events/stream-client.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { testDatabaseUrl } from '../helpers/database.js';
import { PASSWORD, signedIn } from '../helpers/factories.js';
import { freePort } from '../helpers/free-port.js';
import { parse, type Sample, value } from '../helpers/metrics.js';
import { createProject } from '../helpers/projects.js';
import { until } from '../helpers/wait.js';
import { insertWebhook, record, startReceiver, taskChange, WEBHOOK_ENV } from '../helpers/webhooks.js';

/** GET /metrics: the families, their label bounds, each one moving when its event happens. */

const dialect = testDatabaseUrl ? 'postgresql' : 'sqlite';

const failOnce = new Map<string, number>();
/** A job type of the test's own: fails its first attempt when its payload asks to. */
const probeModule = defineModule({
  name: 'metrics-probe',
  subscribe: (ctx) =>
    ctx.jobs.define<{ key: string; fail: boolean }>({
      name: 'metrics-probe',
      retry: { attempts: 2, delayMs: 1 },
      async handler({ key, fail }) {
        failOnce.set(key, (failOnce.get(key) ?? 0) + 1);
        if (fail && failOnce.get(key) === 1) throw new Error('first attempt fails');
      },
    }),
});

let t: TestApp;
async function scrape(app = t.app): Promise<Sample[]> {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  return parse(res.body);
}

beforeAll(async () => {
  t = await buildTestApp({ env: WEBHOOK_ENV, modules: [probeModule] });
});
afterAll(async () => t?.close());

describe(`GET /metrics (${dialect})`, () => {
  it('answers the text format, never stored, with every family named in the README', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['ratelimit-limit']).toBeUndefined();
    for (const family of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'http_server_request_duration_seconds',
      'db_client_connection_max',
      'taskforge_rate_limit_rejections_total',
      'taskforge_rate_limit_fail_opens_total',
      'taskforge_auth_failures_total',
      'taskforge_stats_cache_hits_total',
      'taskforge_stats_cache_misses_total',
      'taskforge_job_attempts_total',
      'taskforge_job_failures_total',
      'taskforge_job_duration_seconds',
      'taskforge_job_queue_up',
      'taskforge_job_queue_depth',
      'taskforge_job_queue_oldest_age_seconds',
      'taskforge_webhook_delivery_duration_seconds',
      'taskforge_event_streams_open',
    ]) {
      expect(res.body, family).toMatch(new RegExp(`^# TYPE ${family} `, 'm'));
    }
    expect(value(parse(res.body), 'taskforge_job_queue_up')).toBe(1);
  });

  it('labels requests by route template and unmatched paths by one label, never by a raw path', async () => {
    const me = await signedIn(t.app);
    const ids = Array.from({ length: 12 }, () => randomUUID());
    for (const id of ids) {
      expect(
        (await t.app.inject({ method: 'GET', url: `/api/v1/tasks/${id}`, headers: me.headers })).statusCode,
      ).toBe(404);
      expect((await t.app.inject({ method: 'GET', url: `/no/such/${id}` })).statusCode).toBe(404);
    }
    const res = await t.app.inject({ method: 'GET', url: '/metrics' });
    for (const id of ids) expect(res.body).not.toContain(id);
    const samples = parse(res.body);
    const count = 'http_server_request_duration_seconds_count';
    expect(
      value(samples, count, {
        http_request_method: 'GET',
        http_route: '/api/v1/tasks/:id',
        http_response_status_code: '404',
      }),
    ).toBe(12);
    expect(value(samples, count, { http_route: 'unmatched', http_response_status_code: '404' })).toBe(12);
    const routes = new Set(samples.filter((s) => s.name === count).map((s) => s.labels.http_route));
    expect([...routes].every((r) => r === 'unmatched' || r?.startsWith('/'))).toBe(true);
  });

  it('counts auth failures by reason', async () => {
    const me = await signedIn(t.app);
    const before = await scrape();
    const wrong = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: me.user.email, password: `${PASSWORD}!` },
    });
    expect(wrong.statusCode).toBe(401);
    const bad = await t.app.inject({
      method: 'GET',
      url: '/api/v1/tasks',
      headers: { authorization: 'Bearer nope' },
    });
    expect(bad.statusCode).toBe(401);
    const after = await scrape();
    const reason = (r: string, s: Sample[]) => value(s, 'taskforge_auth_failures_total', { reason: r }) ?? 0;
    expect(reason('invalid_credentials', after)).toBe(reason('invalid_credentials', before) + 1);
    expect(reason('invalid_token', after)).toBe(reason('invalid_token', before) + 1);
  });

  it('counts stats cache misses and hits', async () => {
    const me = await signedIn(t.app);
    const before = await scrape();
    for (let i = 0; i < 2; i += 1)
      expect(
        (await t.app.inject({ method: 'GET', url: '/api/v1/tasks/stats', headers: me.headers })).statusCode,
      ).toBe(200);
    const after = await scrape();
    for (const name of ['taskforge_stats_cache_misses_total', 'taskforge_stats_cache_hits_total'])
      expect(value(after, name), name).toBe((value(before, name) ?? 0) + 1);
  });

  it('counts job attempts and failures, and reports the waiting jobs by type', async () => {
    const { ctx } = t.app;
    const key = randomUUID();
    await ctx.jobs.enqueue(ctx.database.db, 'metrics-probe', { key, fail: true });
    await until(async () => failOnce.get(key) === 2);
    await until(
      async () =>
        value(await scrape(), 'taskforge_job_duration_seconds_count', { job: 'metrics-probe' }) === 2,
    );
    let samples = await scrape();
    expect(value(samples, 'taskforge_job_attempts_total', { job: 'metrics-probe' })).toBe(2);
    expect(value(samples, 'taskforge_job_failures_total', { job: 'metrics-probe', outcome: 'retry' })).toBe(
      1,
    );
    expect(
      value(samples, 'taskforge_job_failures_total', { job: 'metrics-probe', outcome: 'dead' }),
    ).toBeUndefined();

    // A job due in an hour waits: depth 1, and none of its type is due yet.
    await ctx.jobs.enqueue(
      ctx.database.db,
      'metrics-probe',
      { key: randomUUID(), fail: false },
      {
        runAt: Date.now() + 3_600_000,
      },
    );
    samples = await scrape();
    expect(value(samples, 'taskforge_job_queue_depth', { job: 'metrics-probe' })).toBe(1);
    expect(value(samples, 'taskforge_job_queue_oldest_age_seconds', { job: 'metrics-probe' })).toBe(0);
  });

  it('times webhook deliveries by result', async () => {
    const receiver = await startReceiver();
    try {
      const owner = await signedIn(t.app);
      const project = await createProject(t.app, owner.user.id);
      await insertWebhook(t.app, { userId: owner.user.id, url: receiver.url });
      const count = 'taskforge_webhook_delivery_duration_seconds_count';
      const before = value(await scrape(), count, { result: 'success' }) ?? 0;
      await record(t.app, taskChange(project));
      await until(async () => (value(await scrape(), count, { result: 'success' }) ?? 0) === before + 1);
      expect(receiver.received).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  it('reports the open event streams', async () => {
    const me = await signedIn(t.app);
    const client = await openStream(await baseUrlOf(t.app), me.headers);
    try {
      expect(client.status).toBe(200);
      expect(value(await scrape(), 'taskforge_event_streams_open')).toBe(1);
    } finally {
      client.close();
    }
    await until(async () => value(await scrape(), 'taskforge_event_streams_open') === 0);
  });

  it('reports the database pool: in use, idle and waiting on PostgreSQL, the one connection on SQLite', async () => {
    const samples = await scrape();
    if (dialect === 'postgresql') {
      const max = value(samples, 'db_client_connection_max', { db_system_name: 'postgresql' }) ?? 0;
      const used = value(samples, 'db_client_connection_count', { db_client_connection_state: 'used' }) ?? -1;
      const idle = value(samples, 'db_client_connection_count', { db_client_connection_state: 'idle' }) ?? -1;
      // The test database's pool (test/helpers/database.ts), after the queries of the tests above.
      expect(max).toBeGreaterThan(0);
      expect(used).toBeGreaterThanOrEqual(0);
      expect(idle).toBeGreaterThanOrEqual(1);
      expect(used + idle).toBeLessThanOrEqual(max);
      expect(value(samples, 'db_client_connection_pending_requests')).toBe(0);
    } else {
      expect(value(samples, 'db_client_connection_max', { db_system_name: 'sqlite' })).toBe(1);
      expect(
        value(samples, 'db_client_connection_count', { db_client_connection_state: 'used' }),
      ).toBeUndefined();
      expect(value(samples, 'db_client_connection_pending_requests')).toBeUndefined();
    }
  });

  it('is described in the OpenAPI document as text/plain', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, { get?: { responses: Record<string, { content?: Record<string, unknown> }> } }>;
    }>();
    expect(Object.keys(doc.paths['/metrics']?.get?.responses['200']?.content ?? {})).toEqual([
      'text/plain; version=0.0.4',
    ]);
  });
});

describe('metrics and the rate limits', () => {
  let small: TestApp;
  beforeAll(async () => {
    small = await buildTestApp({ env: { RATE_LIMIT_MAX: '2', LOGIN_FAILURES_MAX: '1' } });
  });
  afterAll(async () => small?.close());

  it('counts 429s by budget, and is itself never limited', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1)
      statuses.push((await small.app.inject({ method: 'GET', url: '/api/v1/nope' })).statusCode);
    expect(statuses).toEqual([404, 404, 429]);
    for (let i = 0; i < 3; i += 1) await scrape(small.app);
    const samples = await scrape(small.app);
    expect(value(samples, 'taskforge_rate_limit_rejections_total', { scope: 'ip' })).toBe(1);
  });

  it('counts the failed-login lock-out as a login rejection', async () => {
    const me = await signedIn(small.app);
    const login = (password: string) =>
      small.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: me.user.email, password },
      });
    expect((await login('wrong password, surely')).statusCode).toBe(401);
    expect((await login(PASSWORD)).statusCode).toBe(429);
    expect(value(await scrape(small.app), 'taskforge_rate_limit_rejections_total', { scope: 'login' })).toBe(
      1,
    );
  });
});

describe('metrics when a source fails', () => {
  it('counts a fail-open when the rate-limit counters do not answer', async () => {
    // A Redis that is not there: the limits fail open, within their timeout.
    const port = await freePort();
    const down = await buildTestApp({ env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
    try {
      expect((await down.app.inject({ method: 'GET', url: '/api/v1/nope' })).statusCode).toBe(404);
      expect(value(await scrape(down.app), 'taskforge_rate_limit_fail_opens_total')).toBe(1);
    } finally {
      await down.close();
    }
  });

  it('still answers when the job queue does not, marking it down', async () => {
    const metrics = new Metrics();
    metrics.watchJobQueue(async () => {
      throw new Error('connection refused');
    });
    const samples = parse(await metrics.render());
    expect(value(samples, 'taskforge_job_queue_up')).toBe(0);
    expect(samples.some((s) => s.name === 'taskforge_job_queue_depth')).toBe(false);
    expect(value(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });
});

describe('METRICS_PORT', () => {
  it('serves /metrics on its own listener, which closes with the app, and 404s it on the public port', async () => {
    const port = await freePort();
    const app = await buildTestApp({ env: { METRICS_PORT: String(port) } });
    let closed = false;
    try {
      const base = await baseUrlOf(app.app);
      const publicReply = await fetch(`${base}/metrics`);
      expect(publicReply.status).toBe(404);
      expect(publicReply.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
      expect(((await publicReply.json()) as { code: string }).code).toBe('not_found');
      const doc = (await app.app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: object }>();
      expect(Object.keys(doc.paths)).not.toContain('/metrics');

      const own = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(own.status).toBe(200);
      expect(own.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(own.headers.get('cache-control')).toBe('no-store');
      const samples = parse(await own.text());
      expect(
        value(samples, 'http_server_request_duration_seconds_count', {
          http_route: 'unmatched',
          http_response_status_code: '404',
        }),
      ).toBe(1);
      const other = await fetch(`http://127.0.0.1:${port}/tasks`);
      expect(other.status).toBe(404);
      expect(other.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
      const post = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');

      await app.close();
      closed = true;
      await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
    } finally {
      if (!closed) await app.close();
    }
  });

  it('stops the start when its port is taken', async () => {
    const first = await buildTestApp({ env: { METRICS_PORT: String(await freePort()) } });
    try {
      const taken = String(first.app.metricsListener?.port());
      await expect(buildTestApp({ env: { METRICS_PORT: taken }, database: first.db })).rejects.toThrow(
        /EADDRINUSE/,
      );
    } finally {
      await first.close();
    }
  });
});
