import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';

let t: TestApp;
let guest: Record<string, string>;
beforeAll(async () => {
  t = await buildTestApp();
  guest = (await signedIn(t.app, 'guest')).headers;
});
afterAll(async () => t.close());

const ID = '01935c1e-7a4f-7cc2-a0c3-0c8f4a9e1b2d';
/** One route of each private resource, as [method, path]. */
const PRIVATE: [string, string][] = [
  ['GET', '/tasks'],
  ['GET', `/tasks/${ID}`],
  ['GET', `/tasks/${ID}/comments`],
  ['GET', '/projects'],
  ['GET', `/projects/${ID}/members`],
  ['GET', `/comments/${ID}`],
];

describe('replies under /tasks, /projects and /comments are private, errors included', () => {
  it.each(PRIVATE)(
    '%s %s without credentials: 401, private, no-cache, varying by credentials once',
    async (method, path) => {
      for (const version of ['v1', 'v2']) {
        const res = await t.app.inject({ method: method as 'GET', url: `/api/${version}${path}` });
        expect(res.statusCode).toBe(401);
        expect(res.headers['cache-control']).toBe('private, no-cache');
        const vary = String(res.headers.vary);
        expect(vary.match(/Authorization/g)).toHaveLength(1);
        expect(vary).toContain('X-API-Key');
      }
    },
  );

  it('a 403 of a route policy (a guest creating a task) is private too', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: guest,
      payload: { title: 'x' },
    });
    expect(res.statusCode).toBe(403);
    expect(res.headers['cache-control']).toBe('private, no-cache');
  });

  it('a successful reply carries Vary: Authorization once', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/projects', headers: guest });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('private, no-cache');
    expect(String(res.headers.vary).match(/Authorization/g)).toHaveLength(1);
  });

  it('account replies stay no-store', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/users/me' });
    expect(res.headers['cache-control']).toBe('no-store');
  });
});

describe('405 on a private path', () => {
  it('PUT /projects/{id} is 405 with Allow, private, no-cache', async () => {
    const res = await t.app.inject({ method: 'PUT', url: `/api/v1/projects/${ID}`, headers: guest });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toContain('PATCH');
    expect(res.headers['cache-control']).toBe('private, no-cache');
    expect(String(res.headers.vary)).toContain('Authorization');
  });
});
