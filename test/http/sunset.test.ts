import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { V2_RELEASED_AT } from '../../src/plugins/sunset.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';

const PUBLIC = 'https://tasks.example.com';
let t: TestApp;
let off: TestApp;
let me: Record<string, string>;
beforeAll(async () => {
  t = await buildTestApp({
    env: { API_V1_SUNSET: '2030-06-30', PUBLIC_URL: PUBLIC, CORS_ORIGINS: 'https://app.example.com' },
  });
  off = await buildTestApp();
  me = (await signedIn(t.app)).headers;
});
afterAll(async () => {
  await t.close();
  await off.close();
});

const DEPRECATION = `@${Math.floor(V2_RELEASED_AT / 1000)}`;
const links = (rest: string) =>
  `<${PUBLIC}/api/v2${rest}>; rel="successor-version", <${PUBLIC}/docs>; rel="deprecation"`;

describe('API_V1_SUNSET: every v1 reply announces the end of version 1', () => {
  it('the release of version 2 is 2026-11-22T04:29:16Z', () => {
    expect(new Date(V2_RELEASED_AT).toISOString()).toBe('2026-11-22T04:29:16.000Z');
  });

  it.each([
    ['GET', '/api/v1/users/me', 'me', 200],
    ['GET', '/api/v1/users/me', 'none', 401],
    ['POST', '/api/v1/tasks', 'me', 422],
    ['GET', '/api/v1/nothing-here?x=1', 'none', 404],
    ['PUT', '/api/v1/projects/01935c1e-7a4f-7cc2-a0c3-0c8f4a9e1b2d', 'me', 405],
    ['OPTIONS', '/api/v1/tasks', 'none', 204],
  ] as const)('%s %s (%s) → %i with Deprecation, Sunset and both links', async (method, url, who, status) => {
    const res = await t.app.inject({
      method,
      url,
      headers: who === 'me' ? me : {},
      ...(method === 'POST' ? { payload: { title: 1 } } : {}),
    });
    expect(res.statusCode).toBe(status);
    expect(res.headers.deprecation).toBe(DEPRECATION);
    expect(res.headers.sunset).toBe('Sun, 30 Jun 2030 00:00:00 GMT');
    // The successor keeps the path, not the query (v2 lists take cursors, not pages).
    expect(res.headers.link).toBe(links(url.slice('/api/v1'.length).split('?')[0] ?? ''));
  });

  it('a CORS preflight and a 429 carry them too', async () => {
    const preflight = await t.app.inject({
      method: 'OPTIONS',
      url: '/api/v1/tasks',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' },
    });
    expect(preflight.headers.sunset).toBe('Sun, 30 Jun 2030 00:00:00 GMT');
    const limited = await buildTestApp({ env: { API_V1_SUNSET: '2030-06-30', RATE_LIMIT_MAX: '1' } });
    try {
      let res = await limited.app.inject({ method: 'GET', url: '/api/v1/tasks' });
      res = await limited.app.inject({ method: 'GET', url: '/api/v1/tasks' });
      expect(res.statusCode).toBe(429);
      expect(res.headers.deprecation).toBe(DEPRECATION);
    } finally {
      await limited.close();
    }
  });

  it('a v1 page keeps its own Link and gets both appended', async () => {
    await t.app.inject({ method: 'POST', url: '/api/v1/tasks', headers: me, payload: { title: 'a' } });
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/tasks?size=1', headers: me });
    expect(String(res.headers.link).endsWith(links('/tasks'))).toBe(true);
  });

  it('v2 and unversioned replies never carry them; without the setting v1 does not either', async () => {
    for (const url of ['/api/v2/users/me', '/health/live', '/', '/api/v10/x', '/api/v1x']) {
      const res = await t.app.inject({ method: 'GET', url, headers: me });
      expect(res.headers.deprecation, url).toBeUndefined();
      expect(res.headers.sunset, url).toBeUndefined();
    }
    const res = await off.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: me });
    expect(res.headers.deprecation).toBeUndefined();
  });

  it('CORS exposes Deprecation and Sunset', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/api/v1/users/me',
      headers: { ...me, origin: 'https://app.example.com' },
    });
    const exposed = String(res.headers['access-control-expose-headers']).toLowerCase();
    expect(exposed).toContain('deprecation');
    expect(exposed).toContain('sunset');
  });
});
