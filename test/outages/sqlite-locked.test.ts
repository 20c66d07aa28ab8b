import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { isDatabaseUnavailable } from '../../src/lib/db-errors.js';
import { signedIn } from '../helpers/factories.js';
import { appOn, capturedLog, expectNotReady } from './outage-helpers.js';

/**
 * A SQLite file locked by another connection (a long write of another process, a backup tool
 * holding BEGIN EXCLUSIVE): writes wait at most the short busy timeout (a transaction that read
 * first is refused at once), then answer 503 not_ready with Retry-After; reads go on (WAL:
 * readers are not blocked by a writer); once the lock is released, writes succeed again without
 * a restart. Runs on a file of its own in both test runs.
 */

/**
 * Fast, not after a wait that holds the event loop (better-sqlite3 waits synchronously): the
 * busy timeout is 1 s (SQLITE_BUSY_TIMEOUT_MS); a loaded machine may add some.
 */
const FAST_MS = 2500;

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const dir = mkdtempSync(join(tmpdir(), 'taskforge-locked-'));
const template = join(dir, 'migrated.db');
let copies = 0;

// Migrated once; each test works on a copy of its own (closing checkpointed the WAL into it).
beforeAll(async () => {
  const handle = openDatabase({ kind: 'sqlite', filename: template });
  await migrateToLatest(handle);
  await handle.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function setUp() {
  copies += 1;
  const filename = join(dir, `taskforge-${copies}.db`);
  copyFileSync(template, filename);
  const handle = openDatabase({ kind: 'sqlite', filename });
  cleanups.push(() => handle.close());
  const { lines, logStream } = capturedLog();
  const t = await appOn(
    { handle, url: `sqlite:${filename}`, schema: null, drop: () => handle.close() },
    { logStream },
  );
  cleanups.push(() => t.close());
  const other = new SqliteDatabase(filename);
  cleanups.push(() => other.close());
  return { t, lines, other };
}

describe('SQLite file locked by another connection', () => {
  it('a write waits the short busy timeout, not seconds, then fails as unavailable (503)', async () => {
    const { t, other } = await setUp();
    other.exec('BEGIN IMMEDIATE');
    try {
      const started = Date.now();
      // One statement on its own waits in SQLite's busy handler, holding the event loop meanwhile.
      const error = await sql`update users set name = name`.execute(t.app.ctx.database.db).then(
        () => null,
        (e: unknown) => e,
      );
      const took = Date.now() - started;
      expect((error as { code?: string } | null)?.code).toBe('SQLITE_BUSY');
      expect(isDatabaseUnavailable(error)).toBe(true);
      expect(took).toBeGreaterThanOrEqual(900);
      expect(took).toBeLessThan(FAST_MS);
    } finally {
      other.exec('ROLLBACK');
    }
  });

  for (const begin of ['BEGIN IMMEDIATE', 'BEGIN EXCLUSIVE']) {
    it(`${begin}: writes get 503 not_ready fast, reads go on, writes resume on release`, async () => {
      const { t, lines, other } = await setUp();
      const { headers } = await signedIn(t.app);
      const create = (title: string) => ({
        method: 'POST' as const,
        url: '/api/v1/tasks',
        headers,
        payload: { title },
      });
      expect((await t.app.inject(create('before'))).statusCode).toBe(201);
      other.exec(begin);
      try {
        const started = Date.now();
        await expectNotReady(t.app, create('locked'));
        expect(Date.now() - started).toBeLessThan(FAST_MS);
        const list = await t.app.inject({ method: 'GET', url: '/api/v1/tasks', headers });
        expect(list.statusCode, list.body).toBe(200);
        expect((list.json() as { items: { title: string }[] }).items.map((task) => task.title)).toEqual([
          'before',
        ]);
        // The background work (job queue, webhook dispatcher) meets the lock a few rounds too.
        await new Promise((resolve) => setTimeout(resolve, 3000));
        const read = Date.now();
        expect((await t.app.inject({ method: 'GET', url: '/api/v1/tasks', headers })).statusCode).toBe(200);
        // At worst behind one busy wait of the background work (the queue backs off while locked).
        expect(Date.now() - read).toBeLessThan(FAST_MS);
        // Reads answer, so readiness does too: another instance would find the same lock.
        expect((await t.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
      } finally {
        other.exec('ROLLBACK');
      }
      const after = await t.app.inject(create('after'));
      expect(after.statusCode, after.body).toBe(201);
      // The lock was an outage, warned about once; never logged as a failure of the service.
      expect(lines.filter((line) => line.level >= 50).map((line) => line.msg)).toEqual([]);
      expect(
        lines.filter((line) => line.level === 40 && line.msg.includes('requests get 503 not_ready')),
      ).toHaveLength(1);
    });
  }
});
