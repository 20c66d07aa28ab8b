import pino from 'pino';
import { createContext } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { migrateToLatest } from '../../src/db/migrator.js';
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
