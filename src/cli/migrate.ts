import { ConfigError, loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { appliedMigrations, migrateDown, migrateToLatest } from '../db/migrator.js';
import { readEnvironment } from '../lib/environment.js';

/** `npm run migrate` (to latest), `npm run migrate -- down` (one step back), `-- status`. */
async function main(): Promise<number> {
  const command = process.argv[2] ?? 'latest';
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(readEnvironment());
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const database = openDatabase(config.database, { busyTimeoutMs: 60_000 });
  try {
    if (command === 'latest') {
      const applied = await migrateToLatest(database);
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'already up to date\n');
    } else if (command === 'down') {
      const reverted = await migrateDown(database);
      process.stdout.write(reverted.length ? `reverted: ${reverted.join(', ')}\n` : 'nothing to revert\n');
    } else if (command === 'status') {
      process.stdout.write(`applied: ${(await appliedMigrations(database)).join(', ') || 'none'}\n`);
    } else {
      process.stderr.write(`unknown command "${command}": use latest, down or status\n`);
      return 2;
    }
    return 0;
  } catch (error) {
    process.stderr.write(`migration failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await database.close();
  }
}

main().then((code) => {
  process.exitCode = code;
});
