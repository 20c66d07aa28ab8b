import type { FastifyInstance } from 'fastify';

const ACCOUNT_ROUTES = /^\/api\/v[0-9]+\/(auth|users|api-keys)(\/|$)/;

/**
 * Whether a route template (`/api/v1/auth/login`, not the raw request path, which may spell
 * `/api/v1/%61uth/login`) serves accounts, sessions, keys or tokens.
 */
export function isAccountRoute(template: string): boolean {
  return ACCOUNT_ROUTES.test(template);
}

/**
 * Replies about accounts, sessions and keys (errors included) must never be stored by a cache.
 * Decided on the route the router matched; a request that matched no route gets it too (a 404
 * is worth nothing to a cache). Set before authentication, so a 401 carries it too. 405
 * and OPTIONS replies are written by http-semantics, which applies the same rule.
 */
export function installAccountNoStore(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    const template = request.routeOptions.url;
    if (request.is404 || template === undefined || isAccountRoute(template))
      reply.header('cache-control', 'no-store');
    done();
  });
}
