import { ConfigError, loadConfig } from '../config.js';
import { type DatabaseHandle, openDatabase } from '../db/database.js';
import { appliedMigrations, MigrationError, migrateDown, migrateToLatest } from '../db/migrator.js';
import { readEnvironment } from '../lib/environment.js';

/** Operators read one line on stderr, never a stack trace. */
function oneLine(error: unknown): string {
  if (error instanceof ConfigError || error instanceof MigrationError) return error.message;
  const text = error instanceof Error ? error.message || error.name : String(error);
  return `migrate: ${text.replace(/\s*\n\s*/g, ' ')}`;
}

const COMMANDS = ['latest', 'down', 'status'];

async function run(command: string, database: DatabaseHandle): Promise<number> {
  if (command === 'latest') {
    const applied = await migrateToLatest(database);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'already up to date\n');
  } else if (command === 'down') {
    const reverted = await migrateDown(database);
    process.stdout.write(reverted.length ? `reverted: ${reverted.join(', ')}\n` : 'nothing to revert\n');
  } else {
    process.stdout.write(`applied: ${(await appliedMigrations(database)).join(', ') || 'none'}\n`);
  }
  return 0;
}

/**
 * `npm run migrate` (to latest), `npm run migrate -- down` (one step back), `-- status`.
 * PostgreSQL: the URL's standard `?options=-c%20search_path%3D<schema>` selects the schema.
 */
async function main(): Promise<number> {
  const command = process.argv[2] ?? 'latest';
  if (!COMMANDS.includes(command)) {
    process.stderr.write(`unknown command "${command}": use ${COMMANDS.join(', ')}\n`);
    return 2;
  }
  let database: DatabaseHandle | undefined;
  try {
    const config = loadConfig(readEnvironment());
    // A migration may run long and a second process may wait for the first: be patient.
    database = openDatabase(config.database, { busyTimeoutMs: 60_000, poolSize: 2 });
    return await run(command, database);
  } catch (error) {
    process.stderr.write(`${oneLine(error)}\n`);
    return 1;
  } finally {
    await database?.close().catch(() => {});
  }
}

main().then((code) => {
  process.exitCode = code;
});
