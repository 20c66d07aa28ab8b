import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { parseRaw, rawRequest } from '../helpers/http.js';
import { sampleRoutes } from '../helpers/sample-routes.js';

/** What only a real socket shows: Node's own errors, headers on the wire, CORS over fetch. */
let t: TestApp;
let base: string;
let port: number;

beforeAll(async () => {
  t = await buildTestApp({
    apiRoutes: [sampleRoutes],
    env: { REQUEST_TIMEOUT: '1s', CORS_ORIGINS: 'https://app.example.com', BODY_LIMIT_BYTES: '2048' },
  });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => t.close());

function expectHandWrittenProblem(raw: string, status: number, code: string) {
  const res = parseRaw(raw);
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/problem+json');
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
  expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  expect(body).toMatchObject({ status, code, requestId: res.headers['x-request-id'] });
}

describe('errors Node reports before Fastify sees a request', () => {
  it('answers headers over 16 KiB with 431 headers_too_large', async () => {
    const raw = await rawRequest(
      port,
      `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17_000)}\r\n\r\n`,
    );
    expectHandWrittenProblem(raw, 431, 'headers_too_large');
  });

  it('answers a request that is not HTTP with 400', async () => {
    const raw = await rawRequest(port, 'HELLO WORLD\r\n\r\n');
    expectHandWrittenProblem(raw, 400, 'malformed_json');
  });

  it('answers headers that never finish with 408 request_timeout', async () => {
    const raw = await rawRequest(port, 'POST /api/v1/samples HTTP/1.1\r\nHost: x\r\n');
    expectHandWrittenProblem(raw, 408, 'request_timeout');
  });

  it('answers a body that never finishes with 408 request_timeout and closes the connection', async () => {
    const raw = await rawRequest(
      port,
      'POST /api/v1/samples HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"ti',
    );
    const res = parseRaw(raw);
    expect(res.status).toBe(408);
    expect(res.headers.connection).toBe('close');
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(JSON.parse(res.body)).toMatchObject({ status: 408, code: 'request_timeout' });
  });
});

describe('headers on the wire', () => {
  it('sends security headers and the request id, and no X-Powered-By or Server version', async () => {
    const res = await fetch(`${base}/health/live`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none';frame-ancestors 'none'");
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('server')).toBeNull();
  });

  it('puts the security headers on 405 and 404 replies too', async () => {
    for (const res of [
      await fetch(`${base}/health/live`, { method: 'DELETE' }),
      await fetch(`${base}/nope`),
    ]) {
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(res.headers.get('x-request-id')).toBeTruthy();
    }
  });

  it('enforces BODY_LIMIT_BYTES for routes without a tighter limit', async () => {
    const res = await fetch(`${base}/api/v1/samples/1`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ description: 'x'.repeat(3000) }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe('payload_too_large');
  });
});

describe('CORS', () => {
  it('allows a configured origin, with Vary: Origin, exposed headers and no credentials', async () => {
    const res = await fetch(`${base}/health/live`, { headers: { origin: 'https://app.example.com' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(res.headers.get('vary')).toContain('Origin');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('access-control-expose-headers')).toContain('X-Request-Id');
    expect(res.headers.get('access-control-expose-headers')).toContain('RateLimit-Remaining');
  });

  it('gives nothing to another origin, and never *', async () => {
    const res = await fetch(`${base}/health/live`, { headers: { origin: 'https://evil.example.com' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('vary')).toContain('Origin');
  });

  it('answers a preflight from a configured origin with the allowed request headers', async () => {
    const res = await fetch(`${base}/api/v1/samples`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, idempotency-key',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const h of [
      'authorization',
      'content-type',
      'if-match',
      'if-none-match',
      'idempotency-key',
      'x-api-key',
    ]) {
      expect(allowed).toContain(h);
    }
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('answers a preflight from another origin without CORS headers', async () => {
    const res = await fetch(`${base}/api/v1/samples`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});
