import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';

/** What the projects and members routes share: policies, reply headers, the caching hook. */

export const READ = { auth: { scope: 'projects:read' as const } };
/** Guests are at most commenters: no project write is theirs (403 before anything). */
export const WRITE = {
  auth: { roles: ['admin' as const, 'user' as const], scope: 'projects:write' as const },
};
export const BODY_LIMIT = 65_536;

export const CACHE_HEADERS = {
  'Cache-Control': Type.String({
    maxLength: 40,
    enum: ['private, no-cache'],
    description: 'private, no-cache',
  }),
  Vary: Type.String({ maxLength: 100, description: 'Authorization, X-API-Key (and Origin)' }),
};

/** Every reply under /projects (errors too) is private to its caller and revalidated before reuse. */
export function privateReplies(app: FastifyInstance): void {
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('cache-control', 'private, no-cache');
    const vary = reply.getHeader('vary');
    reply.header('vary', vary ? `${String(vary)}, Authorization, X-API-Key` : 'Authorization, X-API-Key');
    done();
  });
}
