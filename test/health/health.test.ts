import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { migrateDown, migrateToLatest } from '../../src/db/migrator.js';
import { buildTestApp, NO_LAG_SHEDDING, type TestApp, testEnv } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';

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
    expect(res.json()).toEqual({ status: 'ok', checks: { database: 'ok', schema: 'ok', redis } });
  });

  it('ready degrades, but stays 200, while Redis is down', async () => {
    const t = await start({ REDIS_URL: 'redis://127.0.0.1:1' });
    const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      status: 'degraded',
      checks: { database: 'ok', schema: 'ok', redis: 'down' },
    });
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
    t.app.ctx.lifecycle.draining = true;
    const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'not_ready' });
    expect(res.json().detail).toContain('shutting down');
  });

  describe('the schema against the code', () => {
    function capture() {
      const lines: { level: number; msg: string; schema?: string }[] = [];
      const stream = new Writable({
        write(chunk: Buffer, _encoding, callback) {
          for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
          callback();
        },
      });
      return { lines, stream };
    }

    async function markAhead(handle: DatabaseHandle): Promise<void> {
      await sql`insert into kysely_migration (name, timestamp) values ('9999-from-a-newer-version', ${new Date().toISOString()})`.execute(
        handle.db,
      );
    }

    it('behind: 503 not_ready naming the schema, until it is migrated', async () => {
      const t = await start();
      await migrateDown(t.db.handle);
      const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ code: 'not_ready', status: 503 });
      expect(res.json().detail).toMatch(
        /^check schema is behind the code \(pending: .+\): run npm run migrate$/,
      );
      await migrateToLatest(t.db.handle);
      expect((await t.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
    });

    it('ahead: 200, schema ahead, status ok, and one log line however many probes', async () => {
      const log = capture();
      const t = await buildTestApp({ env: { LOG_LEVEL: 'info' }, logStream: log.stream });
      apps.push(t);
      await markAhead(t.db.handle);
      for (let i = 0; i < 3; i += 1) {
        const res = await t.app.inject({ method: 'GET', url: '/health/ready' });
        expect(res.statusCode).toBe(200);
        expect(res.json()).toMatchObject({ status: 'ok', checks: { database: 'ok', schema: 'ahead' } });
      }
      const notes = log.lines.filter((l) => l.schema !== undefined);
      expect(notes).toEqual([
        expect.objectContaining({
          level: 40,
          schema: 'ahead',
          msg: expect.stringContaining('9999-from-a-newer-version'),
        }),
      ]);
    });

    it('at start-up: logs a schema ahead or behind; behind starts, not ready, and defers the admin bootstrap', async () => {
      for (const state of ['ahead', 'behind'] as const) {
        const db = await createTestDatabase();
        const log = capture();
        await migrateToLatest(db.handle);
        if (state === 'ahead') await markAhead(db.handle);
        else await migrateDown(db.handle);
        const env = {
          LOG_LEVEL: 'info',
          ADMIN_EMAIL: 'root@example.com',
          ADMIN_PASSWORD: 'bootstrap passphrase 2031',
        };
        const app = await buildApp(loadConfig(testEnv(env)), {
          database: db.handle,
          logStream: log.stream,
          hashCost: { memoryCost: 1024, timeCost: 1 },
          overload: NO_LAG_SHEDDING,
        });
        try {
          expect(log.lines.filter((l) => l.schema !== undefined)).toEqual([
            expect.objectContaining({ level: 40, schema: state }),
          ]);
          const ready = await app.inject({ method: 'GET', url: '/health/ready' });
          expect(ready.statusCode).toBe(state === 'ahead' ? 200 : 503);
          const bootstrap = log.lines.find((l) => l.msg.includes('ADMIN_EMAIL'))?.msg;
          expect(bootstrap).toMatch(
            state === 'ahead' ? /^created admin root@example\.com/ : /waits for a migrated schema/,
          );
        } finally {
          await app.close();
          await db.drop();
        }
      }
    });
  });
});
