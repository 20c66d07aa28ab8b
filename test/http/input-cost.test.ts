import type { InjectOptions as Inject } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldItems } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';

/**
 * No input costs more than a normal request (contract §1), seen over HTTP: hostile bodies are
 * answered like ordinary ones of the same size, and the credential routes read at most 16 KiB.
 * The rules themselves are measured on 1 MB inputs in test/lib/input-cost.test.ts.
 */
let t: TestApp;
let auth: Record<string, string>;
beforeAll(async () => {
  t = await buildTestApp();
  auth = (await signedIn(t.app)).headers;
});
afterAll(async () => t.close());

const JSON_TYPE = { 'content-type': 'application/json' };

/** The fastest of a few runs of one request, in CPU milliseconds of this process. */
async function cpuCost(request: Inject): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    const start = process.cpuUsage();
    await t.app.inject(request);
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / 1000);
  }
  return best;
}

/** The bound every hostile request is held to: at most this many times a normal request's cost (the
 * unbounded rules it guards against measured 16× to 380× before their fixes). */
const BOUND = 8;

/**
 * The hostile request's CPU cost over the normal one's: the smallest ratio of up to five tries,
 * so a busy machine does not fail a cheap rule (a costly one cannot get lucky five times).
 */
async function relativeCost(hostile: Inject, normal: Inject): Promise<number> {
  let ratio = Number.POSITIVE_INFINITY;
  for (let attempt = 0; attempt < 5 && ratio >= BOUND; attempt++) {
    ratio = Math.min(ratio, (await cpuCost(hostile)) / (await cpuCost(normal)));
  }
  return ratio;
}

describe('a 60,000-space title', () => {
  // An ordinary title of the same size is the normal request it is compared with.
  const ordinary = 'a'.repeat(60_002);

  it.each([
    ['only spaces', ' '.repeat(60_000), 'too_short'],
    ['spaces between two letters', `a${' '.repeat(60_000)}b`, 'too_long'],
    // 24,000 characters, 54 KB of UTF-8: the most of them a task body holds.
    [
      'a mix of Unicode White_Space between two letters',
      `a${' \u0085\u3000\u2028'.repeat(6_000)}b`,
      'too_long',
    ],
  ])('of %s is answered like an ordinary title of that size', async (_name, title, code) => {
    const request = (value: string): Inject => ({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: auth,
      payload: { title: value },
    });
    const res = await t.app.inject(request(title));
    expect(res.statusCode).toBe(422);
    expect(fieldItems(res)).toEqual([['/title', code]]);
    // Measured before the fix: about 3.8 s against 10 ms for the letters around spaces.
    expect(await relativeCost(request(title), request(ordinary))).toBeLessThan(BOUND);
  });
});

describe('credential routes take bodies of at most 16 KiB', () => {
  const padded = (size: number) => JSON.stringify({ email: 'ada@example.com', password: 'x'.repeat(size) });

  it.each(['/auth/register', '/auth/login', '/auth/refresh'])('%s answers 413 above 16 KiB', async (path) => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1${path}`,
      headers: JSON_TYPE,
      payload: padded(16_400),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('payload_too_large');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('takes a body just under the limit', async () => {
    const payload = padded(16_000);
    expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(16_384);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: JSON_TYPE,
      payload,
    });
    expect(res.statusCode).toBe(422); // the password is longer than any password
  });

  it.each(['/auth/logout', '/auth/logout-all'])('%s answers 413 above 16 KiB', async (path) => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1${path}`,
      headers: { ...auth, ...JSON_TYPE },
      payload: JSON.stringify({ refreshToken: 'x'.repeat(17_000) }),
    });
    expect(res.statusCode).toBe(413);
  });

  it('/auth/token answers 413 above 16 KiB, for a form and for any other type', async () => {
    for (const [type, payload] of [
      ['application/x-www-form-urlencoded', `grant_type=password&username=a&password=${'x'.repeat(17_000)}`],
      ['application/json', JSON.stringify({ grant_type: 'x'.repeat(17_000) })],
    ]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/token',
        headers: { 'content-type': type ?? '' },
        payload,
      });
      expect(res.statusCode, type).toBe(413);
    }
  });

  it('a login body of 90,000 unknown keys is refused before it is parsed', async () => {
    const payload = `{${Array.from({ length: 90_000 }, (_, i) => `"k${i}":0`).join(',')}}`;
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: JSON_TYPE,
      payload,
    });
    expect(res.statusCode).toBe(413);
    const normal: Inject = {
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: JSON_TYPE,
      payload: JSON.stringify({ email: 'nobody@example.com' }),
    };
    const hostile: Inject = { method: 'POST', url: '/api/v1/auth/login', headers: JSON_TYPE, payload };
    // Measured before the fix: about 300 ms against 1 ms.
    expect(await relativeCost(hostile, normal)).toBeLessThan(BOUND);
  });
});

describe('other hostile bodies', () => {
  it('a path the app does not serve is answered 404 without reading the body', async () => {
    const payload = `{${Array.from({ length: 90_000 }, (_, i) => `"k${i}":0`).join(',')}}`;
    const request = (body: string): Inject => ({
      method: 'POST',
      url: '/api/v1/nothing-here',
      headers: JSON_TYPE,
      payload: body,
    });
    const res = await t.app.inject(request(`${payload.slice(0, -1)},`));
    expect(res.statusCode).toBe(404); // a malformed body is not even looked at
    expect(res.headers['cache-control']).toBe('no-store');
    expect(await relativeCost(request(payload), request('{}'))).toBeLessThan(BOUND);
  });

  it('a task body of 30,000 bad tags or 6,000 unknown keys costs about what a normal task does', async () => {
    const post = (payload: string): Inject => ({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { ...auth, ...JSON_TYPE },
      payload,
    });
    const tags = post(`{"title":"x","tags":[${Array(30_000).fill(1).join(',')}]}`);
    const keys = post(`{"title":"x",${Array.from({ length: 6_000 }, (_, i) => `"k${i}":0`).join(',')}}`);
    const bad = await t.app.inject(tags);
    expect(bad.statusCode).toBe(422);
    expect(fieldItems(bad)).toContainEqual(['/tags', 'too_long']);
    expect(bad.json().errors).toHaveLength(50);
    // The normal request: a refused body of the same size.
    const normal = post(JSON.stringify({ title: 'x', description: `${'y'.repeat(60_000)}\u0001` }));
    expect(await relativeCost(tags, normal)).toBeLessThan(BOUND);
    expect(await relativeCost(keys, normal)).toBeLessThan(BOUND);
  });

  it('a query of 16,000 commas costs about what a normal list does', async () => {
    const list = (query: string): Inject => ({ method: 'GET', url: `/api/v1/tasks?${query}`, headers: auth });
    const res = await t.app.inject(list(`status=${','.repeat(16_000)}`));
    expect(res.statusCode).toBe(422);
    expect(
      await relativeCost(list(`status=${','.repeat(16_000)}`), list(`q=${'a'.repeat(16_000)}`)),
    ).toBeLessThan(BOUND);
  });
});
