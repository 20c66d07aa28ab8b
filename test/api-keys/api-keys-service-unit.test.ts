import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AppContext } from '../../src/lib/module.js';
import type { Role } from '../../src/lib/principal.js';
import { hashKey } from '../../src/modules/api-keys/api-keys.secrets.js';
import { ApiKeysService } from '../../src/modules/api-keys/api-keys.service.js';
import { buildTestServices, failure, type TestServices } from '../helpers/services.js';

/**
 * The API keys service called directly, with its real repository and the auth state cache
 * (test/helpers/services.ts: in-memory SQLite, or a PostgreSQL schema), and a fixed Date (the
 * context's clock reads it): each rule's outcome, the rows it leaves, what a presented key is.
 */

const T0 = Date.UTC(2026, 11, 4, 11, 0, 0);
const PASSWORD = 'correct horse battery staple 42';
const KEY_FORM = /^tf_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/;

let services: TestServices;
let ctx: AppContext;
let keys: ApiKeysService;
let counter = 0;

beforeAll(async () => {
  services = await buildTestServices();
  ctx = services.ctx;
  keys = ctx.services.apiKeys;
});
afterAll(async () => services.close());
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const at = (ms: number) => new Date(T0 + ms).toISOString();

async function user(role: Role = 'user'): Promise<string> {
  counter += 1;
  const created = await ctx.services.users.create({
    email: `keys-unit-${counter}@example.com`,
    password: PASSWORD,
    name: `k${counter}`,
    role,
  });
  return created.id;
}

const keyRow = (id: string) =>
  ctx.database.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();

describe('create', () => {
  it('issues a key: the secret once, only its hash stored, the auth cache told of its prefix', async () => {
    const userId = await user();
    const changed = vi.spyOn(ctx.services.authState, 'apiKeyChanged');
    const created = await keys.create(userId, 'user', {
      name: 'CI',
      scopes: ['tasks:read', 'projects:write'],
    });
    expect(created).toEqual({
      id: expect.any(String),
      name: 'CI',
      prefix: created.key.slice(0, 19),
      scopes: ['tasks:read', 'projects:write'],
      createdAt: at(0),
      expiresAt: null,
      lastUsedAt: null,
      key: expect.stringMatching(KEY_FORM),
    });
    expect(created.prefix).toMatch(/^tf_[0-9a-f]{16}$/);
    expect(changed).toHaveBeenCalledWith(created.prefix);
    expect(await keyRow(created.id)).toEqual({
      id: created.id,
      user_id: userId,
      name: 'CI',
      prefix: created.prefix,
      secret_hash: hashKey(created.key),
      scopes: 'tasks:read projects:write',
      created_at: at(0),
      expires_at: null,
      last_used_at: null,
    });
    const { key: _key, ...shown } = created;
    expect(await keys.get(userId, created.id)).toEqual(shown);
    // An expiry one millisecond ahead is in the future.
    const soon = await keys.create(userId, 'user', {
      name: 'soon',
      scopes: ['tasks:read'],
      expiresAt: at(1),
    });
    expect(soon.expiresAt).toBe(at(1));
    expect((await keyRow(soon.id))?.expires_at).toBe(at(1));
  });

  it('refuses scopes the role does not allow and an expiry not in the future, listing each', async () => {
    const userId = await user('guest');
    const one = await failure(
      keys.create(userId, 'guest', { name: 'x', scopes: ['tasks:read', 'tasks:write'] }),
    );
    expect(one.code).toBe('validation_failed');
    expect(one.detail).toBe('1 field is invalid');
    expect(one.errors).toEqual([
      { pointer: '/scopes/1', code: 'scope_not_allowed', detail: 'the role guest does not allow it' },
    ]);
    const three = await failure(
      keys.create(userId, 'guest', {
        name: 'x',
        scopes: ['users:read', 'comments:write', 'projects:write'],
        expiresAt: at(0),
      }),
    );
    expect(three.detail).toBe('3 fields are invalid');
    expect(three.errors).toEqual([
      { pointer: '/scopes/0', code: 'scope_not_allowed', detail: 'the role guest does not allow it' },
      { pointer: '/scopes/2', code: 'scope_not_allowed', detail: 'the role guest does not allow it' },
      { pointer: '/expiresAt', code: 'too_small', detail: 'must be in the future' },
    ]);
    const past = await failure(
      keys.create(userId, 'guest', { name: 'x', scopes: ['tasks:read'], expiresAt: at(-1) }),
    );
    expect(past.errors).toEqual([
      { pointer: '/expiresAt', code: 'too_small', detail: 'must be in the future' },
    ]);
    expect((await keys.list(userId, { page: 1, size: 10 })).total).toBe(0);
    // The role decides: a user may hold every scope but users:*, an admin all.
    expect(
      (await failure(keys.create(userId, 'user', { name: 'x', scopes: ['users:write'] }))).errors?.[0]
        ?.detail,
    ).toBe('the role user does not allow it');
    const admin = await keys.create(userId, 'admin', { name: 'all', scopes: ['users:write', 'users:read'] });
    expect(admin.scopes).toEqual(['users:write', 'users:read']);
  });

  it('holds at most 100 keys per user', async () => {
    const userId = await user();
    const other = await user();
    await ctx.database.db
      .insertInto('api_keys')
      .values(
        Array.from({ length: 99 }, (_, i) => ({
          id: `bulk-${counter}-${i}`,
          user_id: userId,
          name: `bulk ${i}`,
          prefix: `tf_${counter.toString(16).padStart(8, '0')}${i.toString(16).padStart(8, '0')}`,
          secret_hash: hashKey(`bulk ${i}`),
          scopes: 'tasks:read',
          created_at: at(-1000),
          expires_at: null,
          last_used_at: null,
        })),
      )
      .execute();
    const hundredth = await keys.create(userId, 'user', { name: '100th', scopes: ['tasks:read'] });
    expect(hundredth.name).toBe('100th');
    const full = await failure(keys.create(userId, 'user', { name: '101st', scopes: ['tasks:read'] }));
    expect(full.code).toBe('conflict');
    expect(full.detail).toBe('At most 100 API keys per user: revoke one first');
    expect((await keys.list(userId, { page: 1, size: 1 })).total).toBe(100);
    // Another user's count is its own.
    expect((await keys.create(other, 'user', { name: 'mine', scopes: ['tasks:read'] })).name).toBe('mine');
    await keys.revoke(userId, hundredth.id);
    expect((await keys.create(userId, 'user', { name: 'again', scopes: ['tasks:read'] })).name).toBe('again');
  });
});

describe('reading', () => {
  it('gets and lists only the caller’s own keys, newest first, in pages', async () => {
    const userId = await user();
    const other = await user();
    const made = [];
    for (let i = 0; i < 3; i++) {
      vi.setSystemTime(T0 + i * 1000);
      const { key: _key, ...shown } = await keys.create(userId, 'user', {
        name: `k${i}`,
        scopes: ['tasks:read'],
      });
      made.push(shown);
    }
    const foreign = await keys.create(other, 'user', { name: 'theirs', scopes: ['tasks:read'] });
    const [k0, k1, k2] = made as [(typeof made)[0], (typeof made)[0], (typeof made)[0]];
    expect((await failure(keys.get(userId, foreign.id))).code).toBe('not_found');
    expect((await failure(keys.get(userId, 'no-such-key'))).code).toBe('not_found');
    expect(await keys.get(userId, k1.id)).toEqual(k1);

    expect(await keys.list(userId, { page: 1, size: 2 })).toEqual({
      items: [k2, k1],
      total: 3,
      page: 1,
      size: 2,
      pages: 2,
    });
    expect(await keys.list(userId, { page: 2, size: 2 })).toEqual({
      items: [k0],
      total: 3,
      page: 2,
      size: 2,
      pages: 2,
    });

    const first = await keys.listAfter(userId, { limit: 2, cursor: undefined });
    expect(first.items).toEqual([k2, k1]);
    expect(first.nextCursor).toEqual(expect.any(String));
    expect(await keys.listAfter(userId, { limit: 2, cursor: first.nextCursor ?? '' })).toEqual({
      items: [k0],
      nextCursor: null,
    });
    expect((await keys.listAfter(userId, { limit: 3, cursor: undefined })).nextCursor).toBeNull();
    // One at a time: each page's cursor is its last (only) item's position.
    const single = await keys.listAfter(userId, { limit: 1, cursor: undefined });
    expect(single.items).toEqual([k2]);
    const next = await keys.listAfter(userId, { limit: 1, cursor: single.nextCursor ?? '' });
    expect(next.items).toEqual([k1]);
    expect(next.nextCursor).toEqual(expect.any(String));
    // A cursor is the caller's own.
    expect((await failure(keys.listAfter(other, { limit: 2, cursor: first.nextCursor ?? '' }))).code).toBe(
      'invalid_cursor',
    );
    const binding = { list: 'api-keys', caller: userId };
    const signed = ctx.cursors.sign(binding, { v: k2.createdAt, id: k2.id });
    expect((await keys.listAfter(userId, { limit: 5, cursor: signed })).items).toEqual([k1, k0]);
    for (const position of [
      null,
      { v: k2.createdAt },
      { id: k2.id },
      { v: 5, id: k2.id },
      { v: k2.createdAt, id: 5 },
    ]) {
      const bad = ctx.cursors.sign(binding, position);
      expect((await failure(keys.listAfter(userId, { limit: 5, cursor: bad }))).code).toBe('invalid_cursor');
    }
  });

  it('gives the stored state of a prefix, or null', async () => {
    const userId = await user();
    const created = await keys.create(userId, 'user', {
      name: 's',
      scopes: ['projects:read', 'tasks:write'],
      expiresAt: at(60_000),
    });
    expect(await keys.stateOf(created.prefix)).toEqual({
      id: created.id,
      userId,
      secretHash: hashKey(created.key),
      scopes: ['projects:read', 'tasks:write'],
      expiresAt: at(60_000),
    });
    expect(await keys.stateOf('tf_0000000000000000')).toBeNull();
  });
});

describe('authenticate, use and revoke', () => {
  it('knows a valid key and nothing else', async () => {
    const userId = await user();
    const created = await keys.create(userId, 'user', {
      name: 'a',
      scopes: ['tasks:write', 'comments:write'],
    });
    expect(await keys.authenticate(created.key)).toEqual({
      keyId: created.id,
      userId,
      scopes: ['tasks:write', 'comments:write'],
    });
    const lookups = vi.spyOn(ctx.services.authState, 'apiKey');
    // Nothing shaped unlike a key is looked up.
    expect(await keys.authenticate('not a key')).toBeNull();
    expect(await keys.authenticate(`${created.key}x`)).toBeNull();
    expect(lookups).not.toHaveBeenCalled();
    // The right prefix with another secret.
    const last = created.key.at(-1) === 'A' ? 'B' : 'A';
    expect(await keys.authenticate(`${created.key.slice(0, -1)}${last}`)).toBeNull();
    // A well-formed key nobody issued.
    expect(await keys.authenticate(`tf_${'0'.repeat(16)}_${'A'.repeat(43)}`)).toBeNull();
  });

  it('stops knowing a key at its expiry', async () => {
    const userId = await user();
    const created = await keys.create(userId, 'user', {
      name: 'e',
      scopes: ['tasks:read'],
      expiresAt: at(10_000),
    });
    vi.setSystemTime(T0 + 9_999);
    expect(await keys.authenticate(created.key)).toMatchObject({ keyId: created.id });
    vi.setSystemTime(T0 + 10_000);
    expect(await keys.authenticate(created.key)).toBeNull();
    vi.setSystemTime(T0 + 20_000);
    expect(await keys.authenticate(created.key)).toBeNull();
  });

  it('revokes one of the caller’s keys at once, and no one else’s', async () => {
    const userId = await user();
    const other = await user();
    const created = await keys.create(userId, 'user', { name: 'r', scopes: ['tasks:read'] });
    expect(await keys.authenticate(created.key)).not.toBeNull();
    expect((await failure(keys.revoke(other, created.id))).code).toBe('not_found');
    expect(await keys.authenticate(created.key)).not.toBeNull();
    const changed = vi.spyOn(ctx.services.authState, 'apiKeyChanged');
    await keys.revoke(userId, created.id);
    expect(changed).toHaveBeenCalledWith(created.prefix);
    expect(await keyRow(created.id)).toBeUndefined();
    expect(await keys.authenticate(created.key)).toBeNull();
    expect((await failure(keys.revoke(userId, created.id))).code).toBe('not_found');
    expect(changed).toHaveBeenCalledTimes(1);
  });

  it('records a use as lastUsedAt, once per interval', async () => {
    const userId = await user();
    const created = await keys.create(userId, 'user', { name: 'u', scopes: ['tasks:read'] });
    // A service built here: its recorder is made while this test runs (what it writes with, too).
    const service = new ApiKeysService(ctx);
    vi.setSystemTime(T0 + 1_000);
    service.recordUse(created.id);
    await vi.waitFor(async () => expect((await keys.get(userId, created.id)).lastUsedAt).toBe(at(1_000)));
    vi.setSystemTime(T0 + 30_000);
    service.recordUse(created.id);
    vi.setSystemTime(T0 + 61_000);
    service.recordUse(created.id);
    await vi.waitFor(async () => expect((await keys.get(userId, created.id)).lastUsedAt).toBe(at(61_000)));
  });
});
