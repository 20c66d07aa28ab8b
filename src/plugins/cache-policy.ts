import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ifNoneMatchHits } from '../lib/conditional.js';

/**
 * What a cache may keep of a route's replies (contract §4 and §8), decided in one place for every
 * route of the service:
 * - `no-store`: never kept: accounts, sessions, tokens, keys, webhooks, the event stream, health;
 * - `private`: one caller's data (tasks, projects, comments, events), kept by the caller's own
 *   cache only and revalidated before each use (`ETag`/`If-None-Match` where the resource has a
 *   version), varying by the credentials that chose it;
 * - `public-revalidate`: the same for everyone but changed by a deploy (the OpenAPI documents, the
 *   docs pages, `GET /`): any cache may keep it, revalidating with its `ETag` before each use;
 * - `public-static`: files of the installed packages and problem pages, the same until the next
 *   deploy: any cache may keep them for an hour.
 */
export type CachePolicy = 'no-store' | 'private' | 'public-revalidate' | 'public-static';

/** The Cache-Control header of each policy. */
export const CACHE_CONTROL: Readonly<Record<CachePolicy, string>> = {
  'no-store': 'no-store',
  private: 'private, no-cache',
  'public-revalidate': 'public, no-cache',
  'public-static': 'public, max-age=3600',
};

/** The Vary a private reply carries: the credentials that chose it. */
const PRIVATE_VARY = 'Authorization, X-API-Key';

/**
 * The policy of each route template (`/api/v1/auth/login`, not the raw request path, which may spell
 * `/api/v1/%61uth/login`), first match wins. A route no rule names is answered `no-store` and
 * logged at start-up; test/http/cache-policy.test.ts walks every route and fails on such a route,
 * so a new one gets its line here.
 */
const RULES: readonly { pattern: RegExp; policy: CachePolicy }[] = [
  // Accounts, sessions, tokens and keys; webhooks hold secrets and delivery logs; a stream is live.
  {
    pattern: /^\/api\/v[0-9]+\/((auth|users|api-keys|webhooks)(\/|$)|events\/stream$)/,
    policy: 'no-store',
  },
  // One caller's tasks (with their comments and activity), projects, comments and events.
  { pattern: /^\/api\/v[0-9]+\/(tasks|projects|comments|events)(\/|$)/, policy: 'private' },
  // Health and metrics are the state of this instance now: a kept copy would be a lie.
  { pattern: /^\/(health\/|metrics$)/, policy: 'no-store' },
  // Problem type pages, and the docs' static files (Swagger UI's, ours, the ReDoc bundle).
  { pattern: /^\/problems\/:slug$/, policy: 'public-static' },
  { pattern: /^\/docs\/static\/(theme\/|\*$)/, policy: 'public-static' },
  { pattern: /^\/redoc\/redoc\.standalone\.js$/, policy: 'public-static' },
  // The base URL, the OpenAPI documents and the docs pages (their settings come with the deploy).
  { pattern: /^\/$/, policy: 'public-revalidate' },
  { pattern: /^\/openapi(\.json|\/v[0-9]+\.json)$/, policy: 'public-revalidate' },
  { pattern: /^\/(docs|redoc)(\/.*)?$/, policy: 'public-revalidate' },
];

/** The policy a route template declares, or undefined when no rule names it. */
export function declaredCachePolicy(template: string): CachePolicy | undefined {
  return RULES.find((rule) => rule.pattern.test(template))?.policy;
}

/** The policy a route template is answered with: its declared one, else `no-store`. */
export function cachePolicyOf(template: string): CachePolicy {
  return declaredCachePolicy(template) ?? 'no-store';
}

/**
 * The Cache-Control of a reply on a route with this policy and status: an error (4xx, 5xx) is
 * never kept by a shared cache: `no-store`, except on a private route, whose every reply, errors
 * included, is private and revalidated (contract §4 and §8: "replies under /tasks…").
 */
export function cacheControlFor(policy: CachePolicy, status: number): string {
  if (status >= 400 && policy !== 'private') return CACHE_CONTROL['no-store'];
  return CACHE_CONTROL[policy];
}

/** Private to its caller, revalidated before reuse, varying by the credentials that chose it. */
export function markPrivate(reply: FastifyReply): void {
  reply.header('cache-control', CACHE_CONTROL.private);
  const vary = reply.getHeader('vary');
  if (vary !== undefined && /\bAuthorization\b/i.test(String(vary))) return;
  reply.header('vary', vary ? `${String(vary)}, ${PRIVATE_VARY}` : PRIVATE_VARY);
}

/** Sets the Cache-Control (and, for private replies, the Vary) of a reply with this policy. */
export function applyCachePolicy(reply: FastifyReply, policy: CachePolicy): void {
  if (policy === 'private') markPrivate(reply);
  else reply.header('cache-control', cacheControlFor(policy, reply.statusCode));
}

/** The matched route's template, or undefined for a request no route of the app matched. */
function templateOf(request: FastifyRequest): string | undefined {
  // OPTIONS requests all fall to the CORS plugin's catch-all route: http-semantics.ts answers them.
  if (request.is404 || request.method === 'OPTIONS') return undefined;
  return request.routeOptions.url;
}

/**
 * Installs the policy: set in onRequest, so a stream written by hand and a 401 or 403 of
 * authentication carry it, and set again in onSend, which every reply sent through Fastify passes,
 * whichever hook answered it (a 429, a 503 of load shedding, a handler's error) and whatever a
 * handler or plugin set (the docs' static files plugin writes `public, max-age=0`). A request that
 * matched no route gets `no-store` (a 404 is worth nothing to a cache); 405 and OPTIONS replies
 * are written by http-semantics.ts, which keeps the header it chose.
 */
export function installCachePolicy(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.every((m) => m === 'OPTIONS') || declaredCachePolicy(route.url) !== undefined) return;
    // Never an error at start-up: a fork's or a test's own route is still served, never stored.
    app.log.warn({ route: route.url }, 'route without a cache policy (cache-policy.ts): answered no-store');
  });
  app.addHook('onRequest', (request, reply, done) => {
    const template = templateOf(request);
    if (template === undefined) reply.header('cache-control', 'no-store');
    else applyCachePolicy(reply, cachePolicyOf(template));
    done();
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    const template = templateOf(request);
    if (template === undefined) {
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
      done(null, payload);
      return;
    }
    const policy = cachePolicyOf(template);
    applyCachePolicy(reply, policy);
    if (policy === 'public-revalidate' && reply.statusCode === 200) {
      done(null, revalidated(request, reply, payload));
      return;
    }
    done(null, payload);
  });
}

/**
 * A `public-revalidate` reply's validator: a strong ETag of its bytes (the same document and page
 * bytes until a deploy changes them), and 304 without a body when If-None-Match names it, so the
 * revalidation `no-cache` asks for costs a few headers.
 */
function revalidated(request: FastifyRequest, reply: FastifyReply, payload: unknown): unknown {
  if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
  const opaque = createHash('sha256').update(payload).digest('base64url').slice(0, 27);
  reply.header('etag', `"${opaque}"`);
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch === undefined || !ifNoneMatchHits(ifNoneMatch, opaque)) return payload;
  reply.code(304).removeHeader('content-type');
  reply.removeHeader('content-length');
  return null;
}
