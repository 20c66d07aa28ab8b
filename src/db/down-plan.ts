import { type Kysely, Migrator, sql, type TableMetadata } from 'kysely';
import { type DatabaseHandle, openDatabase } from './database.js';
import { migrations } from './migrations/index.js';
import { MigrationError, migrationStatus } from './migrator.js';
import type { Database } from './schema.js';

/** What `migrate down` would remove, for an operator to read before saying yes. */
export interface DownPlan {
  /** The migration that would be reverted (the latest applied). */
  migration: string;
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
 * The tables and columns the latest applied migration's `down` removes, found by replaying the
 * migrations on a scratch in-memory SQLite database (migrations run on both dialects): the real
 * database is only counted, never locked or changed. Null when nothing is applied.
 */
export async function planMigrateDown(handle: DatabaseHandle): Promise<DownPlan | null> {
  const status = await migrationStatus(handle);
  if (status.unknown.length > 0) {
    throw new MigrationError(
      `cannot revert: the database has migrations this version does not know (${status.unknown.join(', ')}); revert them with the version that applied them`,
    );
  }
  const latest = status.applied.at(-1)?.name;
  if (latest === undefined) return null;

  const scratch = openDatabase({ kind: 'sqlite', filename: ':memory:' });
  let before: Shape;
  let after: Shape;
  try {
    const migrator = new Migrator({ db: scratch.db, provider: { getMigrations: async () => migrations } });
    const up = await migrator.migrateTo(latest);
    if (up.error) throw up.error;
    before = await shapeOf(scratch.db);
    const down = await migrator.migrateDown();
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
  return { migration: latest, tables, columns };
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
  if (removed.length === 0) return [`reverting ${plan.migration} removes no table or column`];
  return [`reverting ${plan.migration} removes:`, ...removed];
}
