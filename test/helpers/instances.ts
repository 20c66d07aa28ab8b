import { randomBytes } from 'node:crypto';
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

export interface InstancesOptions {
  /** Settings of a's own on top of `env` (a REDIS_URL through a proxy, so only a's link fails). */
  envOfA?: Record<string, string>;
  /** Settings of b's own on top of `env` (a REDIS_URL through a proxy, so only b's link fails). */
  envOfB?: Record<string, string>;
}

/**
 * Two app instances of one service on one database, each with its own connection: a SQLite file,
 * or one PostgreSQL schema (TEST_DATABASE_URL). They share one Redis key prefix of their own, as
 * the instances of one service do, and no other pair's (tests share the CI Redis).
 */
export async function twoInstances(
  env: Record<string, string>,
  clockOfB?: () => number,
  options: InstancesOptions = {},
): Promise<Instances> {
  const dir = mkdtempSync(join(tmpdir(), 'taskforge-foreign-'));
  const shared = process.env.TEST_DATABASE_URL
    ? await createTestDatabase()
    : await createTestDatabase({ sqliteFile: join(dir, 'shared.db') });
  await migrateToLatest(shared.handle);
  const second = shared.schema
    ? openDatabase({ kind: 'postgres', connectionString: shared.url ?? '' }, { searchPath: shared.schema })
    : openDatabase({ kind: 'sqlite', filename: join(dir, 'shared.db') });
  const config = loadConfig(testEnv({ ...env, ...options.envOfA }));
  const configOfB = loadConfig(testEnv({ ...env, ...options.envOfB }));
  const hashCost = { memoryCost: 1024, timeCost: 1 };
  const keyPrefix = `test-instances-${randomBytes(6).toString('hex')}:`;
  const a = await buildApp(config, {
    database: shared.handle,
    hashCost,
    overload: NO_LAG_SHEDDING,
    keyPrefix,
  });
  const b = await buildApp(configOfB, {
    database: second,
    keyPrefix,
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
