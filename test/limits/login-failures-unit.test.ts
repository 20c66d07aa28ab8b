import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { beforeEach, describe, expect, it } from 'vitest';
import { LOGIN_FAILURE_WINDOW_MS, LoginFailures } from '../../src/modules/auth/login-failures.js';

/**
 * LoginFailures on its own, with a moved clock: the in-process counter, and the Redis one on a
 * small in-memory stand-in for the sorted-set commands it sends (the Redis runs of
 * test/limits/redis-limits.test.ts use a real server).
 */

const MINUTE = 60_000;

function recordingLog() {
  const warnings: unknown[][] = [];
  const log = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as FastifyBaseLogger;
  return { log, warnings };
}

/** zadd / zrangebyscore / zremrangebyscore / pexpire / del over one Map, as Redis answers them. */
function fakeRedis() {
  const sets = new Map<string, Map<string, number>>();
  const expiries = new Map<string, number>();
  const bound = (text: string, side: 'min' | 'max') => {
    if (text === '+inf') return (score: number) => score <= Number.POSITIVE_INFINITY;
    if (text === '-inf') return (score: number) => score >= Number.NEGATIVE_INFINITY;
    const exclusive = text.startsWith('(');
    const value = Number(exclusive ? text.slice(1) : text);
    // Redis refuses a bound that is no number: ERR min or max is not a float.
    if (text === '' || Number.isNaN(value)) throw new Error('ERR min or max is not a float');
    if (side === 'min') return (score: number) => (exclusive ? score > value : score >= value);
    return (score: number) => (exclusive ? score < value : score <= value);
  };
  const client = {
    status: 'ready',
    disconnect: () => {},
    async zrangebyscore(key: string, min: string, max: string, withScores: string) {
      expect(withScores).toBe('WITHSCORES');
      const [low, high] = [bound(min, 'min'), bound(max, 'max')];
      return [...(sets.get(key) ?? new Map<string, number>())]
        .filter(([, score]) => low(score) && high(score))
        .sort((a, b) => a[1] - b[1])
        .flatMap(([member, score]) => [member, String(score)]);
    },
    multi() {
      const ops: (() => void)[] = [];
      const chain = {
        zadd(key: string, score: number, member: string) {
          ops.push(() => {
            const set = sets.get(key) ?? new Map<string, number>();
            set.set(member, score);
            sets.set(key, set);
          });
          return chain;
        },
        zremrangebyscore(key: string, min: string, max: number) {
          ops.push(() => {
            const [low, high] = [bound(min, 'min'), bound(String(max), 'max')];
            for (const [member, score] of sets.get(key) ?? []) {
              if (low(score) && high(score)) sets.get(key)?.delete(member);
            }
          });
          return chain;
        },
        pexpire(key: string, ms: number) {
          ops.push(() => expiries.set(key, ms));
          return chain;
        },
        async exec() {
          for (const op of ops) op();
          return [];
        },
      };
      return chain;
    },
    async del(key: string) {
      sets.delete(key);
      return 1;
    },
  };
  return { redis: client as unknown as Redis, sets, expiries };
}

/** A Redis whose every command fails. */
function brokenRedis(): Redis {
  const fail = async () => {
    throw new Error('connection is closed');
  };
  const chain = { zadd: () => chain, zremrangebyscore: () => chain, pexpire: () => chain, exec: fail };
  return {
    status: 'end',
    disconnect: () => {},
    zrangebyscore: fail,
    del: fail,
    multi: () => chain,
  } as unknown as Redis;
}

describe.each(['in process', 'on Redis'])('LoginFailures %s', (where) => {
  let now: number;
  let failures: LoginFailures;
  let store: ReturnType<typeof fakeRedis>;

  beforeEach(() => {
    now = Date.UTC(2026, 0, 1);
    store = fakeRedis();
    failures = new LoginFailures(
      {
        redis: where === 'on Redis' ? store.redis : null,
        clock: () => now,
        log: recordingLog().log,
        keyPrefix: 'p:',
      },
      3,
    );
  });

  it('locks out at the maximum, until the oldest counted failure leaves the window', async () => {
    await failures.record('a@x.test');
    now += MINUTE;
    await failures.record('a@x.test');
    expect(await failures.lockedFor('a@x.test')).toBe(0);
    now += MINUTE;
    await failures.record('a@x.test');
    // The first failure, two minutes ago, frees the email 13 minutes from now.
    expect(await failures.lockedFor('a@x.test')).toBe(13 * 60);
    expect(await failures.lockedFor('b@x.test')).toBe(0);
    now += 13 * MINUTE - 1500;
    expect(await failures.lockedFor('a@x.test')).toBe(2);
    now += 1500;
    // Exactly 15 minutes old: out of the window.
    expect(await failures.lockedFor('a@x.test')).toBe(0);
  });

  it('counts from the newest failures when there are more than the maximum, at least one second', async () => {
    for (let i = 0; i < 5; i++) {
      await failures.record('a@x.test');
      now += MINUTE;
    }
    // Failures at 0..4 minutes, now 5: the third newest (2 minutes) frees it at 17.
    expect(await failures.lockedFor('a@x.test')).toBe(12 * 60);
    now += 12 * MINUTE - 10;
    expect(await failures.lockedFor('a@x.test')).toBe(1);
  });

  it('forgets failures older than the window when recording', async () => {
    await failures.record('a@x.test');
    await failures.record('a@x.test');
    now += LOGIN_FAILURE_WINDOW_MS;
    await failures.record('a@x.test');
    await failures.record('a@x.test');
    expect(await failures.lockedFor('a@x.test')).toBe(0);
    if (where === 'on Redis') {
      const [key] = [...store.sets.keys()];
      expect(key).toMatch(/^p:login-failures:[A-Za-z0-9_-]{43}$/);
      expect(key).not.toContain('a@x.test');
      expect(store.sets.get(key ?? '')?.size).toBe(2);
      expect(store.expiries.get(key ?? '')).toBe(LOGIN_FAILURE_WINDOW_MS);
    }
  });

  it('starts again after clear', async () => {
    for (let i = 0; i < 3; i++) await failures.record('a@x.test');
    await failures.record('b@x.test');
    expect(await failures.lockedFor('a@x.test')).toBeGreaterThan(0);
    await failures.clear('a@x.test');
    expect(await failures.lockedFor('a@x.test')).toBe(0);
    await failures.record('a@x.test');
    await failures.record('a@x.test');
    expect(await failures.lockedFor('a@x.test')).toBe(0);
    if (where === 'on Redis') expect(store.sets.size).toBe(2);
  });
});

describe('LoginFailures on a Redis that fails', () => {
  it('locks nobody out, never throws, and warns on each command', async () => {
    const attempt = async (run: (failures: LoginFailures) => Promise<unknown>) => {
      const { log, warnings } = recordingLog();
      const failures = new LoginFailures({ redis: brokenRedis(), clock: () => 0, log, keyPrefix: '' }, 1);
      const result = await run(failures);
      expect(JSON.stringify(warnings)).toContain('login lock-outs are not enforced');
      return result;
    };
    await attempt((failures) => failures.record('a@x.test'));
    expect(await attempt((failures) => failures.lockedFor('a@x.test'))).toBe(0);
    expect(await attempt((failures) => failures.clear('a@x.test'))).toBeUndefined();
  });

  it('in process, clears without asking any Redis', async () => {
    const { log, warnings } = recordingLog();
    const failures = new LoginFailures({ redis: null, clock: () => 0, log, keyPrefix: '' }, 1);
    await failures.record('a@x.test');
    await failures.clear('a@x.test');
    expect(await failures.lockedFor('a@x.test')).toBe(0);
    expect(warnings).toEqual([]);
  });
});
