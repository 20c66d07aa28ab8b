import { Type } from '@sinclair/typebox';

/**
 * What the projects and members routes share: policies and reply headers (plugins/cache-policy.ts makes every reply under /projects private). Bodies
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
