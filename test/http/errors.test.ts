import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBLEMS } from '../../src/errors.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { sampleRoutes } from '../helpers/sample-routes.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ apiRoutes: [sampleRoutes] });
});
afterAll(async () => t.close());

const json = { 'content-type': 'application/json' };

function expectProblem(
  res: { statusCode: number; headers: Record<string, unknown>; json(): unknown },
  status: number,
  code: string,
) {
  expect(res.statusCode).toBe(status);
  expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
  const body = res.json() as Record<string, unknown>;
  expect(body.status).toBe(status);
  expect(body.code).toBe(code);
  expect(body.type).toBe(`http://127.0.0.1:3000/problems/${code.replaceAll('_', '-')}`);
  expect(body.title).toBe(PROBLEMS[code as keyof typeof PROBLEMS].title);
  expect(typeof body.detail).toBe('string');
  expect(body.requestId).toBe(res.headers['x-request-id']);
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  return body;
}

describe('framework errors as problem details', () => {
  it('answers an unknown route with 404 not_found', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/nothing-here?x=1' });
    const body = expectProblem(res, 404, 'not_found');
    expect(body.instance).toBe('/api/v1/nothing-here');
  });

  it('gives instance as a URI reference even when the path holds characters a URI may not', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/a{b}|"c"<d>' });
    expectProblem(res, 404, 'not_found');
    expect(res.json().instance).toBe('/api/v1/a%7Bb%7D%7C%22c%22%3Cd%3E');
  });

  it('answers a known path with a wrong method with 405 and Allow, before reading the body', async () => {
    const res = await t.app.inject({ method: 'PUT', url: '/api/v1/samples', headers: json, payload: '{bad' });
    expectProblem(res, 405, 'method_not_allowed');
    expect(res.headers.allow).toBe('GET, HEAD, POST, OPTIONS');
  });

  it('answers a plain OPTIONS with 204 and Allow', async () => {
    const res = await t.app.inject({ method: 'OPTIONS', url: '/api/v2/samples/12' });
    expect(res.statusCode).toBe(204);
    expect(res.headers.allow).toBe('PATCH, DELETE, OPTIONS');
    expect(res.body).toBe('');
  });

  it('answers OPTIONS on an unknown path with 404', async () => {
    const res = await t.app.inject({ method: 'OPTIONS', url: '/api/v1/unknown' });
    expectProblem(res, 404, 'not_found');
  });

  it('answers malformed JSON with 400 malformed_json', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/samples',
      headers: json,
      payload: '{"title":',
    });
    expectProblem(res, 400, 'malformed_json');
  });

  it.each([
    ['__proto__', '{"title":"a","__proto__":{"admin":true}}'],
    ['constructor.prototype', '{"title":"a","constructor":{"prototype":{"admin":true}}}'],
  ])('refuses a body with %s keys with 400 malformed_json', async (_name, payload) => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/samples', headers: json, payload });
    expectProblem(res, 400, 'malformed_json');
  });

  it('refuses __proto__ in a merge-patch body too', async () => {
    const res = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/samples/1',
      headers: { 'content-type': 'application/merge-patch+json' },
      payload: '{"__proto__":{"x":1}}',
    });
    expectProblem(res, 400, 'malformed_json');
  });

  it('answers an empty JSON body on a body route with 400 malformed_json', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/samples', headers: json, payload: '' });
    expectProblem(res, 400, 'malformed_json');
  });

  it('answers a body route with no body and no Content-Type with 400 malformed_json', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/samples' });
    expectProblem(res, 400, 'malformed_json');
  });

  it.each([
    'text/plain',
    'application/xml',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
  ])('answers a %s body with 415', async (type) => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/samples',
      headers: { 'content-type': type },
      payload: 'title=a',
    });
    expectProblem(res, 415, 'unsupported_media_type');
  });

  it('takes merge-patch+json on PATCH but not on POST', async () => {
    const patch = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/samples/7',
      headers: { 'content-type': 'application/merge-patch+json' },
      payload: { title: 'x' },
    });
    expect(patch.statusCode).toBe(200);
    expect(patch.json()).toEqual({ id: '7', title: 'x' });
    const post = await t.app.inject({
      method: 'POST',
      url: '/api/v1/samples',
      headers: { 'content-type': 'application/merge-patch+json' },
      payload: { title: 'x' },
    });
    expectProblem(post, 415, 'unsupported_media_type');
  });

  it('ignores an empty body with any Content-Type on a route without a body', async () => {
    for (const type of ['application/json', 'text/plain', 'application/octet-stream']) {
      const res = await t.app.inject({
        method: 'DELETE',
        url: '/api/v1/samples/1',
        headers: { 'content-type': type },
      });
      expect(res.statusCode).toBe(204);
    }
  });

  it('answers a body over the route limit with 413', async () => {
    const payload = JSON.stringify({ title: 'a', description: 'x'.repeat(70_000) });
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/samples', headers: json, payload });
    expectProblem(res, 413, 'payload_too_large');
  });

  it('answers an unexpected error with a bare 500 that reveals nothing', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/boom' });
    const body = expectProblem(res, 500, 'internal_error');
    expect(res.body).not.toMatch(/hunter2|secret\.ts|at \/|Error:/);
    expect(body.detail).toBe(PROBLEMS.internal_error.title);
  });

  it('a malformed path parameter is simply not found', async () => {
    const res = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/samples/not-a-number',
      headers: json,
      payload: { title: 'x' },
    });
    expectProblem(res, 404, 'not_found');
  });
});

describe('validation without coercion, every field reported', () => {
  async function post(payload: unknown) {
    return t.app.inject({
      method: 'POST',
      url: '/api/v1/samples',
      headers: json,
      payload: JSON.stringify(payload),
    });
  }
  function items(res: { json(): unknown }) {
    return (res.json() as { errors: { pointer: string; code: string }[] }).errors.map((e) => [
      e.pointer,
      e.code,
    ]);
  }

  it('lists every invalid field with a pointer and an item code', async () => {
    const res = await post({ title: '', dueAt: '2031-01-01', tags: 'home', count: 11, status: 'later' });
    const body = expectProblem(res, 422, 'validation_failed');
    expect(items(res)).toEqual(
      expect.arrayContaining([
        ['/title', 'too_short'],
        ['/dueAt', 'format'],
        ['/tags', 'type'],
        ['/count', 'too_large'],
        ['/status', 'enum'],
      ]),
    );
    expect((body.errors as unknown[]).length).toBe(5);
    expect(body.detail).toBe('5 fields are invalid');
  });

  it('does not coerce types', async () => {
    const res = await post({ title: 123, tags: [1], count: '3', description: null });
    expectProblem(res, 422, 'validation_failed');
    expect(items(res)).toEqual(
      expect.arrayContaining([
        ['/title', 'type'],
        ['/tags/0', 'type'],
        ['/count', 'type'],
        ['/description', 'type'],
      ]),
    );
  });

  it('reports a missing required field', async () => {
    const res = await post({});
    expect(items(res)).toEqual([['/title', 'required']]);
  });

  it('refuses unknown and read-only fields instead of stripping them', async () => {
    const res = await post({ title: 'ok', id: 'x', version: 3, role: 'admin', 'a/b~c': 1 });
    expect(items(res)).toEqual(
      expect.arrayContaining([
        ['/id', 'read_only'],
        ['/version', 'read_only'],
        ['/role', 'unknown_field'],
        ['/a~1b~0c', 'unknown_field'],
      ]),
    );
  });

  it('trims titles of Unicode White_Space, U+0085 included, before checking them', async () => {
    const ok = await post({ title: '\u0085\u00a0 Buy milk \u2003\n' });
    expect(ok.statusCode).toBe(201);
    expect(ok.json().title).toBe('Buy milk');
    const blank = await post({ title: ' \u0085\u3000 ' });
    expect(items(blank)).toEqual([['/title', 'too_short']]);
  });

  it('rejects NUL, control characters and lone surrogates in text; descriptions keep \\n \\r \\t', async () => {
    for (const title of ['a\u0000b', 'a\u0007b', 'a\nb', 'a\u0085b', 'a\ud800b']) {
      const res = await post({ title });
      expect(items(res)).toEqual([['/title', 'pattern']]);
    }
    const loneSurrogate = await t.app.inject({
      method: 'POST',
      url: '/api/v1/samples',
      headers: json,
      payload: '{"title":"x\\udc00"}',
    });
    expect(items(loneSurrogate)).toEqual([['/title', 'pattern']]);
    const multiline = await post({ title: 'ok', description: 'line 1\r\n\tline 2' });
    expect(multiline.statusCode).toBe(201);
    const bell = await post({ title: 'ok', description: 'ding\u0007' });
    expect(items(bell)).toEqual([['/description', 'pattern']]);
  });

  it('counts lengths in code points', async () => {
    const emoji = '😀'.repeat(200);
    expect((await post({ title: emoji })).statusCode).toBe(201);
    expect(items(await post({ title: `${emoji}😀` }))).toEqual([['/title', 'too_long']]);
  });

  it.each([
    ['2031-01-01T10:00:00Z', true],
    ['2031-01-01T10:00:00+02:00', true],
    ['2031-01-01T10:00:00.123456789Z', true],
    ['2031-01-01', false],
    ['2031-01-01 10:00:00Z', false],
    ['2031-01-01T23:59:60Z', false],
    ['2031-02-30T10:00:00Z', false],
    ['2031-01-01T10:00:00', false],
    ['2031-01-01T24:00:00Z', false],
    ['not a date', false],
  ])('date-time %s accepted: %s', async (dueAt, accepted) => {
    const res = await post({ title: 'x', dueAt });
    if (accepted) expect(res.statusCode).toBe(201);
    else expect(items(res)).toEqual([['/dueAt', 'format']]);
  });

  it('accepts null only where the schema says so', async () => {
    expect((await post({ title: 'x', dueAt: null })).statusCode).toBe(201);
    expect(items(await post({ title: null }))).toEqual([['/title', 'type']]);
  });

  it('caps errors[] at 50 entries', async () => {
    const body: Record<string, number> = { title: 1 };
    for (let i = 0; i < 80; i += 1) body[`extra${i}`] = i;
    const res = await post(body);
    expect((res.json() as { errors: unknown[] }).errors).toHaveLength(50);
  });
});

describe('query validation', () => {
  async function get(query: string) {
    return t.app.inject({ method: 'GET', url: `/api/v1/samples${query}` });
  }
  function items(res: { json(): unknown }) {
    return (res.json() as { errors: { pointer: string; code: string }[] }).errors.map((e) => [
      e.pointer,
      e.code,
    ]);
  }

  it('coerces scalars and splits comma lists, repeated or not', async () => {
    const res = await get('?page=2&status=todo,done&status=in_progress');
    expect(res.statusCode).toBe(200);
    expect(res.json().query).toEqual({ page: 2, status: ['todo', 'done', 'in_progress'] });
  });

  it('refuses unknown parameters, bad values and repeated single-valued ones with pointers', async () => {
    const res = await get('?page=0&status=todo,later&sort=x&q=a&q=b');
    expect(res.statusCode).toBe(422);
    expect(items(res)).toEqual(
      expect.arrayContaining([
        ['/query/page', 'too_small'],
        ['/query/status/1', 'enum'],
        ['/query/sort', 'unknown_field'],
        ['/query/q', 'duplicate'],
      ]),
    );
  });

  it('refuses a page that is not an integer', async () => {
    expect(items(await get('?page=1.5'))).toEqual([['/query/page', 'type']]);
    expect(items(await get('?page=abc'))).toEqual([['/query/page', 'type']]);
  });

  it('rejects control characters in the query string', async () => {
    expect(items(await get('?q=a%00b'))).toEqual([['/query/q', 'pattern']]);
    expect(items(await get('?q=a%1Fb'))).toEqual([['/query/q', 'pattern']]);
  });
});

describe('request ids', () => {
  it('echoes a well-formed X-Request-Id and replaces a bad one', async () => {
    const good = await t.app.inject({
      method: 'GET',
      url: '/health/live',
      headers: { 'x-request-id': 'abc.DEF_1-2' },
    });
    expect(good.headers['x-request-id']).toBe('abc.DEF_1-2');
    for (const bad of ['has space', 'x'.repeat(129), 'semi;colon', '']) {
      const res = await t.app.inject({
        method: 'GET',
        url: '/health/live',
        headers: { 'x-request-id': bad },
      });
      expect(res.headers['x-request-id']).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      );
    }
  });

  it('puts the request id in error bodies', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': 'trace-42' } });
    expect(res.json().requestId).toBe('trace-42');
  });
});
