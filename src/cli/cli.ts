import { ApiError } from '../errors.js';
import type { Command, Parsed } from './command.js';
import { migrateCommand } from './commands/migrate.js';
import { seedCommand } from './commands/seed-demo.js';
import {
  createAdminCommand,
  disableUserCommand,
  enableUserCommand,
  endSessionsCommand,
  listUsersCommand,
  resetPasswordCommand,
} from './commands/users.js';
import { CliError, type CliIo, UsageError } from './io.js';

export const COMMANDS: readonly Command[] = [
  createAdminCommand,
  resetPasswordCommand,
  listUsersCommand,
  disableUserCommand,
  enableUserCommand,
  endSessionsCommand,
  migrateCommand,
  seedCommand,
];

const PREFIX = 'npm run cli --';

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `usage: ${PREFIX} <command> [options]`,
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `${PREFIX} <command> --help says what a command takes. DATABASE_URL (and REDIS_URL, when the`,
    'service uses it) say where; the same .env as the service is read.',
    '',
  ].join('\n');
}

function usageOf(command: Command): string {
  return [`usage: ${PREFIX} ${command.usage}`, '', command.summary, ...command.help, ''].join('\n');
}

/** The words after the command name, by the command's table of options. */
function parse(command: Command, words: string[]): Parsed {
  const args: string[] = [];
  const options: Parsed['options'] = {};
  for (let i = 0; i < words.length; i += 1) {
    const word = words[i] ?? '';
    if (!word.startsWith('--') || word === '--') {
      if (word.startsWith('-') && word !== '-') throw new UsageError(`unknown option "${word}"`);
      args.push(word);
      continue;
    }
    const [name = '', inline] = word.includes('=')
      ? [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]
      : [word];
    const kind = command.options[name];
    if (!kind) throw new UsageError(`unknown option "${name}"`);
    if (name in options) throw new UsageError(`"${name}" given twice`);
    if (kind === 'flag') {
      if (inline !== undefined) throw new UsageError(`"${name}" takes no value`);
      options[name] = true;
    } else {
      const value = inline ?? words[++i];
      if (value === undefined || (inline === undefined && value.startsWith('--'))) {
        throw new UsageError(`"${name}" needs a value`);
      }
      options[name] = value;
    }
  }
  const most = command.args.length + (command.optional?.length ?? 0);
  if (args.length < command.args.length) {
    throw new UsageError(`missing <${command.args[args.length]}>`);
  }
  if (args.length > most) throw new UsageError(`unexpected "${args[most]}"`);
  return { args, options };
}

/**
 * `npm run cli -- <command> …`: 0 done, 1 failed (one line on stderr saying why), 2 not
 * understood (what is wrong, then the usage, on stderr).
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...words] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(overview());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.stderr(`cli: unknown command "${name}"\n${overview()}`);
    return 2;
  }
  if (words.includes('--help') || words.includes('-h')) {
    io.stdout(usageOf(command));
    return 0;
  }
  try {
    return await command.run(
      command.ownParser ? { args: [], options: {} } : parse(command, words),
      io,
      words,
    );
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`${command.name}: ${error.message}\n${usageOf(command)}`);
      return 2;
    }
    if (error instanceof CliError) io.stderr(`${error.message}\n`);
    else if (error instanceof ApiError) io.stderr(`${command.name}: ${error.detail}\n`);
    else {
      const text = error instanceof Error ? error.message || error.name : String(error);
      io.stderr(`${command.name} failed: ${text.replace(/\s*\n\s*/g, ' ')}\n`);
    }
    return 1;
  }
}
