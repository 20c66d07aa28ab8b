import pino from 'pino';
import { expect } from 'vitest';
import { createContext } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { ApiError } from '../../src/errors.js';
import type { AppContext } from '../../src/lib/module.js';
import { testEnv } from './app.js';
import { createTestDatabase, type TestDatabase } from './database.js';

/**
 * Every module's services on a fresh, migrated database of their own (in-memory SQLite, or a
 * PostgreSQL schema) without the HTTP layer: the service unit tests call them directly. No Redis
 * (the caches and counters keep to the process), the cheapest argon2id, and the clock `Date.now()`
 * read at each call, so that a test's fake Date moves it too.
 */
export interface TestServices {
  ctx: AppContext;
  database: TestDatabase;
  close(): Promise<void>;
}

export async function buildTestServices(env: Record<string, string> = {}): Promise<TestServices> {
  const database = await createTestDatabase();
  await migrateToLatest(database.handle);
  const handle = createContext(loadConfig(testEnv(env)), {
    log: pino({ level: 'silent' }),
    database: database.handle,
    redis: null,
    hashCost: { memoryCost: 1024, timeCost: 1 },
    clock: () => Date.now(),
  });
  return {
    ctx: handle.ctx,
    database,
    async close() {
      await handle.close();
      await database.drop();
    },
  };
}

/** The ApiError a service call refuses with (a promise, or a call that throws at once); fails the test if it does not. */
export async function failure(work: Promise<unknown> | (() => unknown)): Promise<ApiError> {
  const error =
    typeof work === 'function'
      ? (() => {
          try {
            work();
            return null;
          } catch (e) {
            return e;
          }
        })()
      : await work.then(
          () => null,
          (e: unknown) => e,
        );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

/** The event log's head: the position of the last event recorded. */
export async function eventHead(ctx: AppContext): Promise<number> {
  const row = await ctx.database.db.selectFrom('event_log').select('head').executeTakeFirstOrThrow();
  return Number(row.head);
}

/** The events recorded after `since`, in order, with their viewers. */
export async function eventsAfter(ctx: AppContext, since: number) {
  const rows = await ctx.database.db
    .selectFrom('events')
    .selectAll()
    .where('position', '>', since)
    .orderBy('position')
    .execute();
  const viewers = await ctx.database.db
    .selectFrom('event_viewers')
    .selectAll()
    .where('position', '>', since)
    .execute();
  return rows.map((row) => ({
    type: row.type,
    at: row.occurred_at,
    actor: { type: row.actor_type, id: row.actor_id },
    projectId: row.project_id,
    subject: `${row.subject_type}:${row.subject_id}`,
    taskId: row.task_id,
    changes: row.changes === null ? null : JSON.parse(row.changes),
    data: JSON.parse(row.data),
    viewers: viewers
      .filter((v) => Number(v.position) === Number(row.position))
      .map((v) => v.user_id)
      .sort(),
  }));
}
