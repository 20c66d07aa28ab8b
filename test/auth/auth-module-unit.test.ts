import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createContext } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import type { AppContext } from '../../src/lib/module.js';
import { testEnv } from '../helpers/app.js';
import { createTestDatabase, testDatabaseUrl } from '../helpers/database.js';
import { buildTestServices } from '../helpers/services.js';

/**
 * The auth module's wiring (src/modules/auth/index.ts): the listeners it subscribes to the users
 * module and the cache it makes. Each test builds its own context (test/helpers/services.ts), so
 * that what the module does while a context is made is part of the test.
 */

const PASSWORD = 'correct horse battery staple 42';
const NEXT = 'a changed passphrase that is long';
const client = { userAgent: 'ua', ip: '192.0.2.1' };

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

async function withContext(work: (ctx: AppContext) => Promise<void>): Promise<void> {
  const services = await buildTestServices();
  try {
    await work(services.ctx);
  } finally {
    await services.close();
  }
}

let counter = 0;
async function account(ctx: AppContext, role: 'user' | 'admin' = 'user') {
  counter += 1;
  const email = `auth-module-${counter}@example.com`;
  const user = await ctx.services.users.create({ email, password: PASSWORD, name: `m${counter}`, role });
  return { id: user.id, email };
}

/** A new session of `email`: its id. */
async function session(ctx: AppContext, email: string, password = PASSWORD): Promise<string> {
  await ctx.services.auth.login(email, password, client);
  const row = await ctx.database.db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select('sessions.id')
    .where('users.email', '=', email)
    .orderBy('sessions.created_at', 'desc')
    .orderBy('sessions.id', 'desc')
    .executeTakeFirstOrThrow();
  return row.id;
}

const endedReason = async (ctx: AppContext, id: string) =>
  (
    await ctx.database.db
      .selectFrom('sessions')
      .select('ended_reason')
      .where('id', '=', id)
      .executeTakeFirstOrThrow()
  ).ended_reason;

describe('the auth module', () => {
  it("ends a user's sessions in the transaction of each change, with its reason", async () => {
    await withContext(async (ctx) => {
      const users = ctx.services.users;
      const disabled = await account(ctx);
      const d1 = await session(ctx, disabled.email);
      await users.update(disabled.id, { disabled: true });
      expect(await endedReason(ctx, d1)).toBe('disabled');

      const taken = await account(ctx);
      const t1 = await session(ctx, taken.email);
      await users.takeOverAccount(taken.id, NEXT);
      expect(await endedReason(ctx, t1)).toBe('admin_takeover');

      const changed = await account(ctx);
      const kept = await session(ctx, changed.email);
      const other = await session(ctx, changed.email);
      await users.changePassword(changed.id, kept, PASSWORD, NEXT);
      expect([await endedReason(ctx, kept), await endedReason(ctx, other)]).toEqual([
        null,
        'password_change',
      ]);
      await users.changePassword(changed.id, null, NEXT, `${NEXT} again`);
      expect(await endedReason(ctx, kept)).toBe('password_change');

      const reset = await account(ctx);
      const r1 = await session(ctx, reset.email);
      expect(await users.resetPassword(reset.id, NEXT, async () => true)).toBe(true);
      expect(await endedReason(ctx, r1)).toBe('password_reset');
    });
  });

  it('makes the cache forget what each committed change made stale', async () => {
    await withContext(async (ctx) => {
      const { users, authState, loginFailures } = ctx.services;
      const admin = await account(ctx, 'admin');

      const u = await account(ctx);
      const s = await session(ctx, u.email);
      expect(await authState.user(u.id)).toEqual({ role: 'user', disabled: false });
      expect(await authState.session(s)).toEqual({ userId: u.id, ended: false });
      await users.update(u.id, { role: 'admin' });
      expect(await authState.user(u.id)).toEqual({ role: 'admin', disabled: false });
      expect(await authState.session(s)).toEqual({ userId: u.id, ended: false });
      await users.update(u.id, { disabled: true });
      expect(await authState.user(u.id)).toEqual({ role: 'admin', disabled: true });
      expect(await authState.session(s)).toEqual({ userId: u.id, ended: true });

      const deleted = await account(ctx);
      const ds = await session(ctx, deleted.email);
      expect(await authState.user(deleted.id)).not.toBeNull();
      expect(await authState.session(ds)).not.toBeNull();
      await users.delete(deleted.id, admin.id);
      expect(await authState.user(deleted.id)).toBeNull();
      expect(await authState.session(ds)).toBeNull();

      const taken = await account(ctx);
      const ts = await session(ctx, taken.email);
      expect(await authState.user(taken.id)).toEqual({ role: 'user', disabled: false });
      expect(await authState.session(ts)).toEqual({ userId: taken.id, ended: false });
      await users.takeOverAccount(taken.id, NEXT);
      expect(await authState.user(taken.id)).toEqual({ role: 'admin', disabled: false });
      expect(await authState.session(ts)).toEqual({ userId: taken.id, ended: true });

      const changed = await account(ctx);
      const kept = await session(ctx, changed.email);
      const other = await session(ctx, changed.email);
      expect(await authState.session(other)).toEqual({ userId: changed.id, ended: false });
      await users.changePassword(changed.id, kept, PASSWORD, NEXT);
      expect(await authState.session(other)).toEqual({ userId: changed.id, ended: true });
      expect(await authState.session(kept)).toEqual({ userId: changed.id, ended: false });

      const reset = await account(ctx);
      const rs = await session(ctx, reset.email);
      expect(await authState.session(rs)).toEqual({ userId: reset.id, ended: false });
      const clear = vi.spyOn(loginFailures, 'clear');
      await users.resetPassword(reset.id, NEXT, async () => true);
      expect(clear).toHaveBeenCalledWith(reset.email);
      expect(await authState.session(rs)).toEqual({ userId: reset.id, ended: true });
    });
  });

  it('trusts its cache until told on SQLite (data_version), for 5 s on PostgreSQL', async () => {
    await withContext(async (ctx) => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const u = await account(ctx);
      expect(await ctx.services.authState.user(u.id)).toEqual({ role: 'user', disabled: false });
      // A change no event tells of (as another process's would be on PostgreSQL).
      await ctx.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', u.id).execute();
      vi.setSystemTime(Date.now() + 4000);
      expect((await ctx.services.authState.user(u.id))?.role).toBe('user');
      vi.setSystemTime(Date.now() + 2000);
      expect((await ctx.services.authState.user(u.id))?.role).toBe(testDatabaseUrl ? 'admin' : 'user');
    });
  });

  it.skipIf(testDatabaseUrl)('forgets its cache on SQLite when another connection commits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskforge-auth-module-'));
    const file = join(dir, 'auth.db');
    const database = await createTestDatabase({ sqliteFile: file });
    const other = new SqliteDatabase(file);
    try {
      await migrateToLatest(database.handle);
      const handle = createContext(loadConfig(testEnv()), {
        log: pino({ level: 'silent' }),
        database: database.handle,
        redis: null,
        hashCost: { memoryCost: 1024, timeCost: 1 },
      });
      try {
        const u = await account(handle.ctx);
        expect((await handle.ctx.services.authState.user(u.id))?.role).toBe('user');
        other.prepare("update users set role = 'admin' where id = ?").run(u.id);
        expect((await handle.ctx.services.authState.user(u.id))?.role).toBe('admin');
      } finally {
        await handle.close();
      }
    } finally {
      other.close();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
