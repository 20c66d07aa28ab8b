import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DatabaseHandle } from '../../src/db/database.js';
import type { AppContext } from '../../src/lib/module.js';
import { HealthService } from '../../src/modules/health/health.service.js';
import { buildTestServices, type TestServices } from '../helpers/services.js';

/**
 * The health service called directly (test/helpers/services.ts: in-memory SQLite, or a
 * PostgreSQL schema): readiness for each state of the database, its schema and Redis, and the
 * lines it logs when one changes. A fresh service per test: each remembers what it logged.
 */

let services: TestServices;
let ctx: AppContext;
let info: ReturnType<typeof vi.spyOn>;
let warn: ReturnType<typeof vi.spyOn>;

beforeAll(async () => {
  services = await buildTestServices();
  ctx = services.ctx;
});
afterAll(async () => services.close());
beforeEach(() => {
  info = vi.spyOn(ctx.log, 'info');
  warn = vi.spyOn(ctx.log, 'warn');
});
afterEach(() => {
  vi.restoreAllMocks();
  ctx.lifecycle.draining = false;
});

const OK_BODY = { status: 'ok', checks: { database: 'ok', schema: 'ok', redis: 'absent' } };

function service(overrides: Partial<AppContext> = {}): HealthService {
  return new HealthService({ ...ctx, ...overrides } as AppContext);
}

function fakeRedis(ping: () => Promise<string>): Redis {
  return { status: 'ready', ping, disconnect: vi.fn() } as unknown as Redis;
}

/** The database with its ping or its migration table failing. */
function brokenDatabase(part: 'ping' | 'migrations'): DatabaseHandle {
  const boom = () => Promise.reject(new Error(`${part} is broken`));
  if (part === 'ping') return { ...ctx.database, ping: boom };
  const db = { connection: () => ({ execute: boom }) } as unknown as DatabaseHandle['db'];
  return { ...ctx.database, db };
}

const migrationRows = () =>
  sql<{ name: string; timestamp: string }>`select name, timestamp from kysely_migration order by name`
    .execute(ctx.database.db)
    .then((r) => r.rows);

/** Runs `work` with the last two migrations unapplied (behind), then puts them back. */
async function behind<T>(work: (pending: string[]) => Promise<T>): Promise<T> {
  const rows = (await migrationRows()).slice(-2);
  const names = rows.map((r) => r.name);
  await sql`delete from kysely_migration where name in (${sql.join(names)})`.execute(ctx.database.db);
  try {
    return await work(names);
  } finally {
    for (const row of rows) {
      await sql`insert into kysely_migration (name, timestamp) values (${row.name}, ${row.timestamp})`.execute(
        ctx.database.db,
      );
    }
  }
}

/** Runs `work` with two migrations applied that this version does not know (ahead). */
async function ahead<T>(work: (unknown: string[]) => Promise<T>): Promise<T> {
  const names = ['9998-from-a-newer-version', '9999-from-a-newer-version'];
  for (const name of names) {
    await sql`insert into kysely_migration (name, timestamp) values (${name}, ${new Date().toISOString()})`.execute(
      ctx.database.db,
    );
  }
  try {
    return await work(names);
  } finally {
    await sql`delete from kysely_migration where name in (${sql.join(names)})`.execute(ctx.database.db);
  }
}

describe('readiness', () => {
  it('is ready with the database answering and the expected schema; no Redis is absent', async () => {
    expect(await service().readiness()).toEqual({ failing: null, body: OK_BODY });
    expect(info).not.toHaveBeenCalled();
    expect(warn).not.toHaveBeenCalled();
  });

  it('is not ready while shutting down, without probing anything', async () => {
    const ping = vi.fn(() => Promise.resolve());
    ctx.lifecycle.draining = true;
    expect(await service({ database: { ...ctx.database, ping } }).readiness()).toEqual({
      failing: 'The service is shutting down',
      body: { status: 'degraded', checks: { database: 'ok', schema: 'ok', redis: 'absent' } },
    });
    expect(ping).not.toHaveBeenCalled();
  });

  it('is not ready while the database does not answer, and logs only the changes', async () => {
    const down = {
      failing: 'check database is down',
      body: { status: 'degraded', checks: { database: 'down', schema: 'ok', redis: 'absent' } },
    };
    let broken = true;
    const database = {
      ...ctx.database,
      ping: () => (broken ? Promise.reject(new Error('no')) : ctx.database.ping()),
    };
    const health = service({ database });
    expect(await health.readiness()).toEqual(down);
    expect(await health.readiness()).toEqual(down);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith('readiness: the database does not answer within 2000 ms: not ready');
    broken = false;
    expect(await health.readiness()).toEqual({ failing: null, body: OK_BODY });
    expect(await health.readiness()).toEqual({ failing: null, body: OK_BODY });
    expect(info).toHaveBeenCalledTimes(1);
    expect(info).toHaveBeenCalledWith('readiness: the database answers again');
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('is not ready when the schema cannot be read', async () => {
    expect(await service({ database: brokenDatabase('migrations') }).readiness()).toEqual({
      failing: 'check schema cannot be read from the database',
      body: { status: 'degraded', checks: { database: 'ok', schema: 'ok', redis: 'absent' } },
    });
  });

  it('is not ready with the schema behind, and logs it once', async () => {
    const health = service();
    await behind(async (pending) => {
      const report = {
        failing: `check schema is behind the code (pending: ${pending.join(', ')}): run npm run migrate`,
        body: { status: 'degraded', checks: { database: 'ok', schema: 'ok', redis: 'absent' } },
      };
      expect(await health.readiness()).toEqual(report);
      expect(await health.readiness()).toEqual(report);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn).toHaveBeenCalledWith(
        { schema: 'behind', pending, unknown: [] },
        `the database schema is behind this version (pending: ${pending.join(', ')}): readiness answers 503 until npm run migrate applies them`,
      );
    });
    // Back to the expected schema: worth a line.
    expect(await health.readiness()).toEqual({ failing: null, body: OK_BODY });
    expect(info).toHaveBeenCalledTimes(1);
    expect(info).toHaveBeenCalledWith(
      { schema: 'ok', pending: [], unknown: [] },
      'the database schema is the one this version expects',
    );
  });

  it('serves a schema ahead of the code with status ok, and logs it', async () => {
    const health = service();
    await ahead(async (unknown) => {
      const report = {
        failing: null,
        body: { status: 'ok', checks: { database: 'ok', schema: 'ahead', redis: 'absent' } },
      };
      expect(await health.readiness()).toEqual(report);
      expect(await health.readiness()).toEqual(report);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn).toHaveBeenCalledWith(
        { schema: 'ahead', pending: [], unknown },
        `the database schema is ahead of this version (applied by a newer one: ${unknown.join(', ')}): serving it, as beside a newer version during a rolling deploy`,
      );
    });
  });

  it('reports Redis: ok when it answers, degraded (still ready) when it does not', async () => {
    expect(await service({ redis: fakeRedis(() => Promise.resolve('PONG')) }).readiness()).toEqual({
      failing: null,
      body: { status: 'ok', checks: { database: 'ok', schema: 'ok', redis: 'ok' } },
    });
    expect(await service({ redis: fakeRedis(() => Promise.reject(new Error('down'))) }).readiness()).toEqual({
      failing: null,
      body: { status: 'degraded', checks: { database: 'ok', schema: 'ok', redis: 'down' } },
    });
    const unready = await service({
      database: brokenDatabase('ping'),
      redis: fakeRedis(() => Promise.resolve('PONG')),
    }).readiness();
    expect(unready.body.checks).toEqual({ database: 'down', schema: 'ok', redis: 'ok' });
  });
});

describe('the schema at start-up', () => {
  it('says nothing of the expected schema, and returns its state', async () => {
    const health = service();
    expect(await health.checkSchemaAtStartup()).toBe('ok');
    expect(info).not.toHaveBeenCalled();
    expect(warn).not.toHaveBeenCalled();
  });

  it('warns of a schema behind or ahead, then logs only changes', async () => {
    const health = service();
    await behind(async (pending) => {
      expect(await health.checkSchemaAtStartup()).toBe('behind');
      expect(await health.checkSchemaAtStartup()).toBe('behind');
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn).toHaveBeenLastCalledWith(
        { schema: 'behind', pending, unknown: [] },
        expect.stringContaining('is behind this version'),
      );
    });
    await ahead(async (unknown) => {
      expect(await health.checkSchemaAtStartup()).toBe('ahead');
      expect(warn).toHaveBeenCalledTimes(2);
      expect(warn).toHaveBeenLastCalledWith(
        { schema: 'ahead', pending: [], unknown },
        expect.stringContaining('is ahead of this version'),
      );
    });
    expect(await health.checkSchemaAtStartup()).toBe('ok');
    expect(info).toHaveBeenCalledTimes(1);
    expect(info).toHaveBeenCalledWith(
      { schema: 'ok', pending: [], unknown: [] },
      'the database schema is the one this version expects',
    );
  });

  it('returns null and warns when the schema cannot be read', async () => {
    expect(await service({ database: brokenDatabase('migrations') }).checkSchemaAtStartup()).toBeNull();
    expect(warn).toHaveBeenCalledWith(
      { err: { message: 'cannot read the migrations: migrations is broken' } },
      'cannot read the database schema version',
    );
  });
});
