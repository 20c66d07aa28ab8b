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

function migratorFor(db: Kysely<Database>, schema: string | null): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    // Without an explicit schema, Kysely looks for its tables in every schema of the database.
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
}

function orThrow(result: MigrationResultSet): string[] {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new MigrationError(`migration ${failed} failed: ${String(result.error)}`, { cause: result.error });
  }
  return (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Runs `step` with the database locked against other migrating processes. PostgreSQL: Kysely's
 * migrator takes an advisory lock and runs in a transaction. SQLite: Kysely takes no lock, so the
 * whole run happens inside BEGIN EXCLUSIVE on the single connection (SQLite DDL is transactional).
 */
async function locked(handle: DatabaseHandle, step: (m: Migrator) => Promise<MigrationResultSet>) {
  if (handle.dialect === 'postgres') return orThrow(await step(migratorFor(handle.db, handle.schema)));
  return handle.db.connection().execute(async (conn) => {
    await sql`begin exclusive`.execute(conn);
    try {
      const applied = orThrow(await step(migratorFor(conn, null)));
      await sql`commit`.execute(conn);
      return applied;
    } catch (error) {
      await sql`rollback`.execute(conn);
      throw error;
    }
  });
}

/** Applies every pending migration; returns the names applied. Throws MigrationError on failure. */
export function migrateToLatest(handle: DatabaseHandle): Promise<string[]> {
  return locked(handle, (m) => m.migrateToLatest());
}

/** Reverts the latest applied migration; returns the names reverted. */
export function migrateDown(handle: DatabaseHandle): Promise<string[]> {
  return locked(handle, (m) => m.migrateDown());
}

/** Reverts every migration. */
export function migrateToZero(handle: DatabaseHandle): Promise<string[]> {
  return locked(handle, (m) => m.migrateTo(NO_MIGRATIONS));
}

export async function appliedMigrations(handle: DatabaseHandle): Promise<string[]> {
  const all = await migratorFor(handle.db, handle.schema).getMigrations();
  return all.filter((m) => m.executedAt !== undefined).map((m) => m.name);
}
