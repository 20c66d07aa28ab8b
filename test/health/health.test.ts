import { afterEach, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';

const apps: TestApp[] = [];
async function start(env: Record<string, string> = {}): Promise<TestApp> {
  const t = await buildTestApp({ env });
  apps.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(apps.splice(0).map((t) => t.close()));
});

describe('health', () => {
  it('live answers 200 while the process runs', async () => {
    const t = await start();
    const res = await t.app.inject({ method: 'GET', url: '/health/live' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('ready reports the database and Redis', async () => {
    const t = await start();
    const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(200);
    const redis = process.env.TEST_REDIS_URL ? 'ok' : 'absent';
    expect(res.json()).toEqual({ status: 'ok', checks: { database: 'ok', redis } });
  });

  it('ready degrades, but stays 200, while Redis is down', async () => {
    const t = await start({ REDIS_URL: 'redis://127.0.0.1:1' });
    const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'degraded', checks: { database: 'ok', redis: 'down' } });
  });

  it('ready answers 503 not_ready naming the database when it does not answer', async () => {
    const t = await start();
    await t.db.handle.close();
    const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json()).toMatchObject({ code: 'not_ready', status: 503 });
    expect(res.json().detail).toContain('database');
    // live does not depend on the database
    expect((await t.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
  });

  it('ready answers 503 while shutting down', async () => {
    const t = await start();
    t.app.lifecycle.draining = true;
    const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'not_ready' });
    expect(res.json().detail).toContain('shutting down');
  });
});
