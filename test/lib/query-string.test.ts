import fc from 'fast-check';
import fastQuerystring from 'fast-querystring';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOT_TEXT, parseQueryString } from '../../src/lib/query-string.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';

describe('parseQueryString', () => {
  it('reads what Fastify’s default parser reads for every query that decodes', () => {
    const part = fc.string({ unit: 'grapheme', maxLength: 8 });
    fc.assert(
      fc.property(fc.array(fc.tuple(part, part, fc.boolean()), { maxLength: 6 }), (pairs) => {
        const raw = pairs
          .map(([k, v, bare]) =>
            bare ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`,
          )
          .join('&');
        expect({ ...parseQueryString(raw) }).toEqual({ ...fastQuerystring.parse(raw) });
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 200) },
    );
  });

  it('reads + as a space, repeated keys as arrays, a bare key as ""', () => {
    expect({ ...parseQueryString('q=a+b&s=1&s=2&s=3&flag&&') }).toEqual({
      q: 'a b',
      s: ['1', '2', '3'],
      flag: '',
    });
  });

  it.each(['%FF', '%ED%A0%80', '%', '%E2%82', 'a%zz'])(
    'a value %j that does not decode is not text',
    (value) => {
      expect(parseQueryString(`q=${value}&ok=%E2%82%AC`)).toMatchObject({ q: NOT_TEXT, ok: '€' });
    },
  );
});

describe('over HTTP', () => {
  let t: TestApp;
  let headers: Record<string, string>;
  beforeAll(async () => {
    t = await buildTestApp();
    headers = (await signedIn(t.app, 'admin')).headers;
  });
  afterAll(async () => t.close());

  it.each(['/tasks?q=%FF', '/tasks?q=%ED%A0%80', '/projects?q=%FF', '/users?q=%C0%AF', '/tasks?status=%FF'])(
    'GET %s → 422 on the parameter',
    async (path) => {
      const res = await t.app.inject({ method: 'GET', url: `/api/v1${path}`, headers });
      expect(res.statusCode, res.body).toBe(422);
      const name = path.slice(path.indexOf('?') + 1).split('=')[0];
      const pointers: string[] = res.json().errors.map((e: { pointer: string }) => e.pointer);
      expect(pointers.some((p) => p === `/query/${name}` || p.startsWith(`/query/${name}/`))).toBe(true);
    },
  );

  it('a value that decodes still works: q=%E2%82%AC (€) → 200', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/tasks?q=%E2%82%AC', headers });
    expect(res.statusCode).toBe(200);
  });
});
