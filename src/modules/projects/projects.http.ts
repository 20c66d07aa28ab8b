import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * What the projects and members routes share: policies, reply headers, the caching hook. Bodies
 * take the general BODY_LIMIT_BYTES: contract §1 gives 64 KiB to task and user bodies only.
 */

export const READ = { auth: { scope: 'projects:read' as const } };
/** Guests are at most commenters: no project write is theirs (403 before anything). */
export const WRITE = {
  auth: { roles: ['admin' as const, 'user' as const], scope: 'projects:write' as const },
};

export const CACHE_HEADERS = {
  'Cache-Control': Type.String({
    maxLength: 40,
    enum: ['private, no-cache'],
    description: 'private, no-cache',
  }),
  Vary: Type.String({ maxLength: 100, description: 'Authorization, X-API-Key (and Origin)' }),
};

/** Private to its caller, revalidated before reuse, varying by the credentials. */
function markPrivate(reply: FastifyReply): void {
  reply.header('cache-control', 'private, no-cache');
  const vary = reply.getHeader('vary');
  if (vary !== undefined && /\bAuthorization\b/i.test(String(vary))) return;
  reply.header('vary', vary ? `${String(vary)}, Authorization, X-API-Key` : 'Authorization, X-API-Key');
}

/**
 * Every reply under /projects (errors too) is private to its caller and revalidated before reuse.
 * Set on request, and again before sending for the replies the global authentication hooks make
 * (401, and the 403 of a route policy or key scope), which run before this plugin's own hooks.
 */
export function privateReplies(app: FastifyInstance): void {
  app.addHook('onRequest', (_request, reply, done) => {
    markPrivate(reply);
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (reply.getHeader('cache-control') === undefined) markPrivate(reply);
    done(null, payload);
  });
}
