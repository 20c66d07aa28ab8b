import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, runCli } from '../../src/cli/cli.js';
import { DEMO_USERS } from '../../src/cli/commands/seed-demo.js';
import type { CliIo } from '../../src/cli/io.js';
import { migrations } from '../../src/db/migrations/index.js';
import { buildTestApp, type TestApp, testEnv } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createUser, login, PASSWORD, uniqueEmail } from '../helpers/factories.js';

/** `npm run cli` in-process on one database (a temp SQLite file, or a PostgreSQL schema), beside an app. */

const dir = mkdtempSync(join(tmpdir(), 'taskforge-cli-all-'));
let database: TestDatabase;
let t: TestApp;

beforeAll(async () => {
  database = await createTestDatabase({ sqliteFile: join(dir, 'cli.sqlite') });
  t = await buildTestApp({ database });
});
afterAll(async () => {
  await t?.close();
  await database?.drop();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the tool; `answers` are what a terminal user types at each prompt (none: no terminal). */
async function cli(args: string[], env: Record<string, string> = {}, answers?: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const asked = answers ? [...answers] : null;
  const io: CliIo = {
    env: testEnv({ DATABASE_URL: database.url ?? '', ...env }),
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    prompt: asked ? async () => asked.shift() ?? '' : null,
    hashCost: { memoryCost: 1024, timeCost: 1 },
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

async function loginStatus(email: string, password: string): Promise<number> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });
  return res.statusCode;
}

async function liveSessions(userId: string): Promise<number> {
  const { rows } = await sql<{ n: unknown }>`
    select count(*) as n from sessions where user_id = ${userId} and ended_at is null`.execute(
    database.handle.db,
  );
  return Number(rows[0]?.n);
}

describe('npm run cli: help and usage', () => {
  it("lists the commands, prints each one's usage, and refuses what it does not understand with exit 2", async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const command of COMMANDS) expect(help.stdout).toContain(`  ${command.name}  `.replace(/ {2}$/, ''));
    for (const command of COMMANDS) {
      const usage = await cli([command.name, '--help']);
      expect(usage, command.name).toMatchObject({ code: 0, stderr: '' });
      expect(usage.stdout).toMatch(new RegExp(`^usage: npm run cli -- ${command.name}`));
    }
    const refusals: [string[], RegExp][] = [
      [[], /^usage: npm run cli -- <command>/],
      [['frobnicate'], /^cli: unknown command "frobnicate"\nusage:/],
      [['list-users', '--bogus'], /^list-users: unknown option "--bogus"\nusage: npm run cli -- list-users/],
      [['list-users', '--limit', '0'], /^list-users: --limit takes 1–1000\n/],
      [['list-users', '--role', 'root'], /^list-users: --role takes admin, user, guest\n/],
      [['list-users', '--json=yes'], /^list-users: "--json" takes no value\n/],
      [['end-sessions'], /^end-sessions: missing <email>\n/],
      [['end-sessions', 'a@example.com', 'b@example.com'], /^end-sessions: unexpected "b@example.com"\n/],
      [['disable-user', 'not-an-email'], /^disable-user: "not-an-email" is not an email address\n/],
      [['create-admin', 'root@example.com', '--name'], /^create-admin: "--name" needs a value\n/],
      [['seed'], /^seed: seed needs --demo\n/],
      [['migrate', 'sideways'], /^unknown command "sideways": usage: npm run migrate/],
    ];
    for (const [args, message] of refusals) {
      const run = await cli(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(message);
    }
  });

  it('runs as a process: npm run cli -- <unknown> exits 2 with the usage on stderr', () => {
    const child = spawnSync(
      join(process.cwd(), 'node_modules/.bin/tsx'),
      [join(process.cwd(), 'src/cli/index.ts'), 'nope'],
      {
        cwd: dir,
        env: { ...process.env, DATABASE_URL: `sqlite:${join(dir, 'unused.sqlite')}` },
        encoding: 'utf8',
      },
    );
    expect(child.status).toBe(2);
    expect(child.stdout).toBe('');
    expect(child.stderr).toMatch(/^cli: unknown command "nope"\nusage: npm run cli -- <command> \[options\]/);
  });
});

describe('npm run cli: accounts', () => {
  it('create-admin: from ADMIN_PASSWORD or a terminal prompt, by the password rules', async () => {
    const email = uniqueEmail('root');
    const weak = await cli(['create-admin', email], { ADMIN_PASSWORD: 'password1234' });
    expect(weak).toMatchObject({ code: 1, stdout: '' });
    expect(weak.stderr).toMatch(/^ADMIN_PASSWORD /);
    const made = await cli(['create-admin', email.toUpperCase(), '--name', 'Root'], {
      ADMIN_PASSWORD: 'a strong admin passphrase',
    });
    expect(made).toEqual({ code: 0, stdout: `created admin ${email}\n`, stderr: '' });
    expect(await loginStatus(email, 'a strong admin passphrase')).toBe(200);
    // No variable and no terminal: nothing to take the password from.
    const none = await cli(['create-admin', email]);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(
      'no password: set ADMIN_PASSWORD, or run the command in a terminal to be asked\n',
    );
    const differ = await cli(['create-admin', email], {}, [
      'an admin passphrase typed',
      'a different one typed',
    ]);
    expect(differ).toMatchObject({ code: 1, stderr: 'the passwords differ\n' });
    const asked = await cli(['create-admin', email], {}, [
      'the typed admin passphrase',
      'the typed admin passphrase',
    ]);
    expect(asked.stdout).toBe(
      `${email} is already an admin: password updated, its sessions and API keys ended\n`,
    );
    expect(await loginStatus(email, 'the typed admin passphrase')).toBe(200);
    expect(await loginStatus(email, 'a strong admin passphrase')).toBe(401);
  });

  it('reset-password: the new password works, the old one does not, every session ended', async () => {
    const user = await createUser(t.app);
    await login(t.app, user.email);
    await login(t.app, user.email);
    expect(await liveSessions(user.id)).toBe(2);
    const weak = await cli(['reset-password', user.email], { NEW_PASSWORD: 'short' });
    expect(weak).toMatchObject({ code: 1, stderr: 'NEW_PASSWORD must have 12–128 characters\n' });
    const reset = await cli(['reset-password', user.email.toUpperCase()], {
      NEW_PASSWORD: 'a brand new passphrase',
    });
    expect(reset).toEqual({
      code: 0,
      stdout: `reset the password of ${user.email}: its sessions ended\n`,
      stderr: '',
    });
    expect(await liveSessions(user.id)).toBe(0);
    expect(await loginStatus(user.email, PASSWORD)).toBe(401);
    expect(await loginStatus(user.email, 'a brand new passphrase')).toBe(200);
    const unknown = await cli(['reset-password', 'nobody@example.com'], {
      NEW_PASSWORD: 'a brand new passphrase',
    });
    expect(unknown).toMatchObject({ code: 1, stderr: 'no user has the email nobody@example.com\n' });
  });

  it('disable-user ends sessions and refuses logins; enable-user lets it back; the last admin stays', async () => {
    const user = await createUser(t.app);
    await login(t.app, user.email);
    const disabled = await cli(['disable-user', user.email]);
    expect(disabled.code).toBe(0);
    expect(disabled.stdout).toMatch(new RegExp(`^disabled ${user.email}: its sessions ended`));
    expect(await liveSessions(user.id)).toBe(0);
    // The right password of a disabled account: 403 account_disabled, as the API answers it.
    expect(await loginStatus(user.email, PASSWORD)).toBe(403);
    expect((await cli(['disable-user', user.email])).stdout).toBe(`${user.email} is already disabled\n`);
    const refused = await cli(['reset-password', user.email], { NEW_PASSWORD: 'a brand new passphrase' });
    expect(refused).toMatchObject({ code: 1, stderr: `${user.email} is disabled: enable-user it first\n` });
    expect((await cli(['enable-user', user.email])).code).toBe(0);
    expect(await loginStatus(user.email, PASSWORD)).toBe(200);

    // Disable every enabled admin but one: the last one is refused as the API refuses it.
    const admins = JSON.parse((await cli(['list-users', '--role', 'admin', '--json'])).stdout) as {
      email: string;
      disabled: boolean;
    }[];
    const enabled = admins.filter((a) => !a.disabled);
    for (const admin of enabled.slice(1)) expect((await cli(['disable-user', admin.email])).code).toBe(0);
    const last = await cli(['disable-user', enabled[0]?.email ?? '']);
    expect(last).toMatchObject({
      code: 1,
      stderr: 'disable-user: This change would leave no enabled admin\n',
    });
    for (const admin of enabled.slice(1)) expect((await cli(['enable-user', admin.email])).code).toBe(0);
  });

  it('end-sessions ends every live session of the user and says how many', async () => {
    const user = await createUser(t.app);
    const other = await createUser(t.app);
    await login(t.app, user.email);
    await login(t.app, user.email);
    await login(t.app, other.email);
    const ended = await cli(['end-sessions', user.email]);
    expect(ended).toEqual({ code: 0, stdout: `ended 2 sessions of ${user.email}\n`, stderr: '' });
    expect(await liveSessions(user.id)).toBe(0);
    expect(await liveSessions(other.id)).toBe(1);
    expect((await cli(['end-sessions', user.email])).stdout).toBe(`ended 0 sessions of ${user.email}\n`);
  });

  it('list-users: a table newest first, filters, a limit and JSON', async () => {
    const newest = await createUser(t.app, { name: 'Newest Of All' });
    const table = await cli(['list-users']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^EMAIL +NAME +ROLE +STATUS +CREATED$/);
    expect(lines[1]).toMatch(new RegExp(`^${newest.email} +Newest Of All +user +enabled +\\d{4}-`));
    const total = Number(/ of (\d+) users$/.exec(lines.at(-1) ?? '')?.[1]);
    expect(lines.at(-1)).toBe(`${total} of ${total} users`);
    expect((await cli(['list-users', '--limit', '1'])).stdout).toMatch(
      new RegExp(`\n1 of ${total} users\n$`),
    );
    const guest = await createUser(t.app, { role: 'guest' });
    await createUser(t.app, { role: 'guest' });
    expect((await cli(['disable-user', guest.email])).code).toBe(0);
    const disabledGuests = JSON.parse(
      (await cli(['list-users', '--role', 'guest', '--disabled', '--json'])).stdout,
    );
    expect(disabledGuests).toEqual([
      expect.objectContaining({ id: guest.id, email: guest.email, role: 'guest', disabled: true }),
    ]);
  });
});

describe('npm run cli: migrate and seed', () => {
  it('migrate status, --to with --yes, then latest, a line per migration on stderr', async () => {
    const names = Object.keys(migrations).sort();
    const last = names.at(-1) ?? '';
    const previous = names.at(-2) ?? '';
    const status = await cli(['migrate', 'status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^${last} +applied .*\nschema: up to date\n$`, 'm'));
    const refused = await cli(['migrate', '--to', previous]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^refusing to revert without --yes/);
    const down = await cli(['migrate', '--to', previous, '--yes']);
    expect(down).toMatchObject({ code: 0, stderr: `migrate: reverting ${last}\n` });
    expect((await cli(['migrate', 'status'])).stdout).toMatch(new RegExp(`^${last} +pending\n`, 'm'));
    // The account commands refuse a schema that is behind rather than run on it.
    const behind = await cli(['list-users']);
    expect(behind).toMatchObject({
      code: 1,
      stderr: 'list-users: the database schema is behind: run npm run cli -- migrate first\n',
    });
    const up = await cli(['migrate']);
    expect(up).toEqual({ code: 0, stdout: `applied: ${last}\n`, stderr: `migrate: applying ${last}\n` });
  });

  it('seed --demo: accounts to log in as, shared projects, varied tasks, comments; refused a second time', async () => {
    const seeded = await cli(['seed', '--demo']);
    expect(seeded.code).toBe(0);
    expect(seeded.stderr.trimEnd().split('\n')).toEqual([
      'seed: [1/4] 3 users',
      'seed: [2/4] 2 projects with their members',
      'seed: [3/4] 11 tasks',
      'seed: [4/4] 4 comments',
    ]);
    for (const demo of DEMO_USERS) {
      expect(seeded.stdout).toMatch(new RegExp(`^ +${demo.email} +${demo.password} +${demo.role}$`, 'm'));
      expect(await loginStatus(demo.email, demo.password), demo.email).toBe(200);
    }
    const ada = DEMO_USERS.find((u) => u.key === 'ada');
    const tokens = await login(t.app, ada?.email ?? '', ada?.password);
    const get = async (url: string) => {
      const res = await t.app.inject({ url, headers: { authorization: `Bearer ${tokens.accessToken}` } });
      expect(res.statusCode, url).toBe(200);
      return res.json() as { items: Record<string, unknown>[] };
    };
    const projects = await get('/api/v1/projects?size=100');
    expect(projects.items.map((p) => p.name).sort()).toEqual(['Inbox', 'Office move', 'Website relaunch']);
    const tasks = (await get('/api/v1/tasks?size=100')).items;
    expect(new Set(tasks.map((task) => task.status))).toEqual(new Set(['todo', 'in_progress', 'done']));
    expect(new Set(tasks.map((task) => task.priority))).toEqual(new Set(['low', 'medium', 'high']));
    const now = Date.now();
    expect(tasks.some((task) => task.status !== 'done' && Date.parse(String(task.dueAt)) < now)).toBe(true);
    expect(tasks.some((task) => task.parentId !== null)).toBe(true);
    expect(tasks.some((task) => task.assigneeId !== null && (task.tags as string[]).length > 0)).toBe(true);
    const drafted = tasks.find((task) => task.title === 'Draft the landing page copy');
    expect((await get(`/api/v1/tasks/${drafted?.id}/comments`)).items).toHaveLength(2);

    const before = JSON.parse((await cli(['list-users', '--json', '--limit', '1000'])).stdout).length;
    const again = await cli(['seed', '--demo']);
    expect(again).toEqual({
      code: 1,
      stdout: '',
      stderr: `seed: demo data exists (${DEMO_USERS[0].email} has an account): nothing was changed\n`,
    });
    expect(JSON.parse((await cli(['list-users', '--json', '--limit', '1000'])).stdout)).toHaveLength(before);
  });
});
