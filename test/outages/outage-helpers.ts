import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { expect } from 'vitest';
import { type DatabaseHandle, type DatabaseOptions, openDatabase } from '../../src/db/database.js';
import { buildTestApp, type TestApp, type TestAppOptions } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/database.js';

/**
 * Small bounds for apps whose database goes away in a test: the statement timeout (the client's
 * own query timeout follows it, see src/db/postgres-pool.ts) and the wait for a pool connection.
 * What makes a reply fast during an outage is these bounds, which the tests check by the reply.
 */
export const OUTAGE_BOUNDS = { statementTimeoutMs: 1000, connectionTimeoutMs: 1000 } as const;

/** A ceiling for "did not hang": far above the bounds, far below a hung request's 15 s or more. */
export const HANG_CEILING_MS = 10_000;

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export function capturedLog(): { lines: LogLine[]; logStream: Writable } {
  const lines: LogLine[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { lines, logStream };
}

/**
 * A handle on one PostgreSQL schema through `connectionString` (a proxy, or a private server), as
 * a TestDatabase the caller closes (the app does not: it did not open it).
 */
export function postgresHandle(
  connectionString: string,
  schema: string | null,
  options: DatabaseOptions = {},
): { handle: DatabaseHandle; database: TestDatabase } {
  const handle = openDatabase(
    { kind: 'postgres', connectionString },
    { ...OUTAGE_BOUNDS, poolSize: 3, ...(schema ? { searchPath: schema } : {}), ...options },
  );
  return {
    handle,
    database: { handle, url: null, schema, drop: () => handle.close() },
  };
}

export async function appOn(database: TestDatabase, options: TestAppOptions = {}): Promise<TestApp> {
  return buildTestApp({ ...options, database, env: { LOG_LEVEL: 'warn', ...options.env } });
}

/** A request that must fail fast with 503 not_ready and Retry-After, without a stack or internals. */
export async function expectNotReady(app: FastifyInstance, request: InjectOptions): Promise<void> {
  const started = Date.now();
  const res = await app.inject(request);
  const took = Date.now() - started;
  expect(res.statusCode, res.body).toBe(503);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  const body = res.json() as { code: string; detail: string };
  expect(body.code).toBe('not_ready');
  expect(res.body).not.toMatch(/\bat .+:\d+:\d+|ECONN|timeout exceeded|SQLITE_/);
  expect(took).toBeLessThan(HANG_CEILING_MS);
}

/** A readiness reply that names the database as the failing check. */
export async function expectUnready(app: FastifyInstance): Promise<void> {
  const res = await app.inject({ method: 'GET', url: '/health/ready' });
  expect(res.statusCode, res.body).toBe(503);
  expect(res.headers['retry-after']).toBeDefined();
  expect(res.json()).toMatchObject({ code: 'not_ready' });
  expect((res.json() as { detail: string }).detail).toMatch(/database/);
}

export async function isReady(app: FastifyInstance): Promise<boolean> {
  return (await app.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200;
}
