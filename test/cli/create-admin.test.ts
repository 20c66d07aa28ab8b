import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { PasswordHasher } from '../../src/lib/passwords.js';
import { NO_LAG_SHEDDING, testEnv } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { login } from '../helpers/factories.js';

const dir = mkdtempSync(join(tmpdir(), 'taskforge-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tsx = join(process.cwd(), 'node_modules/.bin/tsx');
const script = join(process.cwd(), 'src/cli/create-admin.ts');

function cliEnv(databaseUrl: string, env: Record<string, string>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(DATABASE_URL|REDIS_URL|ADMIN_)/.test(k)),
  );
  return { ...clean, DATABASE_URL: databaseUrl, ...env };
}

function run(args: string[], env: Record<string, string>, file = join(dir, 'db.sqlite')) {
  return spawnSync(tsx, [script, ...args], {
    cwd: dir,
    env: cliEnv(`sqlite:${file}`, env),
    encoding: 'utf8',
  });
}

/** The tool as a child process while this process keeps serving (spawnSync would block it). */
function runBeside(args: string[], env: Record<string, string>, databaseUrl: string) {
  const child = spawn(tsx, [script, ...args], { cwd: dir, env: cliEnv(databaseUrl, env) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (status) => resolve({ status, stdout, stderr })),
  );
}

function passwordHashOf(file: string, email: string): string {
  const db = new Database(file, { readonly: true });
  try {
    const row = db.prepare('select password_hash from users where email = ?').get(email) as
      | { password_hash: string }
      | undefined;
    return row?.password_hash ?? '';
  } finally {
    db.close();
  }
}

const hasher = new PasswordHasher({ memoryCost: 1024, timeCost: 1 });

describe('npm run create-admin', () => {
  it('creates an admin, then sets the password of the existing one; refuses weak passwords', async () => {
    const file = join(dir, 'db.sqlite');
    const weak = run(['root@example.com'], { ADMIN_PASSWORD: 'password1234' });
    expect(weak.status).toBe(1);
    expect(weak.stderr).toMatch(/^ADMIN_PASSWORD /);
    const made = run(['Root@Example.com', 'Root'], { ADMIN_PASSWORD: 'a strong admin passphrase' });
    expect(made.stderr).toBe('');
    expect(made.status).toBe(0);
    expect(made.stdout).toBe('created admin root@example.com\n');
    expect(await hasher.verify(passwordHashOf(file, 'root@example.com'), 'a strong admin passphrase')).toBe(
      true,
    );
    const again = run(['root@example.com'], { ADMIN_PASSWORD: 'another admin passphrase' });
    expect(again.stderr).toBe('');
    expect(again.stdout).toBe(
      'root@example.com is already an admin: password updated, its sessions and API keys ended\n',
    );
    // What it says is what it did: the new password is the one that works.
    const stored = passwordHashOf(file, 'root@example.com');
    expect(await hasher.verify(stored, 'another admin passphrase')).toBe(true);
    expect(await hasher.verify(stored, 'a strong admin passphrase')).toBe(false);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('select role, name from users').all()).toEqual([{ role: 'admin', name: 'Root' }]);
    } finally {
      db.close();
    }
    expect(run([], {}).status).toBe(2);
  });

  it('takes over a registered account: admin, the given password, every session ended', async () => {
    const file = join(dir, 'takeover.sqlite');
    // Let the tool create the schema, then plant a registrant with a live session beside it.
    expect(run(['first@example.com'], { ADMIN_PASSWORD: 'a strong admin passphrase' }, file).status).toBe(0);
    const db = new Database(file);
    try {
      const now = new Date().toISOString();
      db.prepare(
        `insert into users (id, email, name, role, disabled, password_hash, search_text, created_at, updated_at)
         values ('squatter', 'boss@example.com', 'Squatter', 'user', 0, ?, 'squatter boss@example.com', ?, ?)`,
      ).run(await hasher.hash('the squatter knew this one'), now, now);
      db.prepare(
        `insert into sessions (id, user_id, created_at, last_used_at, user_agent, ip, ended_at, ended_reason)
         values ('squatter-session', 'squatter', ?, ?, null, null, null, null)`,
      ).run(now, now);
    } finally {
      db.close();
    }
    const taken = run(['BOSS@example.com'], { ADMIN_PASSWORD: 'the operator chose this' }, file);
    expect(taken.stderr).toBe('');
    expect(taken.stdout).toBe(
      'promoted boss@example.com to admin: password set, its sessions and API keys ended\n',
    );
    const after = new Database(file, { readonly: true });
    try {
      expect(after.prepare("select role, disabled from users where id = 'squatter'").get()).toEqual({
        role: 'admin',
        disabled: 0,
      });
      expect(after.prepare("select ended_reason from sessions where id = 'squatter-session'").get()).toEqual({
        ended_reason: 'admin_takeover',
      });
    } finally {
      after.close();
    }
    const stored = passwordHashOf(file, 'boss@example.com');
    expect(await hasher.verify(stored, 'the operator chose this')).toBe(true);
    expect(await hasher.verify(stored, 'the squatter knew this one')).toBe(false);
  });

  describe('reaches a running server on the same database', () => {
    const ADMIN_PASSWORD = 'the operator chose this';
    const SQUATTER_PASSWORD = 'the squatter knew this one';

    interface Running {
      app: FastifyInstance;
      databaseUrl: string;
      /** The registrant's old tokens, and a request the server has answered (and cached) with them. */
      old: { accessToken: string; refreshToken: string };
      me(): Promise<LightMyRequestResponse>;
      /** A request with the registrant's API key (answered, and cached, once already). */
      withKey(): Promise<LightMyRequestResponse>;
      close(): Promise<void>;
    }

    /** A server without Redis unless `env` gives one; a registrant holds ADMIN_EMAIL and is signed in. */
    async function runningServer(env: Record<string, string>, clock?: () => number): Promise<Running> {
      const file = join(mkdtempSync(join(dir, 'running-')), 'db.sqlite');
      const db: TestDatabase = process.env.TEST_DATABASE_URL
        ? await createTestDatabase()
        : await createTestDatabase({ sqliteFile: file });
      await migrateToLatest(db.handle);
      const app = await buildApp(loadConfig(testEnv(env)), {
        database: db.handle,
        hashCost: { memoryCost: 1024, timeCost: 1 },
        overload: NO_LAG_SHEDDING,
        ...(clock ? { clock } : {}),
      });
      const registered = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        payload: { email: 'boss@example.com', password: SQUATTER_PASSWORD, name: 'Squatter' },
      });
      expect(registered.statusCode).toBe(201);
      const old = await login(app, 'boss@example.com', SQUATTER_PASSWORD);
      const me = () =>
        app.inject({
          method: 'GET',
          url: '/api/v1/users',
          headers: { authorization: `Bearer ${old.accessToken}` },
        });
      expect((await me()).statusCode).toBe(403); // cached: a user, with a live session
      const issued = await app.inject({
        method: 'POST',
        url: '/api/v1/api-keys',
        headers: { authorization: `Bearer ${old.accessToken}` },
        payload: { name: 'squatter key', scopes: ['tasks:read'] },
      });
      expect(issued.statusCode).toBe(201);
      const withKey = () =>
        app.inject({ method: 'GET', url: '/api/v1/tasks', headers: { 'x-api-key': issued.json().key } });
      expect((await withKey()).statusCode).toBe(200); // cached: a live key
      return {
        app,
        databaseUrl: db.url ?? `sqlite:${file}`,
        old,
        me,
        withKey,
        async close() {
          await app.close();
          await db.drop();
        },
      };
    }

    async function expectTakenOver(server: Running): Promise<void> {
      const revoked = await server.me();
      expect(revoked.statusCode).toBe(401);
      expect(revoked.json().code).toBe('token_revoked');
      const refresh = await server.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refreshToken: server.old.refreshToken },
      });
      expect(refresh.json().code).toBe('token_revoked');
      const key = await server.withKey();
      expect(key.statusCode).toBe(401);
      expect(key.json().code).toBe('invalid_token');
      const oldPassword = await server.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'boss@example.com', password: SQUATTER_PASSWORD },
      });
      expect(oldPassword.statusCode).toBe(401);
      const admin = await login(server.app, 'boss@example.com', ADMIN_PASSWORD);
      const list = await server.app.inject({
        method: 'GET',
        url: '/api/v1/users',
        headers: { authorization: `Bearer ${admin.accessToken}` },
      });
      expect(list.statusCode).toBe(200);
    }

    it.skipIf(process.env.TEST_DATABASE_URL)('SQLite file without Redis: at once', async () => {
      const server = await runningServer({ REDIS_URL: '' });
      try {
        const cli = await runBeside(['boss@example.com'], { ADMIN_PASSWORD }, server.databaseUrl);
        expect(cli).toMatchObject({ status: 0, stderr: '' });
        expect(cli.stdout).toMatch(/^promoted boss@example\.com to admin/);
        await expectTakenOver(server);
      } finally {
        await server.close();
      }
    });

    it.runIf(process.env.TEST_DATABASE_URL)('PostgreSQL without Redis: within 5 s', async () => {
      let now = 1_000_000;
      const server = await runningServer({ REDIS_URL: '' }, () => now);
      try {
        const cli = await runBeside(['boss@example.com'], { ADMIN_PASSWORD }, server.databaseUrl);
        expect(cli).toMatchObject({ status: 0, stderr: '' });
        now += 5000;
        await expectTakenOver(server);
      } finally {
        await server.close();
      }
    });

    /** A TCP proxy to `target` that holds every connection back until `release()` is called. */
    async function heldProxy(target: URL) {
      let released = false;
      const waiting: (() => void)[] = [];
      let accepted = 0;
      const server = createServer((client) => {
        accepted += 1;
        client.pause();
        const open = () => {
          const upstream = tcpConnect(Number(target.port || 6379), target.hostname, () => {
            client.pipe(upstream).pipe(client);
            client.resume();
          });
          upstream.on('error', () => client.destroy());
          client.on('error', () => upstream.destroy());
        };
        if (released) open();
        else waiting.push(open);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as { port: number };
      return {
        url: `redis://127.0.0.1:${port}`,
        accepted: () => accepted,
        release() {
          released = true;
          for (const open of waiting.splice(0)) open();
        },
        close: () => server.close(),
      };
    }

    it.runIf(process.env.TEST_REDIS_URL)(
      'with REDIS_URL answering late: the tool waits for it, then publishes',
      async () => {
        const redisUrl = process.env.TEST_REDIS_URL ?? '';
        // A clock that never moves: only the published invalidation can refresh the server's cache.
        const server = await runningServer({ REDIS_URL: redisUrl }, () => 0);
        const proxy = await heldProxy(new URL(redisUrl));
        const role = async () =>
          (
            await server.app.ctx.database.db
              .selectFrom('users')
              .select('role')
              .where('email', '=', 'boss@example.com')
              .executeTakeFirstOrThrow()
          ).role;
        try {
          await new Promise((r) => setTimeout(r, 300)); // let the server's subscriber connect
          expect((await server.me()).statusCode).toBe(403); // cached again, now with the link up
          const exit = runBeside(
            ['boss@example.com'],
            { ADMIN_PASSWORD, REDIS_URL: proxy.url },
            server.databaseUrl,
          );
          while (proxy.accepted() === 0) await new Promise((r) => setTimeout(r, 20));
          // While Redis does not answer, the tool changes nothing (a change published into the
          // void would stay unseen by the running server).
          for (let waited = 0; waited < 4000; waited += 50) {
            expect(await role()).toBe('user');
            await new Promise((r) => setTimeout(r, 50));
          }
          proxy.release();
          const cli = await exit;
          expect(cli).toMatchObject({ status: 0, stderr: '' });
          // Pub/sub delivery is asynchronous: a moment, never a TTL's worth.
          for (let i = 0; i < 50 && (await server.me()).statusCode !== 401; i += 1) {
            await new Promise((r) => setTimeout(r, 20));
          }
          await expectTakenOver(server);
        } finally {
          proxy.close();
          await server.close();
        }
      },
    );

    it('with an unreachable REDIS_URL: changes nothing and says why, in one line', async () => {
      const file = join(dir, 'no-redis.sqlite');
      const cli = run(['root@example.com'], { ADMIN_PASSWORD, REDIS_URL: 'redis://127.0.0.1:1' }, file);
      expect(cli.status).toBe(1);
      expect(cli.stdout).toBe('');
      expect(existsSync(file)).toBe(false); // the database was not even opened
      expect(cli.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          /^create-admin: cannot reach REDIS_URL \(.*ECONNREFUSED.*\).*nothing was changed$/,
        ),
      ]);
    });
  });
});
