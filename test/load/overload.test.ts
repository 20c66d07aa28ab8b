import { afterEach, describe, expect, it } from 'vitest';
import { defaultOverloadLimits } from '../../src/plugins/overload.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';

/** Load shedding (@fastify/under-pressure): 503 overloaded on the API, never on the probes. */
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Holds the event loop, as a CPU-bound request or a starved process does. */
function blockLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

function expectOverloaded(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }) {
  expect(res.statusCode).toBe(503);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.headers['retry-after']).toBe('5');
  expect(res.headers['x-request-id']).toBeTruthy();
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['content-security-policy']).toContain("default-src 'none'");
  expect(res.json()).toMatchObject({
    status: 503,
    code: 'overloaded',
    requestId: res.headers['x-request-id'],
  });
}

describe('the default thresholds', () => {
  it('refuse at a mean event-loop delay over 1 s, or a heap over 90% of its limit, sampled every second', () => {
    const limits = defaultOverloadLimits();
    expect(limits.maxEventLoopDelayMs).toBe(1000);
    expect(limits.sampleIntervalMs).toBe(1000);
    expect(limits.maxHeapUsedBytes).toBeGreaterThan(0);
  });
});

describe('a heap over its threshold', () => {
  it('answers API routes 503 overloaded, before authentication, and the probes 200', async () => {
    t = await buildTestApp({ overrides: { overload: { maxHeapUsedBytes: 1, sampleIntervalMs: 20 } } });
    const app = t.app;
    for (let i = 0; i < 500 && !app.isUnderPressure(); i++) await sleep(10);
    expect(app.isUnderPressure()).toBe(true);

    // No credentials: refused for the load, not for the missing token.
    expectOverloaded(await app.inject({ method: 'GET', url: '/api/v1/users/me' }));
    expectOverloaded(
      await app.inject({
        method: 'POST',
        url: '/api/v2/auth/login',
        payload: { email: 'a@example.com', password: 'whatever it is' },
      }),
    );
    const live = await app.inject({ method: 'GET', url: '/health/live' });
    expect(live.statusCode).toBe(200);
    expect(live.json()).toEqual({ status: 'ok' });
    // Readiness reports the database and the schema (contract §5), not the load.
    expect((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
  });
});

describe('a slow event loop', () => {
  /**
   * Blocks the loop, lets the overdue sample run, then asks; a later sample may already have cleared
   * the pressure, so the attempt counts only when the pressure still holds after the replies.
   */
  async function underBlockedLoop(app: TestApp['app'], ask: () => Promise<void>): Promise<boolean> {
    blockLoop(600);
    await sleep(0);
    if (!app.isUnderPressure()) return false;
    await ask();
    return app.isUnderPressure();
  }

  it('answers API routes 503 overloaded and /health/live 200 while the loop lags', async () => {
    let now = Date.now();
    t = await buildTestApp({
      overrides: {
        overload: { maxEventLoopDelayMs: 20, sampleIntervalMs: 200, maxHeapUsedBytes: 0 },
        clock: () => now,
      },
    });
    const app = t.app;
    // Past the start-up grace (below).
    now += 10_000;
    let seen = false;
    for (let attempt = 0; attempt < 20 && !seen; attempt++) {
      let api: Awaited<ReturnType<typeof app.inject>> | undefined;
      let live: Awaited<ReturnType<typeof app.inject>> | undefined;
      seen = await underBlockedLoop(app, async () => {
        [api, live] = await Promise.all([
          app.inject({ method: 'GET', url: '/api/v1/users/me' }),
          app.inject({ method: 'GET', url: '/health/live' }),
        ]);
      });
      if (live) expect(live.statusCode).toBe(200);
      if (seen && api) expectOverloaded(api);
    }
    expect(seen).toBe(true);
  });

  it('is not trusted during the first samples after start-up, which cover the start-up work', async () => {
    let now = Date.now();
    t = await buildTestApp({
      overrides: {
        overload: { maxEventLoopDelayMs: 20, sampleIntervalMs: 200, maxHeapUsedBytes: 0 },
        clock: () => now,
      },
    });
    const app = t.app;
    // Still within 2.5 samples of ready: a lagging loop refuses nothing.
    let seen = false;
    for (let attempt = 0; attempt < 20 && !seen; attempt++) {
      let api: Awaited<ReturnType<typeof app.inject>> | undefined;
      seen = await underBlockedLoop(app, async () => {
        api = await app.inject({ method: 'GET', url: '/api/v1/users/me' });
      });
      if (seen) expect(api?.statusCode).toBe(401);
    }
    expect(seen).toBe(true);
    // Once the grace has passed, the same lag refuses.
    now += 500;
    let refused = false;
    for (let attempt = 0; attempt < 20 && !refused; attempt++) {
      let api: Awaited<ReturnType<typeof app.inject>> | undefined;
      refused = await underBlockedLoop(app, async () => {
        api = await app.inject({ method: 'GET', url: '/api/v1/users/me' });
      });
      if (refused && api) expectOverloaded(api);
    }
    expect(refused).toBe(true);
  });
});
