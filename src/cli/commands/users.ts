import { isEmail, normalizeEmail } from '../../lib/email.js';
import type { AppContext } from '../../lib/module.js';
import { ROLES, type Role } from '../../lib/principal.js';
import { describeAdminInstall, type User } from '../../modules/users/index.js';
import type { Command } from '../command.js';
import { withContext } from '../context.js';
import { CliError, type CliIo, UsageError } from '../io.js';
import { passwordFor } from '../password.js';

const CHANGES = { migrate: false, changes: true };

/** The account of `email` (normalised as the API does); a clear error when there is none. */
async function userOf(ctx: AppContext, email: string): Promise<User> {
  const found = await ctx.services.users.credentials(email);
  if (!found) throw new CliError(`no user has the email ${normalizeEmail(email)}`);
  return ctx.services.users.get(found.id);
}

function emailArg(value: string | undefined): string {
  if (!value || !isEmail(value)) throw new UsageError(`"${value ?? ''}" is not an email address`);
  return value;
}

/** Creates an admin, or takes an existing account over (shared with `npm run create-admin`). */
export async function createAdmin(io: CliIo, email: string, name: string, password: string): Promise<number> {
  return withContext(io, { command: 'create-admin', migrate: true, changes: true }, async (ctx) => {
    const { outcome, user } = await ctx.services.users.installAdmin(email, password, name);
    io.stdout(`${describeAdminInstall(outcome, user.email)}\n`);
    return 0;
  });
}

export const createAdminCommand: Command = {
  name: 'create-admin',
  summary: 'create an admin, or make an existing account an enabled admin',
  usage: 'create-admin <email> [--name <name>]',
  help: [
    'The password comes from ADMIN_PASSWORD, or is asked for on a terminal. An existing account',
    'becomes an enabled admin with that password; its sessions, API keys and webhooks end.',
    'Applies pending migrations first (it bootstraps a new database).',
    '  --name <name>   the display name of a new account (default: Administrator)',
  ],
  args: ['email'],
  options: { '--name': 'value' },
  async run({ args, options }, io) {
    const email = emailArg(args[0]);
    const name = typeof options['--name'] === 'string' ? options['--name'] : 'Administrator';
    return createAdmin(io, email, name, await passwordFor(io, 'ADMIN_PASSWORD', normalizeEmail(email)));
  },
};

export const resetPasswordCommand: Command = {
  name: 'reset-password',
  summary: "set a user's password; every session of the user ends",
  usage: 'reset-password <email>',
  help: [
    'The new password comes from NEW_PASSWORD, or is asked for on a terminal, and must pass the',
    "API's password rules. Every session ends and failed-login lock-outs clear, as a reset by",
    'mail does. A disabled account is refused: enable-user it first.',
  ],
  args: ['email'],
  options: {},
  async run({ args }, io) {
    const email = normalizeEmail(emailArg(args[0]));
    const password = await passwordFor(io, 'NEW_PASSWORD', email);
    return withContext(io, { command: 'reset-password', ...CHANGES }, async (ctx) => {
      const user = await userOf(ctx, email);
      if (user.disabled) throw new CliError(`${user.email} is disabled: enable-user it first`);
      // No mailed link to spend: the operator's word is the claim.
      if (!(await ctx.services.users.resetPassword(user.id, password, async () => true))) {
        throw new CliError(`${user.email} changed meanwhile: nothing was reset, try again`);
      }
      io.stdout(`reset the password of ${user.email}: its sessions ended\n`);
      return 0;
    });
  },
};

const LIST_LIMIT_MAX = 1000;

function cell(text: string, width: number): string {
  const chars = Array.from(text);
  return chars.length > width ? `${chars.slice(0, width - 1).join('')}…` : text.padEnd(width);
}

function table(users: User[]): string[] {
  const head = ['EMAIL', 'NAME', 'ROLE', 'STATUS', 'CREATED'];
  const rows = users.map((u) => [u.email, u.name, u.role, u.disabled ? 'disabled' : 'enabled', u.createdAt]);
  const widths = head.map((h, i) =>
    Math.min(40, Math.max(h.length, ...rows.map((r) => Array.from(r[i] ?? '').length))),
  );
  return [head, ...rows].map((r) =>
    r
      .map((text, i) => cell(text, widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

export const listUsersCommand: Command = {
  name: 'list-users',
  summary: 'list users, newest first',
  usage: 'list-users [--role admin|user|guest] [--disabled] [--limit <n>] [--json]',
  help: [
    '  --role <role>   only users of that role',
    '  --disabled      only disabled users',
    `  --limit <n>     at most n users (1–${LIST_LIMIT_MAX}, default 100)`,
    '  --json          a JSON array of users (as GET /api/v1/users shows them) instead of a table',
  ],
  args: [],
  options: { '--role': 'value', '--disabled': 'flag', '--limit': 'value', '--json': 'flag' },
  async run({ options }, io) {
    const role = options['--role'];
    if (role !== undefined && !ROLES.includes(role as Role)) {
      throw new UsageError(`--role takes ${ROLES.join(', ')}`);
    }
    const limitText = options['--limit'] ?? '100';
    const limit = typeof limitText === 'string' && /^\d{1,4}$/.test(limitText) ? Number(limitText) : 0;
    if (limit < 1 || limit > LIST_LIMIT_MAX) throw new UsageError(`--limit takes 1–${LIST_LIMIT_MAX}`);
    return withContext(io, { command: 'list-users', migrate: false, changes: false }, async (ctx) => {
      const page = await ctx.services.users.list(
        { ...(role ? { role: role as Role } : {}), ...(options['--disabled'] ? { disabled: true } : {}) },
        { page: 1, size: limit },
      );
      if (options['--json']) io.stdout(`${JSON.stringify(page.items, null, 2)}\n`);
      else {
        const lines = page.items.length ? table(page.items) : [];
        io.stdout(`${[...lines, `${page.items.length} of ${page.total} users`].join('\n')}\n`);
      }
      return 0;
    });
  },
};

function setDisabled(disabled: boolean): Command['run'] {
  return async ({ args }, io) => {
    const email = emailArg(args[0]);
    const command = disabled ? 'disable-user' : 'enable-user';
    return withContext(io, { command, ...CHANGES }, async (ctx) => {
      const user = await userOf(ctx, email);
      if (user.disabled === disabled) {
        io.stdout(`${user.email} is already ${disabled ? 'disabled' : 'enabled'}\n`);
        return 0;
      }
      await ctx.services.users.update(user.id, { disabled });
      io.stdout(
        disabled
          ? `disabled ${user.email}: its sessions ended; its tokens and API keys are refused until enable-user\n`
          : `enabled ${user.email}: it can log in again (its ended sessions stay ended)\n`,
      );
      return 0;
    });
  };
}

export const disableUserCommand: Command = {
  name: 'disable-user',
  summary: 'disable a user: its sessions end, its tokens and API keys are refused',
  usage: 'disable-user <email>',
  help: ['As PATCH /users/{id} with {"disabled": true}: the last enabled admin cannot be disabled.'],
  args: ['email'],
  options: {},
  run: setDisabled(true),
};

export const enableUserCommand: Command = {
  name: 'enable-user',
  summary: 'enable a disabled user',
  usage: 'enable-user <email>',
  help: ['Its API keys work again; the sessions that ended when it was disabled stay ended.'],
  args: ['email'],
  options: {},
  run: setDisabled(false),
};

export const endSessionsCommand: Command = {
  name: 'end-sessions',
  summary: 'end every session of a user (its tokens stop working at once)',
  usage: 'end-sessions <email>',
  help: ["As POST /auth/logout-all on the user's behalf; its API keys stay valid."],
  args: ['email'],
  options: {},
  async run({ args }, io) {
    const email = emailArg(args[0]);
    return withContext(io, { command: 'end-sessions', ...CHANGES }, async (ctx) => {
      const user = await userOf(ctx, email);
      const ended = await ctx.services.auth.logoutAll(user.id, 'admin_ended');
      io.stdout(`ended ${ended} session${ended === 1 ? '' : 's'} of ${user.email}\n`);
      return 0;
    });
  },
};
