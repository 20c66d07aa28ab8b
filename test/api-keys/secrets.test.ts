import * as crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { issueKey, xApiKey } from './helpers.js';

// The comparison is checked by mechanism: the real timingSafeEqual, watched.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
  // With Redis, the cache serves entries only while its subscription is up: wait for it.
  const cache = t.app.ctx.services.authState as unknown as { subscriber: { status: string } | null };
  for (let i = 0; i < 250 && t.app.ctx.redis && cache.subscriber?.status !== 'ready'; i += 1) {
    await new Promise((r) => setTimeout(r, 20));
  }
});
afterAll(async () => t.close());

const me = (headers: Record<string, string>) =>
  t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers });

describe('how a presented key is checked', () => {
  it('finds the key by its public prefix and compares the hashes with timingSafeEqual', async () => {
    const { headers } = await signedIn(t.app);
    const key = await issueKey(t.app, headers, ['tasks:read']);
    const lookup = vi.spyOn(t.app.ctx.services.apiKeys, 'stateOf');
    const compare = vi.mocked(crypto.timingSafeEqual);
    compare.mockClear();
    const wrong = `${key.key.slice(0, -2)}${key.key.endsWith('AA') ? 'BB' : 'AA'}`;
    expect((await me(xApiKey(wrong))).statusCode).toBe(401);
    // One lookup, by prefix; one constant-time comparison of two SHA-256 digests.
    expect(lookup.mock.calls).toEqual([[key.prefix]]);
    expect(compare).toHaveBeenCalledTimes(1);
    const [a, b] = compare.mock.calls[0] as [Buffer, Buffer];
    expect([a.length, b.length]).toEqual([32, 32]);
    expect(compare.mock.results[0]?.value).toBe(false);

    // The right key: the same comparison says yes, and the key's state now comes from the cache.
    compare.mockClear();
    expect((await me(xApiKey(key.key))).statusCode).toBe(200);
    expect(compare).toHaveBeenCalledTimes(1);
    expect(compare.mock.results[0]?.value).toBe(true);
    // With Redis, this process hears its own invalidations (the key's creation) a moment later.
    for (let i = 0; i < 50 && t.app.ctx.redis; i += 1) await new Promise((r) => setTimeout(r, 10));
    await me(xApiKey(key.key));
    const loads = lookup.mock.calls.length;
    for (let i = 0; i < 3; i += 1) expect((await me(xApiKey(key.key))).statusCode).toBe(200);
    expect(lookup).toHaveBeenCalledTimes(loads); // no database read per request
    lookup.mockRestore();
  });

  it('never looks up a value that is not shaped like a key', async () => {
    const lookup = vi.spyOn(t.app.ctx.services.apiKeys, 'stateOf');
    for (const value of ['tf_', 'tf_0123', 'Bearer', `tf_${'g'.repeat(16)}_${'A'.repeat(43)}`]) {
      expect((await me(xApiKey(value))).statusCode).toBe(401);
    }
    expect(lookup).not.toHaveBeenCalled();
    lookup.mockRestore();
  });
});
