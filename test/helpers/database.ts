import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { type CompiledQuery, Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.js';
import type { Database } from '../../src/db/schema.js';

/**
 * A fresh database for one test file: a new PostgreSQL schema when TEST_DATABASE_URL is set,
 * otherwise an in-memory SQLite database. `drop()` closes it and removes the schema.
 */
export interface TestDatabase {
  handle: DatabaseHandle;
  /** The DATABASE_URL a child process would use to reach the same data, when one can. */
  url: string | null;
  schema: string | null;
  drop(): Promise<void>;
}

export const testDatabaseUrl = process.env.TEST_DATABASE_URL || null;

async function adminQuery(sqlText: string): Promise<void> {
  const client = new pg.Client({ connectionString: testDatabaseUrl ?? undefined });
  await client.connect();
  try {
    await client.query(sqlText);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(
  options: { sqliteFile?: string; statementTimeoutMs?: number } = {},
): Promise<TestDatabase> {
  if (testDatabaseUrl) {
    const schema = `test_${randomBytes(6).toString('hex')}`;
    await adminQuery(`create schema ${schema}`);
    const handle = openDatabase(
      { kind: 'postgres', connectionString: testDatabaseUrl },
      {
        searchPath: schema,
        poolSize: 5,
        ...(options.statementTimeoutMs ? { statementTimeoutMs: options.statementTimeoutMs } : {}),
      },
    );
    // pg reads libpq's `options` parameter from the URL: a child process lands in the same schema.
    const url = new URL(testDatabaseUrl);
    url.searchParams.set('options', `-c search_path=${schema}`);
    return {
      handle,
      url: url.href,
      schema,
      async drop() {
        await handle.close();
        await adminQuery(`drop schema if exists ${schema} cascade`);
      },
    };
  }
  const filename = options.sqliteFile ?? ':memory:';
  const handle = openDatabase({ kind: 'sqlite', filename });
  return {
    handle,
    url: options.sqliteFile ? `sqlite:${options.sqliteFile}` : null,
    schema: null,
    async drop() {
      await handle.close();
    },
  };
}

/**
 * A database that outlives an app and that a child process can open: a PostgreSQL schema, or a
 * SQLite file in a temporary folder of its own, which `drop()` removes with the file.
 */
export async function createDurableTestDatabase(name: string): Promise<TestDatabase> {
  if (testDatabaseUrl) return createTestDatabase();
  const dir = mkdtempSync(join(tmpdir(), `taskforge-${name}-`));
  const database = await createTestDatabase({ sqliteFile: join(dir, `${name}.db`) });
  return {
    ...database,
    async drop() {
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A second connection to `database` (its PostgreSQL schema, or `sqliteFile`, the SQLite file it
 * was made on) whose log hands every statement it executes to `executed`: the query plan tests
 * read back the statements a repository function ran.
 */
export function openLoggedConnection(
  database: TestDatabase,
  sqliteFile: string,
  executed: CompiledQuery[],
): Kysely<Database> {
  const dialect = testDatabaseUrl
    ? new PostgresDialect({
        pool: new pg.Pool({
          connectionString: testDatabaseUrl,
          max: 2,
          options: `-c search_path=${database.schema}`,
        }),
      })
    : new SqliteDialect({ database: new SqliteDatabase(sqliteFile) });
  return new Kysely<Database>({
    dialect,
    log: (event) => {
      if (event.level === 'query') executed.push(event.query);
    },
  });
}
