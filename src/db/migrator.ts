import { type Kysely, type MigrationResultSet, Migrator, NO_MIGRATIONS, sql } from 'kysely';
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

function migratorFor(db: Kysely<Database>, schema: string | null): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
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
  step: (m: Migrator) => Promise<MigrationResultSet>,
): Promise<string[]> {
  try {
    if (handle.dialect === 'postgres') {
      return await handle.db.connection().execute(async (conn) => {
        await sql`set statement_timeout = 0`.execute(conn);
        try {
          return orThrow(await step(migratorFor(conn, await currentSchema(conn, handle))));
        } finally {
          // The connection goes back to the pool: give it the pool's timeout again.
          await sql`reset statement_timeout`.execute(conn).catch(() => {});
        }
      });
    }
    return await handle.db.connection().execute(async (conn) => {
      await sql`begin exclusive`.execute(conn);
      try {
        const applied = orThrow(await step(migratorFor(conn, null)));
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

/** Applies every pending migration; returns the names applied. Throws MigrationError on failure. */
export function migrateToLatest(handle: DatabaseHandle): Promise<string[]> {
  return locked(handle, (m) => m.migrateToLatest());
}

/** Reverts the latest applied migration; returns the names reverted. */
export function migrateDown(handle: DatabaseHandle): Promise<string[]> {
  return locked(handle, (m) => m.migrateDown());
}

/** Reverts every migration; returns the names reverted, latest first. */
export function migrateToZero(handle: DatabaseHandle): Promise<string[]> {
  return locked(handle, (m) => m.migrateTo(NO_MIGRATIONS));
}

/** The names of the applied migrations, in order. */
export async function appliedMigrations(handle: DatabaseHandle): Promise<string[]> {
  try {
    const all = await handle.db.connection().execute(async (conn) => {
      const schema = handle.dialect === 'postgres' ? await currentSchema(conn, handle) : null;
      return migratorFor(conn, schema).getMigrations();
    });
    return all.filter((m) => m.executedAt !== undefined).map((m) => m.name);
  } catch (error) {
    if (error instanceof MigrationError) throw error;
    throw new MigrationError(`cannot read the migrations: ${summarize(error)}`, { cause: error });
  }
}
