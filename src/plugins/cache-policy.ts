import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * Routes never stored: accounts, sessions, keys, webhooks (their secrets and delivery logs), and
 * the event stream (contract §8).
 */
const ACCOUNT_ROUTES = /^\/api\/v[0-9]+\/((auth|users|api-keys|webhooks)(\/|$)|events\/stream$)/;
/** Routes whose replies are one caller's data: tasks (their comments and activity), projects, comments, events. */
const PRIVATE_ROUTES = /^\/api\/v[0-9]+\/(tasks|projects|comments|events)(\/|$)/;

/**
 * Whether a route template (`/api/v1/auth/login`, not the raw request path, which may spell
 * `/api/v1/%61uth/login`) serves accounts, sessions, keys, tokens, webhooks or the event stream.
 */
export function isAccountRoute(template: string): boolean {
  return ACCOUNT_ROUTES.test(template);
}

/** Whether a route template serves one caller's tasks, projects, comments or events. */
export function isPrivateRoute(template: string): boolean {
  return PRIVATE_ROUTES.test(template);
}

/** Private to its caller, revalidated before reuse, varying by the credentials that chose it. */
export function markPrivate(reply: FastifyReply): void {
  reply.header('cache-control', 'private, no-cache');
  const vary = reply.getHeader('vary');
  if (vary !== undefined && /\bAuthorization\b/i.test(String(vary))) return;
  reply.header('vary', vary ? `${String(vary)}, Authorization, X-API-Key` : 'Authorization, X-API-Key');
}

/**
 * What a cache may keep, decided on the route the router matched and set before authentication,
 * so that a 401 or a policy's 403 carries it too:
 * - replies about accounts, sessions and keys (errors included) must never be stored (a request
 *   that matched no route gets that too: a 404 is worth nothing to a cache);
 * - replies under /tasks, /projects, /comments and /events are private and revalidated before reuse.
 * 405 and OPTIONS replies are written by http-semantics, which applies the same rules.
 */
export function installCachePolicy(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    const template = request.routeOptions.url;
    if (request.is404 || template === undefined || isAccountRoute(template))
      reply.header('cache-control', 'no-store');
    else if (isPrivateRoute(template)) markPrivate(reply);
    done();
  });
}
