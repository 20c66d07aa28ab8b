import { NO_MIGRATIONS, type NoMigrations } from 'kysely';
import { ConfigError } from '../../config.js';
import { type DatabaseHandle, openDatabase } from '../../db/database.js';
import { describePlan, planMigrateDown } from '../../db/down-plan.js';
import { migrations } from '../../db/migrations/index.js';
import {
  MigrationError,
  type MigrationProgress,
  migrateDown,
  migrateTo,
  migrateToLatest,
  migrationStatus,
  schemaState,
} from '../../db/migrator.js';
import type { Command } from '../command.js';
import { cliConfig } from '../context.js';
import { CliError, type CliIo } from '../io.js';

/** Operators read one line on stderr, never a stack trace. */
function oneLine(error: unknown): string {
  if (error instanceof ConfigError || error instanceof MigrationError || error instanceof CliError)
    return error.message;
  const text = error instanceof Error ? error.message || error.name : String(error);
  return `migrate: ${text.replace(/\s*\n\s*/g, ' ')}`;
}

const COMMANDS = ['latest', 'down', 'status'];
const USAGE = 'usage: npm run migrate [-- latest | down [--yes] | status | --to <version> [--yes]]';
const NAMES = Object.keys(migrations).sort();
/** `--to 0`: before the first migration (every one reverted). */
const BEFORE_FIRST = '0';

/** A migration by its full name (0003-create-tasks) or its number (0003); null when there is none. */
function targetOf(version: string): string | NoMigrations | null {
  if (version === BEFORE_FIRST || version === '0000') return NO_MIGRATIONS;
  return NAMES.find((name) => name === version || name.startsWith(`${version}-`)) ?? null;
}

async function status(io: CliIo, database: DatabaseHandle): Promise<void> {
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
  io.stdout(`${[...lines, summary].join('\n')}\n`);
}

/** Reverting drops tables: say which, with their rows, and act only when told --yes. */
async function down(
  io: CliIo,
  database: DatabaseHandle,
  confirmed: boolean,
  progress?: MigrationProgress,
): Promise<number> {
  const plan = await planMigrateDown(database);
  if (!plan) {
    io.stdout('nothing to revert\n');
    return 0;
  }
  io.stdout(`${describePlan(plan).join('\n')}\n`);
  if (!confirmed) {
    io.stderr(
      'refusing to revert without --yes: what is listed above is lost. Stop the service first, then run npm run migrate -- down --yes\n',
    );
    return 1;
  }
  const reverted = await migrateDown(database, progress);
  io.stdout(reverted.length ? `reverted: ${reverted.join(', ')}\n` : 'nothing to revert\n');
  return 0;
}

/**
 * `--to <version>`: up to it (applying what lies between), or down to it (reverting what came
 * after it, said first, only with --yes, as `down`). The version stays applied; `0` reverts all.
 */
async function to(
  io: CliIo,
  database: DatabaseHandle,
  target: string | NoMigrations,
  confirmed: boolean,
  progress?: MigrationProgress,
): Promise<number> {
  const { applied } = await migrationStatus(database);
  const names = applied.map((m) => m.name);
  const label = target === NO_MIGRATIONS ? 'before the first migration' : target;
  const goesDown = typeof target === 'string' ? names.some((name) => name > target) : names.length > 0;
  if (!goesDown) {
    const ran = target === NO_MIGRATIONS ? [] : await migrateTo(database, target, progress);
    io.stdout(ran.length ? `applied: ${ran.join(', ')}\n` : `already at ${label}\n`);
    return 0;
  }
  const plan = await planMigrateDown(database, target);
  if (plan) io.stdout(`${describePlan(plan).join('\n')}\n`);
  if (!confirmed) {
    const version = target === NO_MIGRATIONS ? BEFORE_FIRST : target;
    io.stderr(
      `refusing to revert without --yes: what is listed above is lost. Stop the service first, then run npm run migrate -- --to ${version} --yes\n`,
    );
    return 1;
  }
  const reverted = await migrateTo(database, target, progress);
  io.stdout(`reverted: ${reverted.join(', ')} (now at ${label})\n`);
  return 0;
}

async function run(
  io: CliIo,
  command: string,
  confirmed: boolean,
  database: DatabaseHandle,
  progress?: MigrationProgress,
): Promise<number> {
  if (command === 'latest') {
    const applied = await migrateToLatest(database, progress);
    io.stdout(applied.length ? `applied: ${applied.join(', ')}\n` : 'already up to date\n');
    return 0;
  }
  if (command === 'down') return down(io, database, confirmed, progress);
  await status(io, database);
  return 0;
}

interface Invocation {
  command: string;
  /** `--to`'s version, as given. */
  version: string | null;
  confirmed: boolean;
}

/** The arguments, or the line that says what is wrong with them. */
function parse(args: string[]): Invocation | string {
  const words: string[] = [];
  let version: string | null = null;
  let confirmed = false;
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] ?? '';
    if (arg === '--yes') confirmed = true;
    else if (arg === '--to' || arg.startsWith('--to=')) {
      const value = arg === '--to' ? args[++i] : arg.slice('--to='.length);
      if (!value || value.startsWith('-')) return '"--to" needs a version';
      if (version !== null) return 'unexpected second "--to"';
      version = value;
    } else if (arg.startsWith('-')) return `unexpected "${arg}"`;
    else words.push(arg);
  }
  const [command = 'latest', ...extra] = words;
  if (!COMMANDS.includes(command)) return `unknown command "${command}"`;
  if (extra[0] !== undefined) return `unexpected "${extra[0]}"`;
  if (version !== null && words.length > 0) return `unexpected "${command}" with --to`;
  if (confirmed && version === null && command !== 'down') return 'unexpected "--yes"';
  return { command, version, confirmed };
}

/**
 * `npm run migrate` (to latest), `npm run migrate -- down --yes` (one step back, after saying
 * what it removes), `-- status` (applied and pending migrations), `-- --to <version>` (up or down
 * to that migration; down only with --yes). `npm run cli -- migrate …` is the same, with a line
 * per migration on stderr as it runs (`progress`).
 * PostgreSQL: the URL's standard `?options=-c%20search_path%3D<schema>` selects the schema.
 */
export async function migrate(args: string[], io: CliIo, progress?: MigrationProgress): Promise<number> {
  const invocation = parse(args);
  if (typeof invocation === 'string') {
    io.stderr(`${invocation}: ${USAGE}\n`);
    return 2;
  }
  const { command, version, confirmed } = invocation;
  const target = version === null ? null : targetOf(version);
  if (version !== null && target === null) {
    io.stderr(
      `unknown version "${version}": a migration of this version (${NAMES[0]} … ${NAMES.at(-1)}, or its number such as ${NAMES.at(-1)?.slice(0, 4)}), or ${BEFORE_FIRST} for before the first\n`,
    );
    return 2;
  }
  let database: DatabaseHandle | undefined;
  try {
    const config = cliConfig(io);
    // A migration may run long and a second process may wait for the first: be patient.
    database = openDatabase(config.database, { busyTimeoutMs: 60_000, poolSize: 2 });
    return target === null
      ? await run(io, command, confirmed, database, progress)
      : await to(io, database, target, confirmed, progress);
  } catch (error) {
    io.stderr(`${oneLine(error)}\n`);
    return 1;
  } finally {
    await database?.close().catch(() => {});
  }
}

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'apply, revert or list database migrations',
  usage: 'migrate [latest | status | down [--yes] | --to <version|0> [--yes]]',
  help: [
    '  latest            apply every pending migration (the default)',
    '  status            list applied and pending migrations, and whether the schema is up to date',
    '  down --yes        revert the latest migration (says what it drops; refuses without --yes)',
    '  --to <version>    up or down to that migration (0003 or 0003-create-tasks); 0: revert all',
    'One line per migration on stderr as it runs. Same as npm run migrate (which prints no progress).',
  ],
  args: [],
  options: {},
  ownParser: true,
  run: (_parsed, io, raw) => migrate(raw, io, (line) => io.stderr(`migrate: ${line}\n`)),
};
