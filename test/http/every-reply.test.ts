import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBLEMS } from '../../src/errors.js';
import { fieldItems } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn, type Tokens } from '../helpers/factories.js';
import { sampleRoutes } from '../helpers/sample-routes.js';

/**
 * Every reply is ours (issue 7, item 5): the framework's own errors, caching decided on the
 * matched route, strict JSON bodies, refresh tokens held to the text rule, strict entity tags.
 */
let t: TestApp;
let auth: Record<string, string>;
let tokens: Tokens;
/** The security headers of an ordinary reply: every reply carries them. */
let usual: Record<string, unknown>;
beforeAll(async () => {
  t = await buildTestApp({ apiRoutes: [sampleRoutes], env: { CORS_ORIGINS: 'https://app.example.com' } });
  const { headers } = await t.app.inject({ method: 'GET', url: '/health/live' });
  // Vary and Cache-Control are checked apart: each follows its route's cache policy (task replies
  // are private and add Authorization and X-API-Key to Vary; health is no-store).
  const own = [
    'content-type',
    'content-length',
    'date',
    'connection',
    'x-request-id',
    'vary',
    'cache-control',
  ];
  usual = Object.fromEntries(Object.entries(headers).filter(([name]) => !own.includes(name)));
  expect(headers.vary).toBe('Origin');
  expect(usual['x-content-type-options']).toBe('nosniff');
  expect(usual['content-security-policy']).toMatch(/default-src 'none'/);
  const caller = await signedIn(t.app);
  auth = caller.headers;
  tokens = caller.tokens;
});
afterAll(async () => t.close());

type Reply = { statusCode: number; headers: Record<string, unknown>; json(): unknown };

function expectOurProblem(res: Reply, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
  const body = res.json() as Record<string, unknown>;
  expect(body).toMatchObject({ status, code, title: PROBLEMS[code as keyof typeof PROBLEMS].title });
  expect(body.requestId).toBe(res.headers['x-request-id']);
  expect(res.headers).toMatchObject(usual);
  expect(String(res.headers.vary).split(/, */)).toContain('Origin');
  return body;
}

describe("the framework's own errors", () => {
  it.each([
    ['bad percent-encoding in an id', '/api/v1/tasks/%ZZ'],
    ['a byte that is not UTF-8 in a slug', '/problems/%ff'],
    ['bad percent-encoding in a private path', '/api/v1/users/%E0%A4%A'],
    ['bad percent-encoding in a static segment', '/api/v2/%ZZ/tasks'],
    ['an id over the router limit', `/api/v1/tasks/${'a'.repeat(600)}`],
    ['an id over the router limit in a v2 private path', `/api/v2/users/${'b'.repeat(501)}`],
  ])('%s is a 404 problem with every usual header', async (_name, url) => {
    for (const method of ['GET', 'DELETE'] as const) {
      const res = await t.app.inject({ method, url, headers: { 'x-request-id': 'trace-7' } });
      const body = expectOurProblem(res, 404, 'not_found');
      expect(res.headers['x-request-id']).toBe('trace-7');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(body.instance).toBe(url);
      expect(JSON.stringify(body)).not.toMatch(/FST_ERR/);
    }
  });

  it('carries the CORS headers an allowed origin gets on any reply', async () => {
    const origin = 'https://app.example.com';
    const ordinary = await t.app.inject({
      method: 'GET',
      url: '/api/v1/tasks',
      headers: { ...auth, origin },
    });
    expect(ordinary.headers['access-control-allow-origin']).toBe(origin);
    for (const [method, url] of [
      ['GET', '/api/v1/tasks/%ZZ'],
      ['PUT', '/api/v1/tasks'],
      ['POST', '/api/v1/nothing'],
    ] as const) {
      const res = await t.app.inject({ method, url, headers: { origin } });
      expect(res.headers['access-control-allow-origin'], url).toBe(origin);
      expect(res.headers['access-control-expose-headers']).toBe(
        ordinary.headers['access-control-expose-headers'],
      );
      const stranger = await t.app.inject({ method, url, headers: { origin: 'https://evil.example' } });
      expect(stranger.headers['access-control-allow-origin']).toBeUndefined();
    }
  });
});

describe('Cache-Control: no-store follows the matched route', () => {
  it('covers a private route however its path is spelled', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/%61uth/login',
      payload: { email: 'nobody@example.com', password: 'wrong password!' },
    });
    expect(res.statusCode).toBe(401);
    expect(res.headers['cache-control']).toBe('no-store');
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/%75sers/me', headers: auth });
    expect(me.statusCode).toBe(200);
    expect(me.headers['cache-control']).toBe('no-store');
  });

  it('covers the 405 and OPTIONS replies of private routes; every OPTIONS reply is no-store', async () => {
    for (const url of [
      '/api/v1/auth/login',
      '/api/v1/%61uth/login',
      '/api/v2/users/me',
      '/api/v1/users/abc',
    ]) {
      const wrong = await t.app.inject({ method: 'PUT', url, headers: auth });
      expectOurProblem(wrong, 405, 'method_not_allowed');
      expect(wrong.headers['cache-control'], url).toBe('no-store');
      const options = await t.app.inject({ method: 'OPTIONS', url });
      expect(options.statusCode).toBe(204);
      expect(options.headers['cache-control'], url).toBe('no-store');
    }
    const preflight = await t.app.inject({
      method: 'OPTIONS',
      url: '/api/v1/%61uth/token',
      headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers['cache-control']).toBe('no-store');
    // An OPTIONS reply is not cacheable (RFC 9110 §9.3.7), on any path: no-store says so.
    const tasks = await t.app.inject({ method: 'OPTIONS', url: '/api/v1/tasks' });
    expect(tasks.statusCode).toBe(204);
    expect(tasks.headers['cache-control']).toBe('no-store');
  });
});

describe('JSON bodies', () => {
  const post = (payload: string | Buffer, type = 'application/json') =>
    t.app.inject({ method: 'POST', url: '/api/v1/samples', headers: { 'content-type': type }, payload });
  const patch = (payload: string | Buffer) =>
    t.app.inject({
      method: 'PATCH',
      url: '/api/v1/samples/1',
      headers: { 'content-type': 'application/merge-patch+json' },
      payload,
    });

  it('refuses invalid UTF-8 with 400 malformed_json instead of storing U+FFFD', async () => {
    const bytes = Buffer.concat([Buffer.from('{"title":"caf'), Buffer.from([0xe9]), Buffer.from('"}')]);
    expectOurProblem(await post(bytes), 400, 'malformed_json');
    expectOurProblem(await patch(bytes), 400, 'malformed_json');
    const overlong = Buffer.concat([Buffer.from('{"title":"'), Buffer.from([0xc0, 0xa2]), Buffer.from('"}')]);
    expectOurProblem(await post(overlong), 400, 'malformed_json');
    const fine = await post(Buffer.from('{"title":"café 😀"}'));
    expect(fine.statusCode).toBe(201);
    expect(fine.json().title).toBe('café 😀');
  });

  it.each([
    ['at the top', '{"title":"a","title":"b"}'],
    ['inside an object', '{"title":"a","tags":["x"],"count":1,"count":2}'],
    ['written with an escape', '{"title":"a","\\u0074itle":"b"}'],
  ])('refuses a key given twice %s with 400 malformed_json', async (_name, payload) => {
    expectOurProblem(await post(payload), 400, 'malformed_json');
    expectOurProblem(await patch(payload), 400, 'malformed_json');
  });

  it('refuses a key given twice deep inside, on any route that takes JSON', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{"title":"a","extra":[{"k":{"x":1,"x":2}}]}',
    });
    expectOurProblem(res, 400, 'malformed_json');
  });

  it('takes the same key in different objects, and keeps refusing prototype keys', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{"title":"a","x":{"title":1},"y":[{"title":2},{"title":3}]}',
    });
    expect(fieldItems(res)).toEqual([
      ['/x', 'unknown_field'],
      ['/y', 'unknown_field'],
    ]);
    expectOurProblem(await post('{"title":"a","__proto__":{"admin":true}}'), 400, 'malformed_json');
    expectOurProblem(await patch('{"constructor":{"prototype":{"x":1}}}'), 400, 'malformed_json');
  });

  it('refuses nesting deeper than 64 levels with 400 malformed_json', async () => {
    const nest = (depth: number) => `{"title":"a","x":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
    expect(fieldItems(await post(nest(64)))).toEqual([['/x', 'unknown_field']]);
    expectOurProblem(await post(nest(65)), 400, 'malformed_json');
  });
});

describe('refresh tokens follow the text rule', () => {
  it.each(['a\u0000b', 'tfr_\u0007', 'x\u007f', '\ud800'])(
    '%j is a 422 on /auth/refresh and /auth/logout',
    async (bad) => {
      const refreshed = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refreshToken: bad },
      });
      expectOurProblem(refreshed, 422, 'validation_failed');
      expect(fieldItems(refreshed)).toEqual([['/refreshToken', 'pattern']]);
      const logout = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout',
        headers: auth,
        payload: { refreshToken: bad },
      });
      expect(fieldItems(logout)).toEqual([['/refreshToken', 'pattern']]);
      // Nothing ended: the caller's session still works.
      const me = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: auth });
      expect(me.statusCode).toBe(200);
    },
  );

  it('is a 400 invalid_request on /auth/token', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: `${tokens.refreshToken}\u0001`,
      }).toString(),
    });
    expectOurProblem(res, 400, 'validation_failed');
    expect(res.json()).toMatchObject({ error: 'invalid_request' });
  });
});

describe('entity tags', () => {
  async function newTask() {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: auth,
      payload: { title: 'x' },
    });
    return res.json() as { id: string };
  }

  it.each(['2', '1', 'W/1', '"1', '"1" "2"', '*, "1"', ''])(
    'If-Match %j is a 422 on /header/if-match, not a 412, and changes nothing',
    async (value) => {
      const task = await newTask();
      for (const method of ['PATCH', 'PUT', 'DELETE'] as const) {
        const res = await t.app.inject({
          method,
          url: `/api/v1/tasks/${task.id}`,
          headers: { ...auth, 'if-match': value },
          ...(method === 'DELETE' ? {} : { payload: { title: 'changed' } }),
        });
        expectOurProblem(res, 422, 'validation_failed');
        expect(res.json().errors).toEqual([
          { pointer: '/header/if-match', code: 'format', detail: expect.stringContaining('entity tags') },
        ]);
      }
      const after = await t.app.inject({ method: 'GET', url: `/api/v1/tasks/${task.id}`, headers: auth });
      expect(after.json()).toMatchObject({ title: 'x', version: 1 });
    },
  );

  it('an invalid If-None-Match is a 422 on /header/if-none-match', async () => {
    const task = await newTask();
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/tasks/${task.id}`,
      headers: { ...auth, 'if-none-match': '1' },
    });
    expectOurProblem(res, 422, 'validation_failed');
    expect(fieldItems(res)).toEqual([['/header/if-none-match', 'format']]);
  });

  it('a valid list still decides: a match proceeds, a mismatch is 412', async () => {
    const task = await newTask();
    const stale = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/tasks/${task.id}`,
      headers: { ...auth, 'if-match': ' "7" , W/"1"' },
      payload: { title: 'y' },
    });
    expectOurProblem(stale, 412, 'precondition_failed');
    const ok = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/tasks/${task.id}`,
      headers: { ...auth, 'if-match': '"7", "1"' },
      payload: { title: 'y' },
    });
    expect(ok.statusCode).toBe(200);
  });
});
