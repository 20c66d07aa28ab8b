import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPRESSION_THRESHOLD_BYTES } from '../../src/plugins/compression.js';
import { baseUrlOf, openStream } from '../events/stream-client.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';

/** Response compression: above the threshold only, negotiated, never the event stream, ETags kept. */

let t: TestApp;
let headers: Record<string, string>;
beforeAll(async () => {
  t = await buildTestApp();
  headers = (await signedIn(t.app)).headers;
});
afterAll(async () => t.close());

/** A task whose JSON is well above the threshold (its description is 4,000 characters). */
async function bigTask(): Promise<{ id: string }> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/api/v1/tasks',
    headers,
    payload: { title: 'big', description: 'lorem ipsum '.repeat(333) },
  });
  expect(res.statusCode).toBe(201);
  return res.json();
}

function get(url: string, extra: Record<string, string> = {}) {
  return t.app.inject({ method: 'GET', url, headers: { ...headers, ...extra } });
}

function varyNames(value: unknown): string[] {
  return String(value ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name.length > 0);
}

describe('compression', () => {
  it('compresses a reply above the threshold with br or gzip as Accept-Encoding prefers', async () => {
    const task = await bigTask();
    const plain = await get(`/api/v1/tasks/${task.id}`);
    expect(Buffer.byteLength(plain.body)).toBeGreaterThan(COMPRESSION_THRESHOLD_BYTES);

    const gzip = await get(`/api/v1/tasks/${task.id}`, { 'accept-encoding': 'gzip' });
    expect(gzip.headers['content-encoding']).toBe('gzip');
    expect(Number(gzip.headers['content-length'])).toBe(gzip.rawPayload.length);
    expect(gzip.rawPayload.length).toBeLessThan(Buffer.byteLength(plain.body) / 4);
    expect(gunzipSync(gzip.rawPayload).toString()).toBe(plain.body);

    const br = await get(`/api/v1/tasks/${task.id}`, { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.rawPayload).toString()).toBe(plain.body);

    const gzipPreferred = await get(`/api/v1/tasks/${task.id}`, { 'accept-encoding': 'br;q=0.5, gzip' });
    expect(gzipPreferred.headers['content-encoding']).toBe('gzip');
    const refused = await get(`/api/v1/tasks/${task.id}`, { 'accept-encoding': 'identity' });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(refused.body).toBe(plain.body);
  });

  it('says Vary: Accept-Encoding once, beside the credentials, compressed or not', async () => {
    const task = await bigTask();
    for (const encoding of ['gzip', 'br', 'identity', undefined]) {
      const res = await get(`/api/v1/tasks/${task.id}`, encoding ? { 'accept-encoding': encoding } : {});
      const names = varyNames(res.headers.vary);
      expect(names, encoding).toEqual(['authorization', 'x-api-key', 'origin', 'accept-encoding']);
      expect(String(res.headers.vary)).toContain('Accept-Encoding');
    }
  });

  it('never compresses a small reply, nor says it varies by encoding', async () => {
    const task = (
      await t.app.inject({ method: 'POST', url: '/api/v1/tasks', headers, payload: { title: 'small' } })
    ).json();
    const res = await get(`/api/v1/tasks/${task.id}`, { 'accept-encoding': 'gzip, br' });
    expect(Buffer.byteLength(res.body)).toBeLessThan(COMPRESSION_THRESHOLD_BYTES);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(varyNames(res.headers.vary)).not.toContain('accept-encoding');
    const problem = await get('/api/v1/tasks/nope', { 'accept-encoding': 'gzip' });
    expect(problem.statusCode).toBe(404);
    expect(problem.headers['content-encoding']).toBeUndefined();
  });

  it('keeps the ETag: 304 on If-None-Match, and If-Match passes with the tag of a compressed reply', async () => {
    const task = await bigTask();
    const first = await get(`/api/v1/tasks/${task.id}`, { 'accept-encoding': 'gzip' });
    expect(first.headers['content-encoding']).toBe('gzip');
    expect(first.headers.etag).toBe('"1"');
    const again = await get(`/api/v1/tasks/${task.id}`, {
      'accept-encoding': 'gzip',
      'if-none-match': String(first.headers.etag),
    });
    expect(again.statusCode).toBe(304);
    expect(again.rawPayload.length).toBe(0);
    expect(again.headers['content-encoding']).toBeUndefined();
    const write = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/tasks/${task.id}`,
      headers: { ...headers, 'if-match': String(first.headers.etag), 'accept-encoding': 'gzip' },
      payload: { title: 'renamed' },
    });
    expect(write.statusCode).toBe(200);
    expect(write.headers.etag).toBe('"2"');
    expect(write.headers['content-encoding']).toBe('gzip');
  });

  it('compresses the OpenAPI document and the docs assets', async () => {
    const doc = await t.app.inject({
      method: 'GET',
      url: '/openapi.json',
      headers: { 'accept-encoding': 'br' },
    });
    expect(doc.statusCode).toBe(200);
    expect(doc.headers['content-encoding']).toBe('br');
    expect(JSON.parse(brotliDecompressSync(doc.rawPayload).toString())).toHaveProperty('openapi', '3.1.0');
  });

  it('never compresses the event stream, which arrives as it is written', async () => {
    const base = await baseUrlOf(t.app);
    const client = await openStream(base, { ...headers, 'accept-encoding': 'gzip, br' });
    try {
      expect(client.status).toBe(200);
      expect(client.headers['content-encoding']).toBeUndefined();
      expect(client.text).toMatch(/^: events after /);
    } finally {
      client.close();
    }
  });
});
