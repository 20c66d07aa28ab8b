import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  type ApiKeyState,
  AuthStateCache,
  type AuthStateLoaders,
  type SessionState,
  type UserState,
} from '../../src/modules/auth/auth-state.js';

/**
 * The auth cache in one process, with counting loaders: what it serves from memory, what each
 * invalidation forgets, and when it reads again (data_version, maxAgeMs, a Redis link not live).
 * Invalidations between processes over Redis: test/auth/auth-state.test.ts.
 */

interface World {
  users: Map<string, UserState>;
  sessions: Map<string, SessionState>;
  keys: Map<string, ApiKeyState>;
  reads: string[];
}

/** A loader's answer, its read recorded. */
function read<T>(w: World, what: string, row: T | undefined): T | null {
  w.reads.push(what);
  return row ?? null;
}

function world(): World & { loaders: AuthStateLoaders } {
  const w: World = { users: new Map(), sessions: new Map(), keys: new Map(), reads: [] };
  w.users.set('u1', { role: 'user', disabled: false });
  w.users.set('u2', { role: 'admin', disabled: false });
  w.sessions.set('s1', { userId: 'u1', ended: false });
  w.sessions.set('s2', { userId: 'u1', ended: false });
  w.sessions.set('s3', { userId: 'u2', ended: false });
  const key = (id: string, userId: string): ApiKeyState => ({
    id,
    userId,
    secretHash: `hash-${id}`,
    scopes: ['tasks:read'],
    expiresAt: null,
  });
  w.keys.set('k1', key('k1', 'u1'));
  w.keys.set('k2', key('k2', 'u2'));
  return {
    ...w,
    loaders: {
      user: async (id) => read(w, `user:${id}`, w.users.get(id)),
      session: async (id) => read(w, `session:${id}`, w.sessions.get(id)),
      apiKey: async (id) => read(w, `key:${id}`, w.keys.get(id)),
    },
  };
}

const silent = { warn: () => {} } as unknown as FastifyBaseLogger;

describe('AuthStateCache without Redis', () => {
  it('serves a second read from memory, a missing row too', async () => {
    const w = world();
    const cache = new AuthStateCache(w.loaders, null, silent);
    expect(await cache.user('u1')).toEqual({ role: 'user', disabled: false });
    expect(await cache.user('u1')).toEqual({ role: 'user', disabled: false });
    expect(await cache.user('nobody')).toBeNull();
    expect(await cache.user('nobody')).toBeNull();
    expect(await cache.session('s1')).toEqual({ userId: 'u1', ended: false });
    expect(await cache.session('s1')).toEqual({ userId: 'u1', ended: false });
    expect(await cache.apiKey('k1')).toMatchObject({ id: 'k1' });
    expect(await cache.apiKey('k1')).toMatchObject({ id: 'k1' });
    expect(w.reads).toEqual(['user:u1', 'user:nobody', 'session:s1', 'key:k1']);
  });

  it('forgets exactly what each invalidation names', async () => {
    const w = world();
    const cache = new AuthStateCache(w.loaders, null, silent);
    const readAll = async () => {
      for (const id of ['u1', 'u2']) await cache.user(id);
      for (const id of ['s1', 's2', 's3']) await cache.session(id);
      for (const id of ['k1', 'k2']) await cache.apiKey(id);
    };
    await readAll();
    const reread = async (change: () => void) => {
      w.reads.length = 0;
      change();
      await readAll();
      return [...w.reads];
    };
    expect(await reread(() => {})).toEqual([]);
    expect(await reread(() => cache.userChanged('u1'))).toEqual(['user:u1']);
    expect(await reread(() => cache.sessionChanged('s2'))).toEqual(['session:s2']);
    expect(await reread(() => cache.userSessionsChanged('u1'))).toEqual(['session:s1', 'session:s2']);
    expect(await reread(() => cache.apiKeyChanged('k2'))).toEqual(['key:k2']);
    expect(await reread(() => cache.userApiKeysChanged('u2'))).toEqual(['key:k2']);
    // A missing entry has no owner: a user-wide invalidation leaves it.
    await cache.session('gone');
    await cache.apiKey('gone');
    expect(await reread(() => cache.userSessionsChanged('u2'))).toEqual(['session:s3']);
    expect(await reread(() => cache.userApiKeysChanged('u1'))).toEqual(['key:k1']);
    w.reads.length = 0;
    await cache.session('gone');
    await cache.apiKey('gone');
    expect(w.reads).toEqual([]);
    expect(await cache.published()).toBe(true);
  });

  it('does not cache a load that an invalidation overtook', async () => {
    const w = world();
    let release: () => void = () => {};
    const slow: AuthStateLoaders = {
      ...w.loaders,
      user: async (id) => {
        const before = w.users.get(id) ?? null;
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return before;
      },
    };
    const cache = new AuthStateCache(slow, null, silent);
    const first = cache.user('u1');
    w.users.set('u1', { role: 'user', disabled: true });
    cache.userChanged('u1');
    release();
    expect(await first).toEqual({ role: 'user', disabled: false });
    const second = cache.user('u1');
    release();
    expect(await second).toEqual({ role: 'user', disabled: true });
  });

  it('empties itself when data_version moves, and reads the database when it cannot tell', async () => {
    const w = world();
    let version = 1;
    let broken = false;
    const cache = new AuthStateCache(w.loaders, null, silent, {
      dataVersion: () => {
        if (broken) throw new Error('database closed');
        return version;
      },
    });
    await cache.user('u1');
    await cache.user('u1');
    expect(w.reads).toEqual(['user:u1']);
    version = 2;
    await cache.user('u1');
    await cache.user('u1');
    expect(w.reads).toEqual(['user:u1', 'user:u1']);
    broken = true;
    await cache.user('u1');
    expect(w.reads).toHaveLength(3);
    broken = false;
    await cache.user('u1');
    expect(w.reads).toHaveLength(3);
  });

  it('trusts an entry for maxAgeMs, counted from before the read', async () => {
    const w = world();
    let now = 1000;
    const cache = new AuthStateCache(w.loaders, null, silent, { maxAgeMs: 100, now: () => now });
    await cache.user('u1');
    now = 1099;
    await cache.user('u1');
    expect(w.reads).toHaveLength(1);
    now = 1100;
    await cache.user('u1');
    expect(w.reads).toHaveLength(2);
  });
});

describe('AuthStateCache with a Redis link that is not live', () => {
  function publishingRedis(fail: boolean) {
    const sent: string[] = [];
    const redis = {
      publish: async (channel: string, text: string) => {
        if (fail) throw new Error('connection is closed');
        sent.push(`${channel} ${text}`);
        return 1;
      },
    } as unknown as Redis;
    return { redis, sent };
  }

  it('reads the database every time (fails closed) and publishes each invalidation', async () => {
    const w = world();
    const { redis, sent } = publishingRedis(false);
    const cache = new AuthStateCache(w.loaders, redis, silent);
    expect(cache.listening).toBe(false);
    await cache.user('u1');
    await cache.user('u1');
    expect(w.reads).toEqual(['user:u1', 'user:u1']);
    cache.userChanged('u1');
    cache.userSessionsChanged('u1');
    cache.userApiKeysChanged('u2');
    expect(await cache.published()).toBe(true);
    expect(sent).toEqual([
      'taskforge:auth-invalidate {"kind":"user","id":"u1"}',
      'taskforge:auth-invalidate {"kind":"user-sessions","id":"u1"}',
      'taskforge:auth-invalidate {"kind":"user-api-keys","id":"u2"}',
    ]);
  });

  it('reports a publish that failed, and logs it', async () => {
    const w = world();
    const warnings: unknown[] = [];
    const log = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as FastifyBaseLogger;
    const cache = new AuthStateCache(w.loaders, publishingRedis(true).redis, log);
    cache.sessionChanged('s1');
    expect(await cache.published()).toBe(false);
    expect(JSON.stringify(warnings)).toContain('could not publish an auth invalidation');
    expect(JSON.stringify(warnings)).toContain('connection is closed');
  });
});
