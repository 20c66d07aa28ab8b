import { type Kysely, Migrator, NO_MIGRATIONS, type NoMigrations, sql, type TableMetadata } from 'kysely';
import { type DatabaseHandle, openDatabase } from './database.js';
import { migrations } from './migrations/index.js';
import { MigrationError, migrationStatus } from './migrator.js';
import type { Database } from './schema.js';

/** What `migrate down` (or `--to` an earlier version) would remove, for an operator to read before saying yes. */
export interface DownPlan {
  /** The migrations that would be reverted, latest first. */
  migrations: string[];
  /** Tables it drops, with their rows in the real database. */
  tables: { name: string; rows: number }[];
  /** Columns it drops from tables that stay, as `table.column`. */
  columns: string[];
}

type Shape = Map<string, Set<string>>;

async function shapeOf(db: Kysely<Database>): Promise<Shape> {
  const tables: TableMetadata[] = await db.introspection.getTables();
  return new Map(tables.map((t) => [t.name, new Set(t.columns.map((c) => c.name))]));
}

/**
 * The tables and columns that reverting removes: the latest applied migration's `down`, or every
 * `down` back to `target` (which stays applied; NO_MIGRATIONS: all of them). Found by replaying
 * the migrations on a scratch in-memory SQLite database (migrations run on both dialects): the
 * real database is only counted, never locked or changed. Null when nothing would be reverted.
 */
export async function planMigrateDown(
  handle: DatabaseHandle,
  target?: string | NoMigrations,
): Promise<DownPlan | null> {
  const status = await migrationStatus(handle);
  if (status.unknown.length > 0) {
    throw new MigrationError(
      `cannot revert: the database has migrations this version does not know (${status.unknown.join(', ')}); revert them with the version that applied them`,
    );
  }
  const applied = status.applied.map((m) => m.name);
  const latest = applied.at(-1);
  if (latest === undefined) return null;
  const keep =
    target === undefined ? applied.length - 1 : typeof target === 'string' ? applied.indexOf(target) + 1 : 0;
  // A target that is not applied (later, or unknown) leaves nothing to revert.
  if (typeof target === 'string' && keep === 0) return null;
  const reverted = applied.slice(keep).reverse();
  if (reverted.length === 0) return null;

  const scratch = openDatabase({ kind: 'sqlite', filename: ':memory:' });
  let before: Shape;
  let after: Shape;
  try {
    const migrator = new Migrator({ db: scratch.db, provider: { getMigrations: async () => migrations } });
    const up = await migrator.migrateTo(latest);
    if (up.error) throw up.error;
    before = await shapeOf(scratch.db);
    const down = await migrator.migrateTo(keep === 0 ? NO_MIGRATIONS : (applied[keep - 1] ?? NO_MIGRATIONS));
    if (down.error) throw down.error;
    after = await shapeOf(scratch.db);
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new MigrationError(`cannot work out what reverting ${latest} removes: ${text}`, { cause: error });
  } finally {
    await scratch.close();
  }

  const dropped = [...before.keys()].filter((name) => !after.has(name));
  const tables = [];
  for (const name of dropped) tables.push({ name, rows: await countRows(handle, name) });
  const columns = [...before]
    .filter(([name]) => after.has(name))
    .flatMap(([name, cols]) => [...cols].filter((c) => !after.get(name)?.has(c)).map((c) => `${name}.${c}`));
  return { migrations: reverted, tables, columns };
}

async function countRows(handle: DatabaseHandle, table: string): Promise<number> {
  // The handle's search_path (or SQLite's main database) names the same tables the migrations made.
  const { rows } = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(
    handle.db,
  );
  return Number(rows[0]?.n ?? 0);
}

/** The plan in lines an operator reads. */
export function describePlan(plan: DownPlan): string[] {
  const removed = [
    ...plan.tables.map((t) => `  table ${t.name} (${t.rows} ${t.rows === 1 ? 'row' : 'rows'})`),
    ...plan.columns.map((c) => `  column ${c}`),
  ];
  const what = plan.migrations.join(', ');
  if (removed.length === 0) return [`reverting ${what} removes no table or column`];
  return [`reverting ${what} removes:`, ...removed];
}
