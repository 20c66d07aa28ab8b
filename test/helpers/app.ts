import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { DestinationStream } from 'pino';
import { expect, inject } from 'vitest';
import { type AppOverrides, buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { defineModule, type Module } from '../../src/lib/module.js';
import type { RequestObserver } from '../../src/plugins/logging.js';
import type { InspectedReply } from '../../src/plugins/reply-inspection.js';
import { ContractChecker, type Documents } from './contract.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export const TEST_SECRET = 'test-secret-that-is-long-enough-0123456789abcdef';

/** Settings every test app starts from: quiet logs and roomy rate limits (rate-limit tests set their own). */
export function testEnv(env: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_MAX: '1000000',
    AUTH_RATE_LIMIT_MAX: '1000000',
    LOGIN_FAILURES_MAX: '1000000',
    ...(process.env.TEST_REDIS_URL ? { REDIS_URL: process.env.TEST_REDIS_URL } : {}),
    ...env,
  };
}

/**
 * A test worker's event loop lags on a shared machine (and while a test builds documents or times
 * hostile inputs) for reasons that are not the app's load: test apps shed no load for that, as
 * they run with roomy rate limits. The overload tests set their own thresholds.
 */
export const NO_LAG_SHEDDING = { maxEventLoopDelayMs: 0 } as const;

export interface TestApp {
  app: FastifyInstance;
  db: TestDatabase;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  logStream?: DestinationStream;
  /** Modules the app registers after its own (test/fixtures holds some). */
  modules?: Module[];
  /** Route plugins of a test's own, registered under each API version as a module without a tag. */
  apiRoutes?: FastifyPluginAsync[];
  /**
   * What the app's Redis keys start with. Each test app gets a random one, so tests sharing the
   * CI Redis never share counters; apps meant to share them (two instances) pass the same one.
   */
  keyPrefix?: string;
  /** The context's clock (tests move it instead of waiting). */
  clock?: () => number;
  /** An open database to use instead of a fresh one (a second instance of the same service). */
  database?: TestDatabase;
  /**
   * Whether the statuses and replies the app answers are held to the OpenAPI document (test/global-setup.ts);
   * default true. A test that walks every route with placeholder input turns it off.
   */
  recordStatuses?: boolean;
  /** Load and connection limits of a test's own (a hasher, server limits, overload thresholds). */
  overrides?: Pick<
    AppOverrides,
    | 'passwordHasher'
    | 'serverLimits'
    | 'overload'
    | 'clock'
    | 'resolve'
    | 'clusterMetrics'
    // The contract check's own tests watch the replies themselves (instead of the suite's check).
    | 'inspectReply'
  >;
}

/** Route plugins as one module: registered under each version prefix, and nothing else. */
function routesModule(plugins: FastifyPluginAsync[]): Module {
  return defineModule({
    name: 'test-routes',
    routes: async (api) => {
      for (const plugin of plugins) await api.register(plugin);
    },
  });
}

/** The (method, route, status) triples this worker has already written: each is written once. */
const recordedStatuses = new Set<string>();

/**
 * Records each answered (method, route, status) for test/global-setup.ts, which checks them all
 * against the OpenAPI document after the run. A new triple is written at once, so an app a test
 * never closes (or a file that fails half-way) still counts what it answered.
 */
function statusObserver(): RequestObserver {
  const dir = inject('observedDir');
  return ({ method, route, statusCode }) => {
    if (!dir || !route || method === 'HEAD' || method === 'OPTIONS') return;
    const entry = JSON.stringify({ method, route, status: statusCode });
    if (recordedStatuses.has(entry)) return;
    recordedStatuses.add(entry);
    appendFileSync(join(dir, `${process.pid}.statuses.jsonl`), `${entry}\n`);
  };
}

let checker: ContractChecker | undefined;

/** The worker's checker, on the documents test/global-setup.ts wrote (read and compiled once per worker). */
function contractChecker(): ContractChecker {
  checker ??= new ContractChecker(JSON.parse(readFileSync(inject('contractDocuments'), 'utf8')) as Documents);
  return checker;
}

/**
 * Holds every reply to the OpenAPI document (test/helpers/contract.ts). A mismatch is written for
 * test/global-setup.ts at once (the run fails) and fails the app's close (its test file fails).
 */
function replyChecker(): { inspect(reply: InspectedReply): void; mismatches: string[] } {
  const mismatches: string[] = [];
  const dir = inject('observedDir');
  return {
    mismatches,
    inspect: (reply) => {
      const problems = contractChecker().check(reply);
      if (problems.length === 0) return;
      const state = expect.getState();
      const test = `${state.testPath ?? 'unknown file'} › ${state.currentTestName ?? '(outside a test)'}`;
      for (const problem of problems) {
        if (mismatches.length < 20) mismatches.push(`${problem}\n    in ${test}`);
        appendFileSync(
          join(dir, `${process.pid}.mismatches.jsonl`),
          `${JSON.stringify({ problem, test })}\n`,
        );
      }
    },
  };
}

/** A ready app on a fresh, migrated database of its own. */
export async function buildTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const shared = options.database;
  const db = shared ?? (await createTestDatabase());
  // Migrating is idempotent: a database of the test's own may be new.
  await migrateToLatest(db.handle);
  const config = loadConfig(testEnv(options.env));
  const contract = replyChecker();
  const app = await buildApp(config, {
    observers: options.recordStatuses === false ? [] : [statusObserver()],
    database: db.handle,
    // The cheapest argon2id the library accepts: tests check behaviour, not hashing strength.
    hashCost: { memoryCost: 1024, timeCost: 1 },
    keyPrefix: options.keyPrefix ?? `test-${randomBytes(6).toString('hex')}:`,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logStream ? { logStream: options.logStream } : {}),
    modules: [...(options.modules ?? []), ...(options.apiRoutes ? [routesModule(options.apiRoutes)] : [])],
    overload: NO_LAG_SHEDDING,
    ...(options.recordStatuses === false ? {} : { inspectReply: contract.inspect }),
    ...options.overrides,
  });
  return {
    app,
    db,
    async close() {
      await app.close();
      // A shared database belongs to the app that made it.
      if (!shared) await db.drop();
      if (contract.mismatches.length > 0) {
        throw new Error(`replies that break the OpenAPI document:\n${contract.mismatches.join('\n')}`);
      }
    },
  };
}
