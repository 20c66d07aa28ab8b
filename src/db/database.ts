import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, type Dialect as KyselyDialect, SqliteDialect, sql } from 'kysely';
import type { DatabaseTarget } from '../config.js';
import type { PoolStats } from '../lib/metrics.js';
import { CurrentSchemaPostgresDialect } from './postgres-introspector.js';
import { GuardedPool } from './postgres-pool.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

/** An open database: the Kysely instance, which dialect it speaks, and its lifecycle. */
export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** PostgreSQL: the schema the handle works in, when not the default. */
  readonly schema: string | null;
  /**
   * SQLite: PRAGMA data_version of the handle's one connection, which changes exactly when
   * another connection (another process) has committed; null on PostgreSQL.
   */
  readonly dataVersion: (() => number) | null;
  /** PostgreSQL: the pool's connections and waiting queries now (metrics); null on SQLite. */
  readonly poolStats: (() => PoolStats) | null;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  poolSize?: number;
  /** PostgreSQL: the server cancels a statement after this (57014); default 5 s. */
  statementTimeoutMs?: number;
  /**
   * PostgreSQL: the longest a query waits for a pool connection, a new connection's handshake
   * included; default the statement timeout (see postgres-pool.ts for every bound).
   */
  connectionTimeoutMs?: number;
  /** PostgreSQL only: the schema to work in (each test file gets its own). */
  searchPath?: string;
  /**
   * SQLite only: how long a writer waits for another connection's lock before SQLITE_BUSY;
   * default SQLITE_BUSY_TIMEOUT_MS.
   */
  busyTimeoutMs?: number;
  /** Wraps the Kysely dialect (tracing's span per statement); `system` is `db.system.name`. */
  instrument?: (dialect: KyselyDialect, system: 'sqlite' | 'postgresql') => KyselyDialect;
}

/**
 * How long a SQLite write waits for another process's write lock (a worker, `npm run migrate`)
 * before it fails with SQLITE_BUSY (503 not_ready): better-sqlite3 waits synchronously, holding
 * the event loop and so every other request of the process, so the wait is short. Writers hold
 * the lock for milliseconds; a lock held for longer than this is an outage, not a queue.
 */
export const SQLITE_BUSY_TIMEOUT_MS = 1000;

function openSqlite(
  filename: string,
  options: DatabaseOptions,
): { db: Kysely<Database>; dataVersion: () => number } {
  if (filename !== ':memory:') keepPrivate(filename);
  // The timeout is given at open, not by pragma afterwards: switching a new file to WAL takes a
  // lock too, and a second process opening the same file at that moment must wait, not fail.
  const connection = new SqliteDatabase(filename, {
    timeout: Math.trunc(options.busyTimeoutMs ?? SQLITE_BUSY_TIMEOUT_MS),
  });
  try {
    // WAL lets readers work beside the writer; NORMAL is durable across crashes in WAL mode.
    connection.pragma('journal_mode = WAL');
    connection.pragma('synchronous = NORMAL');
    connection.pragma('foreign_keys = ON');
  } catch (error) {
    connection.close();
    throw error;
  }
  const version = connection.prepare('pragma data_version').pluck();
  return {
    db: new Kysely<Database>({
      dialect: instrumented(
        new SqliteDialect({ database: withStatementCache(connection) }),
        'sqlite',
        options,
      ),
    }),
    // Synchronous, a few microseconds: cheap enough to read on every auth-cache lookup.
    dataVersion: () => version.get() as number,
  };
}

/**
 * The database holds password hashes and sessions: the folder it creates and the files (SQLite
 * gives -wal and -shm the database file's mode) are its owner's only, whatever the umask. An
 * existing folder is left as the operator made it.
 */
function keepPrivate(filename: string): void {
  mkdirSync(dirname(filename), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(filename, 'wx', 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  for (const file of [filename, `${filename}-wal`, `${filename}-shm`]) {
    try {
      const { mode } = statSync(file);
      if (mode & 0o077) chmodSync(file, mode & 0o700);
    } catch (error) {
      // Absent (no -wal yet), or another user's file: SQLite reports what matters when it opens.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'EPERM') throw error;
    }
  }
}

/**
 * Kysely prepares every query anew; preparing costs more than running most of ours. The same SQL
 * text reuses its prepared statement (Kysely runs each one to completion before the next, so a
 * statement is never in use twice at once). Bounded, as filters make the SQL text vary.
 */
function withStatementCache(connection: SqliteDatabase.Database) {
  const MAX = 500;
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => connection.close(),
    prepare: (text: string) => {
      let statement = statements.get(text);
      if (!statement) {
        statement = connection.prepare(text);
        if (statements.size >= MAX) statements.delete(statements.keys().next().value as string);
        statements.set(text, statement);
      }
      return statement;
    },
  };
}

function openPostgres(
  connectionString: string,
  options: DatabaseOptions,
): { db: Kysely<Database>; poolStats: () => PoolStats } {
  // The name goes unquoted into a startup option, where spaces and quotes would change its meaning.
  if (options.searchPath !== undefined && !/^[a-z_][a-z0-9_]*$/.test(options.searchPath)) {
    throw new Error(`searchPath must be a plain lower-case schema name, got "${options.searchPath}"`);
  }
  const statementTimeoutMs = options.statementTimeoutMs ?? 5000;
  const pool = new GuardedPool({
    connectionString,
    max: options.poolSize ?? 10,
    statementTimeoutMs,
    connectionTimeoutMs: options.connectionTimeoutMs ?? statementTimeoutMs,
    ...(options.searchPath ? { startupOptions: `-c search_path=${options.searchPath}` } : {}),
  });
  const max = options.poolSize ?? 10;
  return {
    db: new Kysely<Database>({
      dialect: instrumented(new CurrentSchemaPostgresDialect({ pool }), 'postgresql', options),
    }),
    poolStats: () => ({
      total: pool.pool.totalCount,
      idle: pool.pool.idleCount,
      waiting: pool.pool.waitingCount,
      max,
    }),
  };
}

function instrumented(
  dialect: KyselyDialect,
  system: 'sqlite' | 'postgresql',
  options: DatabaseOptions,
): KyselyDialect {
  return options.instrument ? options.instrument(dialect, system) : dialect;
}

export function openDatabase(target: DatabaseTarget, options: DatabaseOptions = {}): DatabaseHandle {
  const dialect: Dialect = target.kind;
  const { db, dataVersion, poolStats } =
    target.kind === 'sqlite'
      ? { ...openSqlite(target.filename, options), poolStats: null }
      : { ...openPostgres(target.connectionString, options), dataVersion: null };
  return {
    db,
    dialect,
    schema: target.kind === 'postgres' ? (options.searchPath ?? null) : null,
    dataVersion,
    poolStats,
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}
