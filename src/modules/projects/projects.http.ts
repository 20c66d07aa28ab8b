/**
 * The route policies the projects and members routes share (plugins/cache-policy.ts makes every
 * reply under /projects private). Bodies take the general BODY_LIMIT_BYTES: contract §1 gives
 * 64 KiB to task and user bodies only.
 */

export const READ = { auth: { scope: 'projects:read' as const } };
/** Guests are at most commenters: no project write is theirs (403 before anything). */
export const WRITE = {
  auth: { roles: ['admin' as const, 'user' as const], scope: 'projects:write' as const },
};
