import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';

/** GET /: a person who opens the base URL finds the docs (contract §5). */

const PUBLIC_URL = 'https://tasks.example.com/base';
let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ env: { PUBLIC_URL } });
});
afterAll(async () => t.close());

describe('GET /', () => {
  it('names the service and its version, and links the docs, the document and every API version', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(res.json()).toEqual({
      name: 'Taskforge',
      version,
      docs: `${PUBLIC_URL}/docs`,
      openapi: `${PUBLIC_URL}/openapi.json`,
      versions: [`${PUBLIC_URL}/api/v1`, `${PUBLIC_URL}/api/v2`],
    });
  });

  it('takes no credentials and ignores any that are sent', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/',
      headers: { authorization: 'Bearer nonsense' },
    });
    expect(res.statusCode).toBe(200);
  });

  it('answers HEAD, OPTIONS and a wrong method like every other route', async () => {
    const head = await t.app.inject({ method: 'HEAD', url: '/' });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
    const options = await t.app.inject({ method: 'OPTIONS', url: '/' });
    expect(options.statusCode).toBe(204);
    expect(options.headers.allow).toBe('GET, HEAD, OPTIONS');
    const post = await t.app.inject({ method: 'POST', url: '/', payload: { x: 1 } });
    expect(post.statusCode).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD, OPTIONS');
    expect(post.headers['content-type']).toMatch(/^application\/problem\+json/);
    for (const res of [head, options, post]) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-request-id']).toBeDefined();
    }
  });

  it('is documented in the OpenAPI document as public', async () => {
    const document = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const operation = document.paths['/']?.get;
    expect(operation).toMatchObject({ operationId: 'getServiceInfo', security: [], tags: ['about'] });
    // Like every route but the probes, it sheds load (503 overloaded); 400: an HTTP/1.1 request
    // without Host, whatever the route; 304: a conditional GET naming its ETag (cache-policy.ts).
    expect(Object.keys(operation.responses).sort()).toEqual(['200', '304', '400', '500', '503']);
    expect(operation.responses['200'].headers['Cache-Control'].schema.enum).toEqual(['public, no-cache']);
    expect(operation.responses['200'].headers.ETag).toBeDefined();
    expect(operation.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ in: 'header', name: 'if-none-match' })]),
    );
  });
});
