import type { InjectOptions } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, login, PASSWORD } from '../helpers/factories.js';

/**
 * Contract §4 rate limits, in process or on the CI Redis (whichever the run uses): the general
 * policy by user (else IP), the credential routes' per-IP policy, the unlimited paths, the
 * headers and the 429, and where the limit sits in the order of checks.
 */

const apps: TestApp[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

async function appWith(env: Record<string, string>): Promise<TestApp> {
  const t = await buildTestApp({ env });
  apps.push(t);
  return t;
}

function from(ip: string, options: InjectOptions): InjectOptions {
  return { ...options, remoteAddress: ip };
}

type Reply = Awaited<ReturnType<TestApp['app']['inject']>>;

function limits(res: Reply) {
  return {
    limit: res.headers['ratelimit-limit'],
    remaining: res.headers['ratelimit-remaining'],
    reset: res.headers['ratelimit-reset'],
  };
}

function expectRateLimited(res: Reply): void {
  expect(res.statusCode, res.body).toBe(429);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json()).toMatchObject({ status: 429, code: 'rate_limited' });
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['x-request-id']).toBeDefined();
}

describe('the general policy', () => {
  it('counts anonymous requests by client IP, with the RateLimit-* headers, then answers 429 rate_limited', async () => {
    const t = await appWith({ RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW: '60s' });
    const seen = [];
    for (let i = 0; i < 3; i += 1) {
      const res = await t.app.inject(from('203.0.113.1', { method: 'GET', url: '/api/v1/users/me' }));
      expect(res.statusCode).toBe(401);
      seen.push(limits(res));
    }
    // A window starts with the key's first request: the whole window is left on it.
    expect(seen).toEqual([
      { limit: '3', remaining: '2', reset: '60' },
      { limit: '3', remaining: '1', reset: expect.stringMatching(/^(59|60)$/) },
      { limit: '3', remaining: '0', reset: expect.stringMatching(/^(59|60)$/) },
    ]);
    const refused = await t.app.inject(from('203.0.113.1', { method: 'GET', url: '/api/v1/users/me' }));
    expectRateLimited(refused);
    expect(limits(refused)).toMatchObject({ limit: '3', remaining: '0' });
    expect(Number(refused.headers['retry-after'])).toBe(Number(refused.headers['ratelimit-reset']));
    // Another address has a budget of its own.
    const other = await t.app.inject(from('203.0.113.2', { method: 'GET', url: '/api/v1/users/me' }));
    expect(other.statusCode).toBe(401);
    expect(limits(other)).toMatchObject({ remaining: '2' });
  });

  it('limits floods of bad tokens: 429 comes before 401, and before 403, 415 and 422', async () => {
    const t = await appWith({ RATE_LIMIT_MAX: '2', AUTH_RATE_LIMIT_MAX: '100' });
    const user = await createUser(t.app, { role: 'guest' });
    const { accessToken } = await login(t.app, user.email);
    const bad = { authorization: 'Bearer not.a.token' };
    for (let i = 0; i < 2; i += 1) {
      const res = await t.app.inject(
        from('203.0.113.3', { method: 'GET', url: '/api/v1/tasks', headers: bad }),
      );
      expect(res.statusCode).toBe(401);
      expect(res.headers['ratelimit-limit']).toBe('2');
    }
    expectRateLimited(
      await t.app.inject(from('203.0.113.3', { method: 'GET', url: '/api/v1/tasks', headers: bad })),
    );
    // The user's own budget: two requests that would be 403 and 415, then a 422 becomes a 429.
    const guest = { authorization: `Bearer ${accessToken}` };
    const forbidden = await t.app.inject(
      from('203.0.113.3', { method: 'POST', url: '/api/v1/tasks', headers: guest, payload: { title: 'x' } }),
    );
    expect(forbidden.statusCode).toBe(403);
    const wrongType = await t.app.inject(
      from('203.0.113.3', {
        method: 'PATCH',
        url: '/api/v1/users/me',
        headers: { ...guest, 'content-type': 'text/plain' },
        payload: 'x',
      }),
    );
    expect(wrongType.statusCode).toBe(415);
    const invalid = await t.app.inject(
      from('203.0.113.3', { method: 'GET', url: '/api/v1/tasks?size=1000', headers: guest }),
    );
    expectRateLimited(invalid);
    const invalidBody = await t.app.inject(
      from('203.0.113.3', { method: 'PATCH', url: '/api/v1/users/me', headers: guest, payload: '{' }),
    );
    expectRateLimited(invalidBody);
  });

  it('keys authenticated requests by user: one budget per user whatever the address, apart from the IP budget', async () => {
    const t = await appWith({ RATE_LIMIT_MAX: '2', AUTH_RATE_LIMIT_MAX: '100' });
    const ada = await createUser(t.app);
    const bob = await createUser(t.app);
    const adaTokens = [await login(t.app, ada.email), await login(t.app, ada.email)];
    const bobToken = await login(t.app, bob.email);
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    // Two sessions of one user, from two addresses, spend one budget.
    const first = await t.app.inject(
      from('198.51.100.1', {
        method: 'GET',
        url: '/api/v1/users/me',
        headers: as(adaTokens[0]?.accessToken ?? ''),
      }),
    );
    expect(first.statusCode).toBe(200);
    expect(limits(first)).toMatchObject({ limit: '2', remaining: '1' });
    const second = await t.app.inject(
      from('198.51.100.2', {
        method: 'GET',
        url: '/api/v1/users/me',
        headers: as(adaTokens[1]?.accessToken ?? ''),
      }),
    );
    expect(limits(second)).toMatchObject({ remaining: '0' });
    expectRateLimited(
      await t.app.inject(
        from('198.51.100.3', {
          method: 'GET',
          url: '/api/v1/tasks',
          headers: as(adaTokens[0]?.accessToken ?? ''),
        }),
      ),
    );
    // Another user from Ada's address, and anonymous calls from it, have budgets of their own.
    const other = await t.app.inject(
      from('198.51.100.1', { method: 'GET', url: '/api/v1/users/me', headers: as(bobToken.accessToken) }),
    );
    expect(other.statusCode).toBe(200);
    expect(limits(other)).toMatchObject({ remaining: '1' });
    const anonymous = await t.app.inject(from('198.51.100.1', { method: 'GET', url: '/api/v1/users/me' }));
    expect(anonymous.statusCode).toBe(401);
    expect(limits(anonymous)).toMatchObject({ remaining: '1' });
  });

  it('limits 404s, 405s and OPTIONS too, inside and outside /api/, with the headers', async () => {
    const t = await appWith({ RATE_LIMIT_MAX: '4' });
    const ip = '192.0.2.10';
    const notFound = await t.app.inject(from(ip, { method: 'GET', url: '/nothing-here' }));
    expect(notFound.statusCode).toBe(404);
    expect(limits(notFound)).toEqual({ limit: '4', remaining: '3', reset: '60' });
    const apiNotFound = await t.app.inject(from(ip, { method: 'GET', url: '/api/v1/nothing' }));
    expect(apiNotFound.statusCode).toBe(404);
    expect(limits(apiNotFound)).toMatchObject({ remaining: '2' });
    const notAllowed = await t.app.inject(from(ip, { method: 'PUT', url: '/api/v1/users/me', payload: '{' }));
    expect(notAllowed.statusCode).toBe(405);
    expect(limits(notAllowed)).toMatchObject({ remaining: '1' });
    const options = await t.app.inject(from(ip, { method: 'OPTIONS', url: '/api/v1/tasks' }));
    expect(options.statusCode).toBe(204);
    expect(limits(options)).toMatchObject({ remaining: '0' });
    expectRateLimited(await t.app.inject(from(ip, { method: 'DELETE', url: '/api/v1/auth/logout' })));
    expectRateLimited(await t.app.inject(from(ip, { method: 'GET', url: '/somewhere/else' })));
  });

  it('starts a new window once the old one has passed', async () => {
    const t = await appWith({ RATE_LIMIT_MAX: '1', RATE_LIMIT_WINDOW: '1s' });
    const ip = '192.0.2.20';
    const first = await t.app.inject(from(ip, { method: 'GET', url: '/api/v1/users/me' }));
    expect(limits(first)).toEqual({ limit: '1', remaining: '0', reset: '1' });
    expectRateLimited(await t.app.inject(from(ip, { method: 'GET', url: '/api/v1/users/me' })));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const later = await t.app.inject(from(ip, { method: 'GET', url: '/api/v1/users/me' }));
    expect(later.statusCode).toBe(401);
    expect(limits(later)).toEqual({ limit: '1', remaining: '0', reset: '1' });
  });
});

describe('the credential routes', () => {
  it('spend AUTH_RATE_LIMIT_MAX per IP instead of the general budget', async () => {
    const t = await appWith({ RATE_LIMIT_MAX: '5', AUTH_RATE_LIMIT_MAX: '2' });
    const user = await createUser(t.app);
    const ip = '192.0.2.30';
    const loginAs = (password: string) =>
      t.app.inject(
        from(ip, { method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password } }),
      );
    const first = await loginAs(PASSWORD);
    expect(first.statusCode).toBe(200);
    expect(limits(first)).toEqual({ limit: '2', remaining: '1', reset: '60' });
    // register, token and refresh spend the same budget.
    const refresh = await t.app.inject(
      from(ip, { method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken: 'unknown' } }),
    );
    expect(refresh.statusCode).toBe(401);
    expect(limits(refresh)).toMatchObject({ limit: '2', remaining: '0' });
    for (const request of [
      { method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password: PASSWORD } },
      {
        method: 'POST',
        url: '/api/v2/auth/register',
        payload: { email: 'new@example.com', password: PASSWORD, name: 'N' },
      },
      {
        method: 'POST',
        url: '/api/v1/auth/token',
        payload: 'grant_type=password',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      },
      { method: 'POST', url: '/api/v2/auth/refresh', payload: { refreshToken: 'unknown' } },
    ] as InjectOptions[]) {
      const res = await t.app.inject(from(ip, request));
      expectRateLimited(res);
      expect(res.headers['ratelimit-limit'], request.url as string).toBe('2');
    }
    // The general budget of that address is untouched: its own limit, nothing spent.
    const general = await t.app.inject(
      from(ip, {
        method: 'GET',
        url: '/api/v1/users/me',
        headers: { authorization: `Bearer ${first.json().accessToken}` },
      }),
    );
    expect(general.statusCode).toBe(200);
    expect(limits(general)).toMatchObject({ limit: '5', remaining: '4' });
    // Another address logs in.
    const elsewhere = await t.app.inject(
      from('192.0.2.31', {
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: user.email, password: PASSWORD },
      }),
    );
    expect(elsewhere.statusCode).toBe(200);
  });

  it('answer 429 before registration_closed and before body validation', async () => {
    const t = await appWith({ AUTH_RATE_LIMIT_MAX: '1', REGISTRATION: 'closed' });
    const ip = '192.0.2.40';
    const closed = await t.app.inject(
      from(ip, { method: 'POST', url: '/api/v1/auth/register', payload: {} }),
    );
    expect(closed.json()).toMatchObject({ code: 'registration_closed' });
    expectRateLimited(
      await t.app.inject(from(ip, { method: 'POST', url: '/api/v1/auth/register', payload: {} })),
    );
    expectRateLimited(
      await t.app.inject(from(ip, { method: 'POST', url: '/api/v1/auth/login', payload: '{' })),
    );
  });
});

describe('the unlimited paths', () => {
  it('are never limited and carry no RateLimit-* headers', async () => {
    const t = await appWith({ RATE_LIMIT_MAX: '1', AUTH_RATE_LIMIT_MAX: '1' });
    const ip = '192.0.2.50';
    const paths = [
      '/',
      '/health/live',
      '/health/ready',
      '/health/nothing',
      '/openapi.json',
      '/openapi/v1.json',
      '/docs',
      '/docs/static/index.html',
      '/redoc',
      '/problems/rate-limited',
      '/problems/no-such-problem',
    ];
    for (let round = 0; round < 3; round += 1) {
      for (const url of paths) {
        const res = await t.app.inject(from(ip, { method: 'GET', url }));
        expect(res.statusCode, url).not.toBe(429);
        expect(
          Object.keys(res.headers).filter((h) => h.startsWith('ratelimit-')),
          url,
        ).toEqual([]);
      }
      const wrongMethod = await t.app.inject(from(ip, { method: 'DELETE', url: '/health/live' }));
      expect(wrongMethod.statusCode).toBe(405);
      expect(wrongMethod.headers['ratelimit-limit']).toBeUndefined();
    }
    // Nothing above spent the address's budget.
    const api = await t.app.inject(from(ip, { method: 'GET', url: '/api/v1/users/me' }));
    expect(api.statusCode).toBe(401);
    expect(limits(api)).toMatchObject({ remaining: '0' });
  });
});

describe('CORS', () => {
  it('lets an allowed origin read the RateLimit-* headers and Retry-After, on the 429 too', async () => {
    const origin = 'https://app.example.com';
    const t = await appWith({ RATE_LIMIT_MAX: '1', AUTH_RATE_LIMIT_MAX: '1', CORS_ORIGINS: origin });
    for (const url of ['/api/v1/users/me', '/api/v1/auth/login']) {
      const method = url.endsWith('login') ? 'POST' : 'GET';
      const request = from('192.0.2.60', {
        method,
        url,
        headers: { origin },
        payload: method === 'POST' ? {} : undefined,
      });
      for (const res of [await t.app.inject(request), await t.app.inject(request)]) {
        expect(res.headers['access-control-allow-origin'], url).toBe(origin);
        const exposed = String(res.headers['access-control-expose-headers']).split(/, */);
        expect(exposed).toEqual(
          expect.arrayContaining([
            'RateLimit-Limit',
            'RateLimit-Remaining',
            'RateLimit-Reset',
            'Retry-After',
          ]),
        );
      }
      expect((await t.app.inject(request)).statusCode).toBe(429);
    }
  });
});
