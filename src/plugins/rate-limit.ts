import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { Redis } from 'ioredis';
import { ApiError } from '../errors.js';
import type { Metrics, RateLimitScope } from '../lib/metrics.js';
import type { AppContext } from '../lib/module.js';
import type { Principal } from '../lib/principal.js';
import { LIMITS_REDIS_TIMEOUT_MS, rateLimitedWarning } from '../lib/rate-limited-log.js';
import { bounded } from '../lib/redis.js';
import { corsReplyHeaders } from './security-headers.js';

/**
 * The request rate limits of the contract (§4), on @fastify/rate-limit's counters (its Redis
 * store with REDIS_URL, shared by every instance; its in-process store otherwise). The library's
 * own route hooks cannot keep the contract's order of checks (a route hook runs after our auth
 * hooks, so a 401 would pre-empt the 429) and never see the 404, 405 and OPTIONS replies that
 * http-semantics.ts makes in onRequest, so its limiter is called from two hooks of ours instead:
 *
 * - `installRateLimits` (before http-semantics): every request of a route that takes no
 *   credentials, every 404, 405 and OPTIONS: by client IP (credential routes: their own budget);
 * - `installCallerRateLimit` (between the auth module's authenticate and authorize hooks): the
 *   routes that take credentials, by user when the credentials are valid, else by client IP.
 *
 * When the counters cannot be reached (Redis down or silent), requests go through unlimited and
 * without RateLimit-* headers (fail open), and a warning is logged at most once a minute.
 */

/** The in-process store keeps this many keys (least recently used go first). */
const LOCAL_KEYS = 100_000;

/** Paths that are never limited and carry no RateLimit-* headers (contract §4). */
const UNLIMITED = /^\/(?:$|health\/|metrics$|openapi|docs|redoc(?:$|\/)|problems\/)/;

type Limit = ReturnType<FastifyInstance['createRateLimit']>;

/** The path a request is judged by: its route's template, or for unmatched requests the decoded path. */
function judgedPath(request: FastifyRequest): string {
  const template = request.routeOptions.url;
  if (template !== undefined && !request.is404 && request.method !== 'OPTIONS') return template;
  const q = request.url.indexOf('?');
  const raw = q === -1 ? request.url : request.url.slice(0, q);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function isUnlimited(request: FastifyRequest): boolean {
  return UNLIMITED.test(judgedPath(request));
}

/**
 * The counter a request spends: `cred:<ip>` on a credential route, `user:<id>` once credentials
 * are valid (an API key spends its owner's budget), `ip:<ip>` otherwise.
 */
function keyOf(request: FastifyRequest): string {
  if (request.routeOptions.config.rateLimitPolicy === 'credentials') return `cred:${request.ip}`;
  // Unset (undefined) in an app without the auth module's hooks.
  const principal: Principal | null | undefined = request.principal;
  return principal ? `user:${principal.userId}` : `ip:${request.ip}`;
}

/** The budget a counter key belongs to (see keyOf), for the rejections metric. */
function scopeOf(key: string): RateLimitScope {
  return key.startsWith('cred:') ? 'credentials' : key.startsWith('user:') ? 'user' : 'ip';
}

class RequestLimiter {
  private readonly warn: (error: Error) => void;

  /** `redis`: the counters are remote, so each check is bounded in time (see lib/redis.ts). */
  constructor(
    private readonly limit: Limit,
    log: AppContext['log'],
    private readonly redis: Redis | null,
    private readonly metrics: Metrics,
  ) {
    this.warn = rateLimitedWarning(log, 'rate limits are not enforced: their counters do not answer');
  }

  /** Spends one request of the caller's budget; answers the 429 when it is spent, else null. */
  async check(request: FastifyRequest, reply: FastifyReply): Promise<ApiError | null> {
    let result: Awaited<ReturnType<Limit>>;
    try {
      const counted = this.limit(request);
      result = this.redis
        ? await bounded(this.redis, counted, LIMITS_REDIS_TIMEOUT_MS, 'rate limits')
        : await counted;
    } catch (error) {
      this.metrics.rateLimitFailedOpen();
      this.warn(error as Error);
      return null;
    }
    if (result.isAllowed) return null;
    const reset = Math.max(0, result.ttlInSeconds);
    reply.header('ratelimit-limit', result.max);
    reply.header('ratelimit-remaining', result.remaining);
    reply.header('ratelimit-reset', reset);
    if (!result.isExceeded) return null;
    this.metrics.rateLimited(scopeOf(keyOf(request)));
    return new ApiError('rate_limited', { headers: { 'retry-after': String(Math.max(1, reset)) } });
  }

  /**
   * An onRequest hook that limits the requests `applies` selects. `beforeCors`: it runs before the
   * CORS plugin's hook, so a 429 writes the CORS headers itself (a browser must read Retry-After).
   */
  hook(applies: (request: FastifyRequest) => boolean, beforeCors = false) {
    return (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
      if (!applies(request)) {
        done();
        return;
      }
      this.check(request, reply).then((refusal) => {
        if (refusal && beforeCors) reply.headers(corsReplyHeaders(request.server, request.headers.origin));
        done(refusal ?? undefined);
      }, done);
    };
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    requestLimiter: RequestLimiter;
  }
}

export async function installRateLimits(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const { max, authMax, windowMs } = ctx.config.rateLimit;
  // A connection of its own: a check left unanswered drops it (see `bounded`), not the others'.
  const redis = ctx.redis?.duplicate() ?? null;
  redis?.on('error', () => {}); // the shared client already reports connection problems
  if (redis) app.addHook('onClose', async () => redis.disconnect());
  await app.register(rateLimit, {
    global: false,
    timeWindow: windowMs,
    max: (_request, key) => (key.startsWith('cred:') ? authMax : max),
    keyGenerator: keyOf,
    cache: LOCAL_KEYS,
    ...(redis ? { redis, nameSpace: `${ctx.keyPrefix}rate:` } : {}),
  });
  const limiter = new RequestLimiter(app.createRateLimit(), ctx.log, redis, ctx.metrics);
  app.decorate('requestLimiter', limiter);
  app.addHook(
    'onRequest',
    limiter.hook((request) => !request.routeOptions.config.auth && !isUnlimited(request), true),
  );
}

/**
 * For routes that take credentials, once authentication has said who is calling and before
 * authorization refuses anyone: the auth module installs it between its two hooks.
 */
export function installCallerRateLimit(app: FastifyInstance): void {
  if (!app.hasDecorator('requestLimiter')) return;
  app.addHook(
    'onRequest',
    app.requestLimiter.hook((request) => request.routeOptions.config.auth !== undefined),
  );
}
