import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineModule, type Module } from '../../src/lib/module.js';
import {
  CACHE_CONTROL,
  type CachePolicy,
  cacheControlFor,
  declaredCachePolicy,
} from '../../src/plugins/cache-policy.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, login } from '../helpers/factories.js';

/**
 * Cache-Control is deliberate on every route (issue 12): the routes are the app's own, as its
 * router registers them (an onRoute hook of a module of this test's, which sees every route the
 * service registers after it: both versions, the root, health, problems and docs routes), never a
 * list kept by hand. A route cache-policy.ts names no policy for fails here.
 */

type Route = { method: string; url: string };

/** A module that records every route registered after it (the app installs modules first). */
function routeRecorder(into: Route[]): Module {
  return defineModule({
    name: 'route-recorder',
    install: async (app) => {
      app.addHook('onRoute', (route) => {
        for (const method of [route.method].flat()) into.push({ method, url: route.url });
      });
    },
  });
}

/**
 * What the contract says of a route (API.md §4 and §8), apart from cache-policy.ts's own table:
 * `no-store` on /auth*, /users*, /api-keys*, /webhooks*, the stream and health; `private` under
 * /tasks*, /projects*, /comments*, /events*; the docs, documents and problem pages public; a route
 * of a resource the contract does not name: undefined (the walk then fails, asking for a policy).
 */
function contractPolicy(url: string): 'no-store' | 'private' | 'public' | undefined {
  if (/^\/api\/v[12]\/((auth|users|api-keys|webhooks)(\/|$)|events\/stream$)/.test(url)) return 'no-store';
  if (/^\/api\/v[12]\/(tasks|projects|comments|events)(\/|$)/.test(url)) return 'private';
  if (url.startsWith('/health/')) return 'no-store';
  if (/^\/(openapi[./]|docs|redoc|problems\/|$)/.test(url)) return 'public';
  return undefined;
}

/** The routes no policy names, as `METHOD url` (OPTIONS routes are the CORS plugin's catch-all). */
function undeclared(routes: Route[]): string[] {
  return routes
    .filter((route) => route.method !== 'OPTIONS' && declaredCachePolicy(route.url) === undefined)
    .map((route) => `${route.method} ${route.url}`);
}

const ID = '01935c1e-7a4f-7cc2-a0c3-0c8f4a9e1b2d';

/** A request path for a route template: a known slug, a real file for the static wildcard, ids elsewhere. */
function pathOf(url: string): string {
  return url
    .replace(':slug', 'not-found')
    .replace(/:[A-Za-z]+/g, ID)
    .replace(/\*$/, 'swagger-ui.css');
}

type Reply = { statusCode: number; headers: Record<string, unknown>; body: string };

/** The reply's Cache-Control is its route's policy for its status, with Vary by credentials when private. */
function expectPolicy(res: Reply, policy: CachePolicy, what: string) {
  expect(res.headers['cache-control'], `${what} → ${res.statusCode}`).toBe(
    cacheControlFor(policy, res.statusCode),
  );
  if (policy === 'private') {
    const vary = String(res.headers.vary).split(/, */);
    expect(vary, what).toEqual(expect.arrayContaining(['Authorization', 'X-API-Key']));
  }
}

describe('every route of the service, both versions', () => {
  const routes: Route[] = [];
  let t: TestApp;
  let adminEmail: string;
  let adminHeaders: Record<string, string>;
  beforeAll(async () => {
    // Placeholder ids and empty bodies give statuses the document need not list: not recorded.
    t = await buildTestApp({ modules: [routeRecorder(routes)], recordStatuses: false });
    adminEmail = (await createUser(t.app, { role: 'admin' })).email;
    adminHeaders = await bearer(t.app, adminEmail);
  });
  afterAll(async () => t.close());

  async function bearer(app: FastifyInstance, email: string) {
    return { authorization: `Bearer ${(await login(app, email)).accessToken}` };
  }

  it('finds the routes of both versions and outside them', () => {
    const urls = new Set(routes.map((route) => route.url));
    for (const url of ['/', '/health/ready', '/openapi.json', '/docs', '/problems/:slug']) {
      expect(urls, url).toContain(url);
    }
    for (const version of ['v1', 'v2']) {
      for (const url of ['/tasks/:id', '/auth/login', '/events/stream', '/webhooks/:id/ping']) {
        expect(urls).toContain(`/api/${version}${url}`);
      }
    }
    expect(routes.length).toBeGreaterThan(150);
  });

  it('every route has a declared policy, the one the contract gives it', () => {
    expect(undeclared(routes)).toEqual([]);
    for (const { method, url } of routes) {
      if (method === 'OPTIONS') continue;
      const policy = declaredCachePolicy(url);
      const contract = contractPolicy(url);
      expect(contract, `${method} ${url}: a route the contract's caching lines do not name`).toBeDefined();
      if (contract === 'public') {
        expect(policy, `${method} ${url}`).toMatch(/^public-/);
        // Only reads are ever public.
        expect(['GET', 'HEAD'], `${method} ${url}`).toContain(method);
      } else expect(policy, `${method} ${url}`).toBe(contract);
    }
  });

  it('every reply, signed in or not, carries its route policy (errors: no-store unless private)', async () => {
    type Operation = {
      responses: Record<string, { headers?: Record<string, { schema: { enum: string[] } }> }>;
    };
    const document = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, Operation>>;
    };
    let documented = 0;
    const statuses = new Set<number>();
    for (const { method, url } of routes) {
      if (method === 'OPTIONS') continue;
      const policy = declaredCachePolicy(url) ?? 'no-store';
      const path = pathOf(url);
      const write = !['GET', 'HEAD'].includes(method);
      // A write may end the session it used (logout): each gets a session of its own.
      const signedIn = write ? await bearer(t.app, adminEmail) : adminHeaders;
      for (const headers of [signedIn, {}]) {
        const res = await t.app.inject({
          method: method as 'GET',
          url: path,
          headers,
          ...(write ? { payload: {} } : {}),
        });
        statuses.add(res.statusCode);
        const what = `${method} ${path} ${'authorization' in headers ? 'signed in' : 'anonymous'}`;
        expectPolicy(res, policy, what);
        // The document names the same Cache-Control for that operation and status.
        const operation = document.paths[url.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()];
        const header = operation?.responses[String(res.statusCode)]?.headers?.['Cache-Control'];
        if (operation !== undefined) {
          expect(header?.schema.enum, `${what}: the document's Cache-Control`).toEqual([
            res.headers['cache-control'],
          ]);
          documented += 1;
        }
      }
    }
    // The walk met successes, redirects, client errors: each under its route's policy.
    expect([...statuses]).toEqual(expect.arrayContaining([200, 302, 401, 404, 422]));
    expect(documented).toBeGreaterThan(200);
  });

  it('OPTIONS and a wrong method on every path: no-store, 405 private under private resources', async () => {
    const methods = new Map<string, Set<string>>();
    for (const { method, url } of routes) {
      if (method === 'OPTIONS') continue;
      methods.set(url, (methods.get(url) ?? new Set()).add(method));
    }
    let refused = 0;
    for (const [url, taken] of methods) {
      const path = pathOf(url);
      const options = await t.app.inject({ method: 'OPTIONS', url: path });
      expect(options.statusCode, path).toBe(204);
      expect(options.headers['cache-control'], `OPTIONS ${path}`).toBe('no-store');
      const wrong = ['PUT', 'PATCH', 'DELETE', 'POST'].find((method) => !taken.has(method));
      if (wrong === undefined) continue;
      const res = await t.app.inject({ method: wrong as 'PUT', url: path, headers: adminHeaders });
      // PUT /tasks/stats is PUT /tasks/{id}: another route took it, and the walk above covers that.
      if (res.statusCode !== 405) continue;
      refused += 1;
      const policy = declaredCachePolicy(url) === 'private' ? 'private' : 'no-store';
      expectPolicy(res, policy, `${wrong} ${path}`);
    }
    expect(refused).toBeGreaterThan(methods.size / 2);
  });
});

describe('a route added without a policy', () => {
  const routes: Route[] = [];
  let t: TestApp;
  const labels: FastifyPluginAsync = async (api) => {
    api.get('/labels', async () => ({ items: [] }));
  };
  beforeAll(async () => {
    t = await buildTestApp({ modules: [routeRecorder(routes)], apiRoutes: [labels], recordStatuses: false });
  });
  afterAll(async () => t.close());

  it('is named by the walk (which then fails) and is never stored meanwhile', async () => {
    expect(undeclared(routes)).toEqual([
      'GET /api/v1/labels',
      'HEAD /api/v1/labels',
      'GET /api/v2/labels',
      'HEAD /api/v2/labels',
    ]);
    expect(contractPolicy('/api/v1/labels')).toBeUndefined();
    const res = await t.app.inject({ method: 'GET', url: '/api/v2/labels' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe(CACHE_CONTROL['no-store']);
  });
});

describe('public replies', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(async () => t.close());

  it.each(['/openapi.json', '/openapi/v1.json', '/docs', '/redoc', '/'])(
    '%s revalidates with its ETag: 304 without a body, the same ETag and Cache-Control',
    async (url) => {
      const first = await t.app.inject({ method: 'GET', url });
      expect(first.statusCode).toBe(200);
      expect(first.headers['cache-control']).toBe('public, no-cache');
      const etag = String(first.headers.etag);
      expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
      const head = await t.app.inject({ method: 'HEAD', url });
      expect(head.headers.etag).toBe(etag);
      for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const again = await t.app.inject({ method: 'GET', url, headers: { 'if-none-match': ifNoneMatch } });
        expect(again.statusCode, ifNoneMatch).toBe(304);
        expect(again.body).toBe('');
        expect(again.headers.etag).toBe(etag);
        expect(again.headers['cache-control']).toBe('public, no-cache');
        expect(again.headers['content-type']).toBeUndefined();
      }
      const stale = await t.app.inject({ method: 'GET', url, headers: { 'if-none-match': '"other"' } });
      expect(stale.statusCode).toBe(200);
      expect(stale.body).toBe(first.body);
    },
  );

  it('the documents of the two versions have their own tags', async () => {
    const tags = new Set<string>();
    for (const url of ['/openapi.json', '/openapi/v1.json', '/openapi/v2.json']) {
      tags.add(String((await t.app.inject({ method: 'GET', url })).headers.etag));
    }
    expect(tags.size).toBe(3);
  });

  it('static files of the docs and problem pages are kept an hour; an unknown page is no-store', async () => {
    for (const url of [
      '/docs/static/swagger-ui.css',
      '/docs/static/theme/taskforge.css',
      '/redoc/redoc.standalone.js',
      '/problems/not-found',
    ]) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['cache-control'], url).toBe('public, max-age=3600');
    }
    // The problem page's body follows Accept.
    expect((await t.app.inject({ method: 'GET', url: '/problems/not-found' })).headers.vary).toContain(
      'Accept',
    );
    const unknown = await t.app.inject({ method: 'GET', url: '/problems/no-such-problem' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers['cache-control']).toBe('no-store');
    expect(unknown.headers.etag).toBeUndefined();
  });

  it('health is never kept', async () => {
    for (const url of ['/health/live', '/health/ready']) {
      expect((await t.app.inject({ method: 'GET', url })).headers['cache-control'], url).toBe('no-store');
    }
  });
});

describe('replies made before the route ran', () => {
  it('a 429 carries its route policy: private under /tasks, no-store under /users and on no route', async () => {
    const t = await buildTestApp({ env: { RATE_LIMIT_MAX: '1' } });
    try {
      for (const [url, expected] of [
        ['/api/v1/tasks', 'private, no-cache'],
        ['/api/v2/users/me', 'no-store'],
        ['/api/v2/nothing-here', 'no-store'],
      ] as const) {
        let res = await t.app.inject({ method: 'GET', url, remoteAddress: `10.1.0.${url.length}` });
        for (let i = 0; i < 3 && res.statusCode !== 429; i++) {
          res = await t.app.inject({ method: 'GET', url, remoteAddress: `10.1.0.${url.length}` });
        }
        expect(res.statusCode, url).toBe(429);
        expect(res.headers['cache-control'], url).toBe(expected);
      }
    } finally {
      await t.close();
    }
  });

  it('a 503 of load shedding is no-store on a public route, private under /tasks', async () => {
    const t = await buildTestApp({ overrides: { overload: { maxHeapUsedBytes: 1, sampleIntervalMs: 20 } } });
    try {
      for (let i = 0; i < 500 && !t.app.isUnderPressure(); i++) await new Promise((r) => setTimeout(r, 10));
      for (const [url, expected] of [
        ['/openapi.json', 'no-store'],
        ['/docs/static/swagger-ui.css', 'no-store'],
        ['/api/v2/tasks', 'private, no-cache'],
      ] as const) {
        const res = await t.app.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(503);
        expect(res.headers['cache-control'], url).toBe(expected);
      }
    } finally {
      await t.close();
    }
  });
});
