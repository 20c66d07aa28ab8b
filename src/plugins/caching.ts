import type { FastifyInstance } from 'fastify';

const PRIVATE_PATHS = /^\/api\/v[0-9]+\/(auth|users|api-keys)(\/|$|\?)/;

/**
 * Replies about accounts, sessions and keys (errors included) must never be stored by a cache.
 * Set before authentication, so a 401 or 429 carries it too.
 */
export function installNoStore(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    if (PRIVATE_PATHS.test(request.url)) reply.header('cache-control', 'no-store');
    done();
  });
}
