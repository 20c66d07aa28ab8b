import { ConfigError, loadConfig } from '../config.js';
import { type DatabaseHandle, openDatabase } from '../db/database.js';
import { describePlan, planMigrateDown } from '../db/down-plan.js';
import {
  MigrationError,
  migrateDown,
  migrateToLatest,
  migrationStatus,
  schemaState,
} from '../db/migrator.js';
import { readEnvironment } from '../lib/environment.js';

/** Operators read one line on stderr, never a stack trace. */
function oneLine(error: unknown): string {
  if (error instanceof ConfigError || error instanceof MigrationError) return error.message;
  const text = error instanceof Error ? error.message || error.name : String(error);
  return `migrate: ${text.replace(/\s*\n\s*/g, ' ')}`;
}

const COMMANDS = ['latest', 'down', 'status'];
const USAGE = 'usage: npm run migrate [-- latest | down [--yes] | status]';

async function status(database: DatabaseHandle): Promise<void> {
  const { applied, pending, unknown } = await migrationStatus(database);
  const width = Math.max(0, ...[...applied.map((m) => m.name), ...pending].map((n) => n.length));
  const lines = [
    ...applied.map(
      (m) =>
        `${m.name.padEnd(width)}  applied ${m.appliedAt}${m.known ? '' : ' (not known to this version: a newer one applied it)'}`,
    ),
    ...pending.map((name) => `${name.padEnd(width)}  pending`),
  ];
  const state = schemaState({ applied, pending, unknown });
  const summary = {
    ok: 'schema: up to date',
    behind: `schema: behind, ${pending.length} pending (npm run migrate applies ${pending.length === 1 ? 'it' : 'them'})`,
    ahead: `schema: ahead of this version (${unknown.join(', ')})`,
  }[state];
  process.stdout.write(`${[...lines, summary].join('\n')}\n`);
}

/** Reverting drops tables: say which, with their rows, and act only when told --yes. */
async function down(database: DatabaseHandle, confirmed: boolean): Promise<number> {
  const plan = await planMigrateDown(database);
  if (!plan) {
    process.stdout.write('nothing to revert\n');
    return 0;
  }
  process.stdout.write(`${describePlan(plan).join('\n')}\n`);
  if (!confirmed) {
    process.stderr.write(
      'refusing to revert without --yes: what is listed above is lost. Stop the service first, then run npm run migrate -- down --yes\n',
    );
    return 1;
  }
  const reverted = await migrateDown(database);
  process.stdout.write(reverted.length ? `reverted: ${reverted.join(', ')}\n` : 'nothing to revert\n');
  return 0;
}

async function run(command: string, confirmed: boolean, database: DatabaseHandle): Promise<number> {
  if (command === 'latest') {
    const applied = await migrateToLatest(database);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'already up to date\n');
    return 0;
  }
  if (command === 'down') return down(database, confirmed);
  await status(database);
  return 0;
}

/**
 * `npm run migrate` (to latest), `npm run migrate -- down --yes` (one step back, after saying
 * what it removes), `-- status` (applied and pending migrations).
 * PostgreSQL: the URL's standard `?options=-c%20search_path%3D<schema>` selects the schema.
 */
async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const flags = args.filter((a) => a.startsWith('-'));
  const [command = 'latest', ...extra] = args.filter((a) => !a.startsWith('-'));
  const confirmed = flags.includes('--yes');
  const badFlag = flags.find((f) => f !== '--yes') ?? (confirmed && command !== 'down' ? '--yes' : undefined);
  if (!COMMANDS.includes(command) || extra.length > 0 || badFlag !== undefined) {
    const what = !COMMANDS.includes(command)
      ? `unknown command "${command}"`
      : `unexpected "${badFlag ?? extra[0]}"`;
    process.stderr.write(`${what}: ${USAGE}\n`);
    return 2;
  }
  let database: DatabaseHandle | undefined;
  try {
    const config = loadConfig(readEnvironment());
    // A migration may run long and a second process may wait for the first: be patient.
    database = openDatabase(config.database, { busyTimeoutMs: 60_000, poolSize: 2 });
    return await run(command, confirmed, database);
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
