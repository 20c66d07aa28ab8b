import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { parseRaw, rawRequest } from '../helpers/http.js';
import { operationsOf } from './operations.js';

/**
 * What the hostile-input campaign (hostile-input.test.ts) found, one regression test each, so a
 * finding stays fixed even when the generators no longer happen to produce it.
 */
let t: TestApp;
let auth: Record<string, string>;
let port: number;
beforeAll(async () => {
  t = await buildTestApp();
  auth = (await signedIn(t.app)).headers;
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as AddressInfo).port;
});

/** A raw reply is a problem of ours: status, code, and the headers every reply carries. */
function expectRawProblem(raw: string, status: number, code: string) {
  const res = parseRaw(raw);
  expect(res.status, raw.slice(0, 200)).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['x-request-id']).toBeTruthy();
  expect(JSON.parse(res.body)).toMatchObject({ status, code, requestId: res.headers['x-request-id'] });
  return res;
}
afterAll(async () => t.close());

describe('finding 1: a body sent to a route that takes none', () => {
  it('is parsed like any body (400, 413, 415), and those replies are documented', async () => {
    const task = (
      await t.app.inject({ method: 'POST', url: '/api/v1/tasks', headers: auth, payload: { title: 'x' } })
    ).json() as { id: string };
    const url = `/api/v1/tasks/${task.id}`;
    const send = (type: string, payload: string) =>
      t.app.inject({ method: 'DELETE', url, headers: { ...auth, 'content-type': type }, payload });
    expect((await send('text/plain', 'x')).json()).toMatchObject({
      status: 415,
      code: 'unsupported_media_type',
    });
    expect((await send('application/json', '{')).json()).toMatchObject({
      status: 400,
      code: 'malformed_json',
    });
    const big = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout-all',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: JSON.stringify({ pad: 'x'.repeat(20_000) }),
    });
    expect(big.json()).toMatchObject({ status: 413, code: 'payload_too_large' });
    // The task is still there: nothing was deleted by a refused request.
    expect((await t.app.inject({ method: 'GET', url, headers: auth })).statusCode).toBe(200);

    const operations = await operationsOf(t.app);
    const bodyMethods = operations.filter((o) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(o.method));
    expect(bodyMethods.map((o) => `${o.method} ${o.path}`)).toContain('DELETE /api/v1/tasks/{id}');
    for (const operation of bodyMethods) {
      for (const status of [400, 413, 415]) {
        expect(
          operation.statuses.has(status),
          `${operation.method} ${operation.path} documents ${status}`,
        ).toBe(true);
      }
    }
  });
});

describe('finding 2: an HTTP/1.1 request without a Host header', () => {
  it("is a 400 problem with the usual headers, not Node's bare 400, and the 400 is documented", async () => {
    for (const line of ['GET /api/v1/users/me', 'DELETE /api/v1/tasks/x', 'GET /health/live']) {
      const raw = await rawRequest(port, `${line} HTTP/1.1\r\nAuthorization: ${auth.authorization}\r\n\r\n`);
      const res = expectRawProblem(raw, 400, 'malformed_json');
      expect(res.headers.connection).toBe('close');
    }
    // HTTP/1.0 has no Host requirement; with one, HTTP/1.1 is served as usual.
    expect(parseRaw(await rawRequest(port, 'GET /health/live HTTP/1.0\r\n\r\n')).status).toBe(200);
    const ok = await rawRequest(port, 'GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(parseRaw(ok).status).toBe(200);
    for (const operation of await operationsOf(t.app)) {
      expect(operation.statuses.has(400), `${operation.method} ${operation.path} documents 400`).toBe(true);
    }
  });
});

describe('finding 3: a CONNECT request', () => {
  it('is a 405 with Allow on a path the service serves, a 404 elsewhere, never a silent close', async () => {
    const known = await rawRequest(port, 'CONNECT /api/v1/tasks HTTP/1.1\r\nHost: x\r\n\r\n');
    const res = expectRawProblem(known, 405, 'method_not_allowed');
    expect(res.headers.allow).toBe('GET, HEAD, POST, OPTIONS');
    expectRawProblem(
      await rawRequest(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'),
      404,
      'not_found',
    );
    expectRawProblem(
      await rawRequest(port, 'CONNECT /api/v1/tasks/%ZZ HTTP/1.1\r\nHost: x\r\n\r\n'),
      404,
      'not_found',
    );
    // The server keeps serving.
    const ok = await rawRequest(port, 'GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(parseRaw(ok).status).toBe(200);
  });
});
