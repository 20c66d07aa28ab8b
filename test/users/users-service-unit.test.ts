import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../src/errors.js';
import type { AppContext } from '../../src/lib/module.js';
import type { UsersService } from '../../src/modules/users/users.service.js';
import { buildTestServices, failure, type TestServices } from '../helpers/services.js';

/**
 * The users service called directly, with its real repository and the other modules' services
 * (test/helpers/services.ts: in-memory SQLite, or a PostgreSQL schema), and a fixed Date: each
 * rule's outcome, the rows it leaves and the events it emits.
 */

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
const PASSWORD = 'correct horse battery staple 42';
const OTHER = 'another long passphrase 77 of mine';

let services: TestServices;
let ctx: AppContext;
let users: UsersService;
let counter = 0;
const events: string[] = [];

beforeAll(async () => {
  services = await buildTestServices();
  ctx = services.ctx;
  users = ctx.services.users;
  for (const name of [
    'created',
    'changed',
    'disabled',
    'deleted',
    'takenOver',
    'passwordChanged',
    'passwordReset',
  ] as const) {
    ctx.ports.users.on(name, async (_trx, payload) => {
      events.push(`${name}:${(payload as { userId: string }).userId}`);
    });
  }
});
afterAll(async () => services.close());
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
  events.length = 0;
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const at = (ms: number) => new Date(T0 + ms).toISOString();
const client = { userAgent: 'ua', ip: '::1' };

async function user(role: 'user' | 'admin' = 'user') {
  counter += 1;
  return users.create({
    email: `Users-Unit-${counter}@Example.com`,
    password: PASSWORD,
    name: `u${counter}`,
    role,
  });
}

const sessionsOf = (userId: string) =>
  ctx.database.db
    .selectFrom('sessions')
    .select(['id', 'ended_reason'])
    .where('user_id', '=', userId)
    .orderBy('id')
    .execute();

describe('create', () => {
  it('writes the user with its email lowercased, a role, and emits created', async () => {
    const u = await user();
    expect(u).toEqual({
      id: expect.any(String),
      email: `users-unit-${counter}@example.com`,
      name: `u${counter}`,
      role: 'user',
      disabled: false,
      createdAt: at(0),
      updatedAt: at(0),
    });
    expect(events).toEqual([`created:${u.id}`]);
    expect(await users.get(u.id)).toEqual(u);
    const admin = await user('admin');
    expect(admin.role).toBe('admin');
    const row = await ctx.database.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', u.id)
      .executeTakeFirstOrThrow();
    expect(row.password_hash).not.toBe(PASSWORD);
    expect(await ctx.passwordHasher.verify(row.password_hash, PASSWORD)).toBe(true);
  });

  it('refuses an invalid email, a weak password and a taken email', async () => {
    const invalid = await failure(users.create({ email: 'not an email', password: PASSWORD, name: 'n' }));
    expect(invalid.code).toBe('validation_failed');
    expect(invalid.detail).toBe('The email is not a valid address (ASCII only)');
    expect(invalid.errors).toEqual([{ pointer: '/email', code: 'format', detail: 'must be a valid email' }]);
    const weak = await failure(
      users.create({ email: 'weak@example.com', password: 'my weak password 2026', name: 'n' }),
    );
    expect(weak.code).toBe('weak_password');
    expect(weak.detail).toMatch(/^The password .+/);
    expect(weak.errors).toEqual([
      { pointer: '/password', code: 'weak_password', detail: expect.any(String) },
    ]);
    expect(weak.detail).toBe(`The password ${weak.errors?.[0]?.detail}`);
    const u = await user();
    const taken = await failure(
      users.create({ email: u.email.toUpperCase(), password: PASSWORD, name: 'n' }),
    );
    expect(taken.code).toBe('email_taken');
    const boom = new Error('boom');
    vi.spyOn(ctx.passwordHasher, 'hash').mockRejectedValueOnce(boom);
    await expect(users.create({ email: 'boom@example.com', password: PASSWORD, name: 'n' })).rejects.toBe(
      boom,
    );
  });

  it('records the reply in the same transaction when asked', async () => {
    const seen: string[] = [];
    const u = await users.create(
      { email: 'recorded@example.com', password: PASSWORD, name: 'r' },
      async (_trx, reply) => {
        seen.push(reply.id);
      },
    );
    expect(seen).toEqual([u.id]);
  });
});

describe('reading', () => {
  it('gets, tells whether one exists, its state and its credentials', async () => {
    const u = await user();
    expect((await failure(users.get('no-such-user'))).code).toBe('not_found');
    expect(await users.exists(u.id)).toBe(true);
    expect(await users.exists('no-such-user')).toBe(false);
    expect(await users.state(u.id)).toEqual({ role: 'user', disabled: false });
    expect(await users.state('no-such-user')).toBeNull();
    const creds = await users.credentials(u.email.toUpperCase());
    expect(creds).toEqual({ id: u.id, passwordHash: expect.any(String), disabled: false });
    expect(await users.credentials('nobody@example.com')).toBeUndefined();
    await users.update(u.id, { disabled: true });
    expect(await users.state(u.id)).toEqual({ role: 'user', disabled: true });
    expect((await users.credentials(u.email))?.disabled).toBe(true);
  });

  it('lists a page at a time and by cursor', async () => {
    const made = [];
    for (let i = 0; i < 3; i++) {
      vi.setSystemTime(T0 + 3_600_000 + i * 1000);
      made.push(
        await users.create({ email: `listed-${i}@example.com`, password: PASSWORD, name: `zz listed ${i}` }),
      );
    }
    const filter = { q: 'zz listed' };
    expect(await users.list(filter, { page: 2, size: 2 })).toEqual({
      items: [made[0]],
      total: 3,
      page: 2,
      size: 2,
      pages: 2,
    });
    const first = await users.list(filter, { page: 1, size: 2 });
    expect(first.items).toHaveLength(2);
    const one = await users.listAfter('caller', filter, { limit: 2, cursor: undefined });
    expect(one.items.map((u) => u.id)).toEqual([made[2]?.id, made[1]?.id]);
    const two = await users.listAfter('caller', filter, { limit: 2, cursor: one.nextCursor ?? '' });
    expect(two).toEqual({ items: [made[0]], nextCursor: null });
    const single = await users.listAfter('caller', filter, { limit: 1, cursor: undefined });
    const next = await users.listAfter('caller', filter, { limit: 1, cursor: single.nextCursor ?? '' });
    expect(next.items.map((u) => u.id)).toEqual([made[1]?.id]);
    expect((await users.listAfter('caller', filter, { limit: 3, cursor: undefined })).nextCursor).toBeNull();
    const binding = { list: 'users', caller: 'caller', filter };
    for (const cursor of [
      ctx.cursors.sign(binding, null),
      ctx.cursors.sign(binding, { v: 1, id: 'x' }),
      ctx.cursors.sign(binding, { v: at(0), id: 1 }),
      ctx.cursors.sign({ ...binding, caller: 'other' }, { v: at(0), id: 'x' }),
    ]) {
      expect((await failure(users.listAfter('caller', filter, { limit: 2, cursor }))).code).toBe(
        'invalid_cursor',
      );
    }
  });
});

describe('update', () => {
  it('changes what is given, with a new updatedAt, and emits changed', async () => {
    const u = await user();
    vi.setSystemTime(T0 + 1000);
    events.length = 0;
    expect(await users.update(u.id, { name: 'renamed' })).toEqual({
      ...u,
      name: 'renamed',
      updatedAt: at(1000),
    });
    expect(events).toEqual([`changed:${u.id}`]);
    expect(await users.update(u.id, { role: 'guest' })).toMatchObject({ name: 'renamed', role: 'guest' });
    expect((await failure(users.update('no-such-user', { name: 'x' }))).code).toBe('not_found');
  });

  it('changes nothing, and emits nothing, when nothing differs', async () => {
    const u = await user();
    vi.setSystemTime(T0 + 1000);
    events.length = 0;
    for (const same of [
      {},
      { name: u.name },
      { role: 'user' as const },
      { disabled: false },
      { name: u.name, role: 'user' as const, disabled: false },
    ]) {
      expect(await users.update(u.id, same)).toEqual(u);
    }
    expect(events).toEqual([]);
    expect(await users.update(u.id, { name: u.name, disabled: true })).toMatchObject({
      disabled: true,
      updatedAt: at(1000),
    });
    expect(await users.update(u.id, { disabled: true })).toMatchObject({ disabled: true });
    expect(await users.update(u.id, { role: 'user', disabled: false })).toMatchObject({ disabled: false });
  });

  it('disabling ends the sessions once; enabling again emits no disabled', async () => {
    const u = await user();
    await ctx.services.auth.login(u.email, PASSWORD, client);
    events.length = 0;
    await users.update(u.id, { disabled: true });
    expect(events).toEqual([`changed:${u.id}`, `disabled:${u.id}`]);
    expect(await sessionsOf(u.id)).toEqual([{ id: expect.any(String), ended_reason: 'disabled' }]);
    events.length = 0;
    await users.update(u.id, { disabled: false });
    expect(events).toEqual([`changed:${u.id}`]);
    await users.update(u.id, { name: 'x', disabled: true });
    expect(events).toEqual([`changed:${u.id}`, `changed:${u.id}`, `disabled:${u.id}`]);
  });

  it('keeps one enabled admin: the last one is neither demoted nor disabled nor deleted', async () => {
    await ctx.database.db.updateTable('users').set({ disabled: 1 }).where('role', '=', 'admin').execute();
    const admin = await user('admin');
    const caller = await user();
    const last = await failure(users.update(admin.id, { role: 'user' }));
    expect([last.code, last.detail]).toEqual(['last_admin', 'This change would leave no enabled admin']);
    expect((await failure(users.update(admin.id, { disabled: true }))).code).toBe('last_admin');
    const deleting = await failure(users.delete(admin.id, caller.id));
    expect([deleting.code, deleting.detail]).toEqual([
      'last_admin',
      'Deleting this user would leave no enabled admin',
    ]);
    expect(await users.state(admin.id)).toEqual({ role: 'admin', disabled: false });
    // A name change or a promotion needs no other admin.
    expect(await users.update(admin.id, { name: 'still admin', role: 'admin' })).toMatchObject({
      name: 'still admin',
    });
    const second = await user('admin');
    expect(await users.update(admin.id, { role: 'user' })).toMatchObject({ role: 'user' });
    expect((await failure(users.update(second.id, { disabled: true }))).code).toBe('last_admin');
    // A disabled admin is none of the enabled ones: it may go.
    const disabledAdmin = await user('admin');
    await users.update(disabledAdmin.id, { disabled: true });
    await users.update(disabledAdmin.id, { role: 'user' });
    await users.delete(disabledAdmin.id, caller.id);
    expect(await users.exists(disabledAdmin.id)).toBe(false);
  });
});

describe('delete', () => {
  it('removes the user after its deleted listeners ran; refuses itself and the unknown', async () => {
    const admin = await user('admin');
    const u = await user();
    expect((await failure(users.delete(admin.id, admin.id))).detail).toBe('An admin cannot delete itself');
    expect((await failure(users.delete(admin.id, admin.id))).code).toBe('conflict');
    expect((await failure(users.delete('no-such-user', admin.id))).code).toBe('not_found');
    events.length = 0;
    await users.delete(u.id, admin.id);
    expect(events).toEqual([`deleted:${u.id}`]);
    expect(await users.exists(u.id)).toBe(false);
    const other = await user('admin');
    await users.delete(other.id, admin.id);
    expect(await users.exists(other.id)).toBe(false);
    const boom = new Error('boom');
    const victim = await user();
    ctx.ports.users.on('deleted', async (_trx, payload) => {
      if (payload.userId === victim.id) throw boom;
    });
    await expect(users.delete(victim.id, admin.id)).rejects.toBe(boom);
    expect(await users.exists(victim.id)).toBe(true);
  });
});

describe('admin installation', () => {
  it('creates, promotes, enables or re-passwords the account, and takes it over', async () => {
    const created = await users.installAdmin('Install-1@Example.com', PASSWORD, 'Root');
    expect(created).toEqual({
      outcome: 'created',
      user: expect.objectContaining({ email: 'install-1@example.com', name: 'Root', role: 'admin' }),
    });
    const plain = await user();
    await ctx.services.auth.login(plain.email, PASSWORD, client);
    events.length = 0;
    const promoted = await users.installAdmin(plain.email.toUpperCase(), OTHER, 'ignored');
    expect(promoted.outcome).toBe('promoted');
    expect(promoted.user).toMatchObject({ id: plain.id, role: 'admin', disabled: false, name: plain.name });
    expect(events).toEqual([`takenOver:${plain.id}`]);
    expect(await sessionsOf(plain.id)).toEqual([{ id: expect.any(String), ended_reason: 'admin_takeover' }]);
    expect((await ctx.services.auth.checkCredentials(plain.email, OTHER)).id).toBe(plain.id);
    expect((await users.installAdmin(plain.email, PASSWORD, 'x')).outcome).toBe('password_updated');
    await ctx.database.db.updateTable('users').set({ disabled: 1 }).where('id', '=', plain.id).execute();
    expect((await users.installAdmin(plain.email, PASSWORD, 'x')).outcome).toBe('enabled');
    expect(await users.state(plain.id)).toEqual({ role: 'admin', disabled: false });
    expect((await failure(users.takeOverAccount('no-such-user', PASSWORD))).code).toBe('not_found');
  });

  it('takes over an account registered between its look-up and its creation', async () => {
    const original = users.create.bind(users);
    vi.spyOn(users, 'create').mockImplementationOnce(async (input) => {
      await original({ ...input, role: 'user', name: 'first comer' });
      return original(input);
    });
    const raced = await users.installAdmin('raced@example.com', PASSWORD, 'Root');
    expect(raced.outcome).toBe('promoted');
    expect(raced.user).toMatchObject({ name: 'first comer', role: 'admin' });
    const boom = new Error('boom');
    vi.spyOn(users, 'create').mockRejectedValueOnce(boom);
    await expect(users.installAdmin('boom-admin@example.com', PASSWORD, 'Root')).rejects.toBe(boom);
    vi.spyOn(users, 'create').mockRejectedValueOnce(new ApiError('email_taken'));
    expect((await failure(users.installAdmin('vanished@example.com', PASSWORD, 'Root'))).code).toBe(
      'not_found',
    );
  });

  it('at start-up, only when no enabled admin exists', async () => {
    await ctx.database.db.updateTable('users').set({ disabled: 1 }).where('role', '=', 'admin').execute();
    const log: string[] = [];
    await users.ensureAdmin('boot@example.com', PASSWORD, (m) => log.push(m));
    expect(log).toEqual([expect.stringMatching(/boot@example\.com.*\(ADMIN_EMAIL\)$/)]);
    expect(await users.enabledAdminExists()).toBe(true);
    await users.ensureAdmin('boot-2@example.com', PASSWORD, (m) => log.push(m));
    expect(log).toHaveLength(1);
    expect(await users.credentials('boot-2@example.com')).toBeUndefined();
  });
});

describe('passwords', () => {
  it('change with the current one, ending every other session', async () => {
    const u = await user();
    const kept = await ctx.services.auth.login(u.email, PASSWORD, client);
    await ctx.services.auth.login(u.email, PASSWORD, client);
    const keepId =
      (await ctx.services.auth.listSessions(u.id, null, { page: 1, size: 10 })).items.at(-1)?.id ?? '';
    expect(kept.tokenType).toBe('Bearer');
    expect((await failure(users.changePassword('no-such-user', null, PASSWORD, OTHER))).code).toBe(
      'not_found',
    );
    expect((await failure(users.changePassword(u.id, keepId, 'wrong password', OTHER))).code).toBe(
      'current_password_incorrect',
    );
    const weak = await failure(
      users.changePassword(u.id, keepId, PASSWORD, `${u.email.split('@')[0]} forever 2026`),
    );
    expect(weak.code).toBe('weak_password');
    expect(weak.errors).toEqual([
      { pointer: '/newPassword', code: 'weak_password', detail: expect.any(String) },
    ]);
    expect(weak.detail).toBe(`The password ${weak.errors?.[0]?.detail}`);
    events.length = 0;
    vi.setSystemTime(T0 + 1000);
    await users.changePassword(u.id, keepId, PASSWORD, OTHER);
    expect(events).toEqual([`passwordChanged:${u.id}`]);
    const rows = await sessionsOf(u.id);
    expect(rows.find((s) => s.id === keepId)?.ended_reason).toBeNull();
    expect(rows.filter((s) => s.id !== keepId).map((s) => s.ended_reason)).toEqual(['password_change']);
    expect((await ctx.services.auth.checkCredentials(u.email, OTHER)).id).toBe(u.id);
    const row = await ctx.database.db
      .selectFrom('users')
      .select('updated_at')
      .where('id', '=', u.id)
      .executeTakeFirstOrThrow();
    expect(row.updated_at).toBe(at(1000));
  });

  it('reset through a claim, for an enabled account only', async () => {
    const u = await user();
    await ctx.services.auth.login(u.email, PASSWORD, client);
    const yes = vi.fn(async () => true);
    expect(await users.resetPassword('no-such-user', OTHER, yes)).toBe(false);
    const weak = await failure(users.resetPassword(u.id, `${u.email.split('@')[0]} forever 2026`, yes));
    expect(weak.errors).toEqual([
      { pointer: '/newPassword', code: 'weak_password', detail: expect.any(String) },
    ]);
    expect(weak.detail).toBe(`The password ${weak.errors?.[0]?.detail}`);
    expect(await users.resetPassword(u.id, OTHER, async () => false)).toBe(false);
    expect(yes).not.toHaveBeenCalled();
    expect((await ctx.services.auth.checkCredentials(u.email, PASSWORD)).id).toBe(u.id);
    events.length = 0;
    vi.setSystemTime(T0 + 2000);
    expect(await users.resetPassword(u.id, OTHER, yes)).toBe(true);
    expect(yes).toHaveBeenCalledTimes(1);
    expect(events).toEqual([`passwordReset:${u.id}`]);
    expect((await sessionsOf(u.id)).map((s) => s.ended_reason)).toEqual(['password_reset']);
    expect((await ctx.services.auth.checkCredentials(u.email, OTHER)).id).toBe(u.id);
    const gone = await user();
    expect(
      await users.resetPassword(gone.id, OTHER, async (trx) => {
        await trx.deleteFrom('users').where('id', '=', gone.id).execute();
        return true;
      }),
    ).toBe(false);
    const disabled = await user();
    await users.update(disabled.id, { disabled: true });
    expect(await users.resetPassword(disabled.id, OTHER, yes)).toBe(false);
    expect(yes).toHaveBeenCalledTimes(1);
  });
});
