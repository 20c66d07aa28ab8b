/**
 * npm run seed -- --users 1000 --projects 10000 --tasks 1000000 [--events 10000000] [--seed 1]
 *
 * Fills the database DATABASE_URL names (SQLite or PostgreSQL; migrations are applied first) with
 * realistic, skewed data for development and the scale benchmark (scripts/bench-scale.ts). Rows go
 * straight into the tables in batched multi-row inserts, one transaction per batch. Every seeded
 * user has the same password, SEED_PASSWORD below (hashed once: hashing per user would take the
 * whole run); user 0 is an admin, admin@seed.invalid; the others are user-<n>@seed.invalid.
 *
 * Ctrl-C stops at the next batch boundary (what is committed is whole batches); the same command
 * again continues. A second Ctrl-C leaves at once (the open batch is rolled back). The seed refuses
 * a database that holds users it did not make, or was seeded with other sizes.
 */
import { ConfigError, loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { readEnvironment } from '../src/lib/environment.js';
import { PasswordHasher } from '../src/lib/passwords.js';
import { SEED_PASSWORD } from './seed/model.js';
import { runSeed, SeedError, tuneForBulk } from './seed/run.js';

const USAGE =
  'usage: npm run seed -- --users N --projects N --tasks N [--events N] [--seed N]   (sizes ≥ 0; users ≥ 1)';
const FLAGS = ['users', 'projects', 'tasks', 'events', 'seed'] as const;
type Flag = (typeof FLAGS)[number];

function parse(args: string[]): Record<Flag, number> | string {
  const values: Record<Flag, number> = { users: 10, projects: 20, tasks: 1000, events: 0, seed: 1 };
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]?.replace(/^--/, '') as Flag;
    const raw = args[i + 1];
    if (!args[i]?.startsWith('--') || !FLAGS.includes(name)) return `unknown option "${args[i]}"`;
    if (raw === undefined || !/^\d+$/.test(raw.replaceAll('_', ''))) return `--${name} wants a whole number`;
    values[name] = Number(raw.replaceAll('_', ''));
  }
  if (values.users < 1) return '--users must be at least 1 (user 0 is the admin)';
  return values;
}

async function main(): Promise<number> {
  const sizes = parse(process.argv.slice(2));
  if (typeof sizes === 'string') {
    process.stderr.write(`${sizes}\n${USAGE}\n`);
    return 2;
  }
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
  // Long statements (a count over ten million events) are expected here.
  const handle = openDatabase(config.database, { poolSize: 2, statementTimeoutMs: 0, busyTimeoutMs: 60_000 });
  let stopping = false;
  const onSigint = () => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write('\nstopping after this batch (Ctrl-C again to leave at once)…\n');
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    await migrateToLatest(handle);
    await tuneForBulk(handle);
    const passwordHash = await new PasswordHasher().hash(SEED_PASSWORD);
    const result = await runSeed(handle, { ...sizes, passwordHash, stopRequested: () => stopping });
    if (!result.finished) {
      process.stderr.write(
        `interrupted during ${result.phase}: what is committed is consistent; run the same command again to continue\n`,
      );
      return 130;
    }
    process.stdout.write(
      `seeded: ${sizes.users} users, ${sizes.projects} shared projects, ${sizes.tasks} tasks, ${sizes.events} events; every user's password: "${SEED_PASSWORD}" (admin: admin@seed.invalid)\n`,
    );
    return 0;
  } catch (error) {
    const message =
      error instanceof SeedError ? error.message : error instanceof Error ? error.message : String(error);
    process.stderr.write(`seed: ${message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await handle.close().catch(() => {});
  }
}

main().then((code) => {
  process.exitCode = code;
});
