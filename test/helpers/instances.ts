import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { NO_LAG_SHEDDING, testEnv } from './app.js';
import { createTestDatabase } from './database.js';

export interface Instances {
  /** The process that makes the change. */
  a: FastifyInstance;
  /** The running process that must learn of it. */
  b: FastifyInstance;
  close(): Promise<void>;
}

/**
 * Two app instances of one service on one database, each with its own connection: a SQLite file,
 * or one PostgreSQL schema (TEST_DATABASE_URL).
 */
export async function twoInstances(env: Record<string, string>, clockOfB?: () => number): Promise<Instances> {
  const dir = mkdtempSync(join(tmpdir(), 'taskforge-foreign-'));
  const shared = process.env.TEST_DATABASE_URL
    ? await createTestDatabase()
    : await createTestDatabase({ sqliteFile: join(dir, 'shared.db') });
  await migrateToLatest(shared.handle);
  const second = shared.schema
    ? openDatabase({ kind: 'postgres', connectionString: shared.url ?? '' }, { searchPath: shared.schema })
    : openDatabase({ kind: 'sqlite', filename: join(dir, 'shared.db') });
  const config = loadConfig(testEnv(env));
  const hashCost = { memoryCost: 1024, timeCost: 1 };
  const a = await buildApp(config, { database: shared.handle, hashCost, overload: NO_LAG_SHEDDING });
  const b = await buildApp(config, {
    database: second,
    hashCost,
    overload: NO_LAG_SHEDDING,
    ...(clockOfB ? { clock: clockOfB } : {}),
  });
  return {
    a,
    b,
    async close() {
      await a.close();
      await b.close();
      await second.close();
      await shared.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
