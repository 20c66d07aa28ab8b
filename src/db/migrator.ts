import {
  type Kysely,
  type Migration,
  type MigrationResultSet,
  Migrator,
  NO_MIGRATIONS,
  type NoMigrations,
  sql,
} from 'kysely';
import type { DatabaseHandle } from './database.js';
import { migrations } from './migrations/index.js';
import type { Database } from './schema.js';

export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

/** One line for an operator: pg's AggregateError (several addresses refused) has an empty message. */
function summarize(error: unknown): string {
  if (error instanceof AggregateError && !error.message) {
    return error.errors.map(summarize).join('; ') || 'unknown error';
  }
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    const text = error.message || (code ? String(code) : error.name);
    return text.replace(/\s*\n\s*/g, ' ');
  }
  return String(error).replace(/\s*\n\s*/g, ' ');
}

/** Told of each migration as it starts: `applying <name>` or `reverting <name>` (the CLI's progress lines). */
export type MigrationProgress = (line: string) => void;

function reporting(progress: MigrationProgress | undefined): Record<string, Migration> {
  if (!progress) return migrations;
  return Object.fromEntries(
    Object.entries(migrations).map(([name, migration]) => {
      const { up, down } = migration;
      const reported: Migration = {
        up: (db) => {
          progress(`applying ${name}`);
          return up(db);
        },
        ...(down
          ? {
              down: (db) => {
                progress(`reverting ${name}`);
                return down(db);
              },
            }
          : {}),
      };
      return [name, reported];
    }),
  );
}

function migratorFor(db: Kysely<Database>, schema: string | null, progress?: MigrationProgress): Migrator {
  const steps = reporting(progress);
  return new Migrator({
    db,
    provider: { getMigrations: async () => steps },
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
}

function orThrow(result: MigrationResultSet): string[] {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName;
    const prefix = failed ? `migration ${failed} failed` : 'cannot migrate';
    throw new MigrationError(`${prefix}: ${summarize(result.error)}`, { cause: result.error });
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * The schema Kysely must keep its tables in. Without one, Kysely decides whether kysely_migration
 * exists by looking in every schema of the database, then queries it unqualified: a database
 * that holds another migrated schema makes it skip creating its own tables and fail.
 */
async function currentSchema(conn: Kysely<Database>, handle: DatabaseHandle): Promise<string> {
  if (handle.schema) return handle.schema;
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(conn);
  const schema = rows[0]?.schema;
  if (!schema) throw new MigrationError('cannot migrate: no schema of the search_path exists');
  return schema;
}

/**
 * Runs `step` with the database locked against other migrating processes.
 *
 * PostgreSQL: Kysely's migrator takes an advisory lock and runs in a transaction. Everything runs
 * on one connection without a statement timeout: the pool's timeout (5 s by default) would
 * otherwise cancel a long migration, and a second process waiting for the advisory lock.
 *
 * SQLite: Kysely takes no lock, so the whole run happens inside BEGIN EXCLUSIVE on the single
 * connection (SQLite DDL is transactional); a second process waits up to its busy timeout.
 */
async function locked(
  handle: DatabaseHandle,
  step: (m: Migrator, conn: Kysely<Database>) => Promise<MigrationResultSet>,
  progress?: MigrationProgress,
): Promise<string[]> {
  try {
    if (handle.dialect === 'postgres') {
      return await handle.db.connection().execute(async (conn) => {
        await sql`set statement_timeout = 0`.execute(conn);
        try {
          return orThrow(await step(migratorFor(conn, await currentSchema(conn, handle), progress), conn));
        } finally {
          // The connection goes back to the pool: give it the pool's timeout again.
          await sql`reset statement_timeout`.execute(conn).catch(() => {});
        }
      });
    }
    return await handle.db.connection().execute(async (conn) => {
      await sql`begin exclusive`.execute(conn);
      try {
        const applied = orThrow(await step(migratorFor(conn, null, progress), conn));
        await sql`commit`.execute(conn);
        return applied;
      } catch (error) {
        // Some errors (SQLITE_FULL, SQLITE_IOERR…) end the transaction themselves; a failing
        // rollback must not hide the error that caused it.
        await sql`rollback`.execute(conn).catch(() => {});
        throw error;
      }
    });
  } catch (error) {
    if (error instanceof MigrationError) throw error;
    throw new MigrationError(`cannot migrate: ${summarize(error)}`, { cause: error });
  }
}

/**
 * Applies every pending migration; returns the names applied. Throws MigrationError on failure.
 * A schema ahead of the code (a newer version applied migrations this one does not know) is left
 * as it is: during a rolling deploy the previous version starts beside the new one.
 */
export function migrateToLatest(handle: DatabaseHandle, progress?: MigrationProgress): Promise<string[]> {
  return locked(
    handle,
    async (m, conn) => {
      const status = await readStatus(conn, handle);
      if (status.pending.length === 0) return { results: [] };
      if (status.unknown.length > 0) {
        throw new MigrationError(
          `cannot migrate: the database has migrations this version does not know (${status.unknown.join(', ')}) and lacks ${status.pending.join(', ')}`,
        );
      }
      return m.migrateToLatest();
    },
    progress,
  );
}

/**
 * Migrates up or down to `name` (the last one applied afterwards; NO_MIGRATIONS: none); returns
 * the names run, applied in order or reverted latest first.
 */
export function migrateTo(
  handle: DatabaseHandle,
  name: string | NoMigrations,
  progress?: MigrationProgress,
): Promise<string[]> {
  return locked(handle, (m) => m.migrateTo(name), progress);
}

/** Reverts the latest applied migration; returns the names reverted. */
export function migrateDown(handle: DatabaseHandle, progress?: MigrationProgress): Promise<string[]> {
  return locked(handle, (m) => m.migrateDown(), progress);
}

/** Reverts every migration; returns the names reverted, latest first. */
export function migrateToZero(handle: DatabaseHandle): Promise<string[]> {
  return locked(handle, (m) => m.migrateTo(NO_MIGRATIONS));
}

/** The names of the applied migrations, in order. */
export async function appliedMigrations(handle: DatabaseHandle): Promise<string[]> {
  return (await migrationStatus(handle)).applied.map((m) => m.name);
}

export interface MigrationStatus {
  /** Applied migrations, by name, with when they were applied. */
  applied: { name: string; appliedAt: string; known: boolean }[];
  /** Migrations of this version's code that the database lacks. */
  pending: string[];
  /** Applied migrations this version does not know: a newer version applied them. */
  unknown: string[];
}

/** The schema against the code: behind (pending migrations) wins over ahead (unknown ones). */
export type SchemaState = 'ok' | 'ahead' | 'behind';

export function schemaState(status: MigrationStatus): SchemaState {
  if (status.pending.length > 0) return 'behind';
  return status.unknown.length > 0 ? 'ahead' : 'ok';
}

/** Kysely's bookkeeping table, qualified by the handle's schema on PostgreSQL. */
async function migrationTable(conn: Kysely<Database>, handle: DatabaseHandle) {
  if (handle.dialect === 'sqlite') {
    const { rows } =
      await sql`select 1 from sqlite_master where type = 'table' and name = 'kysely_migration'`.execute(conn);
    return rows.length > 0 ? sql.table('kysely_migration') : null;
  }
  const schema = await currentSchema(conn, handle);
  const { rows } = await sql`select 1 from information_schema.tables
    where table_schema = ${schema} and table_name = 'kysely_migration'`.execute(conn);
  return rows.length > 0 ? sql.id(schema, 'kysely_migration') : null;
}

async function readStatus(conn: Kysely<Database>, handle: DatabaseHandle): Promise<MigrationStatus> {
  const table = await migrationTable(conn, handle);
  const rows = table
    ? (await sql<{ name: string; timestamp: string }>`select name, timestamp from ${table}`.execute(conn))
        .rows
    : [];
  const known = new Set(Object.keys(migrations));
  const appliedNames = new Set(rows.map((r) => r.name));
  const applied = rows
    .map((r) => ({ name: r.name, appliedAt: r.timestamp, known: known.has(r.name) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    applied,
    pending: [...known].filter((name) => !appliedNames.has(name)).sort(),
    unknown: applied.filter((m) => !m.known).map((m) => m.name),
  };
}

/** What is applied, pending and unknown; one small read (readiness calls it on every probe). */
export async function migrationStatus(handle: DatabaseHandle): Promise<MigrationStatus> {
  try {
    return await handle.db.connection().execute((conn) => readStatus(conn, handle));
  } catch (error) {
    if (error instanceof MigrationError) throw error;
    throw new MigrationError(`cannot read the migrations: ${summarize(error)}`, { cause: error });
  }
}
