import type { FastifyInstance } from 'fastify';

/**
 * When version 2 was released (its cursor lists' first commit, 2026-11-22T04:29:16Z): the
 * `Deprecation` date of version 1 (RFC 9745), a constant of the code.
 */
export const V2_RELEASED_AT = Date.UTC(2026, 10, 22, 4, 29, 16);

const V1_PREFIX = '/api/v1';

/** The path after /api/v1 of a raw request URL under it (without its query); null elsewhere. */
function v1Rest(url: string): string | null {
  const path = url.split('?', 1)[0] ?? '';
  if (path === V1_PREFIX) return '';
  return path.startsWith(`${V1_PREFIX}/`) ? path.slice(V1_PREFIX.length) : null;
}

/**
 * API_V1_SUNSET (contract §3): every reply under /api/v1, errors, 404s, 405s and preflights
 * included, carries `Deprecation`, `Sunset` (00:00:00 GMT of that date, RFC 8594) and the two
 * links: the same path under /api/v2 (its query left out: v2 lists take cursors, not pages) and
 * the docs. A `Link` the reply already has (v1 pages' links) is kept, the two appended. Set in
 * onSend, which every reply sent through Fastify passes, whichever hook answered it.
 */
export function installSunset(app: FastifyInstance, publicUrl: string, sunsetDate: string | null): void {
  if (sunsetDate === null) return;
  const deprecation = `@${Math.floor(V2_RELEASED_AT / 1000)}`;
  const sunset = new Date(`${sunsetDate}T00:00:00Z`).toUTCString();
  app.addHook('onSend', async (request, reply, payload) => {
    const rest = v1Rest(request.url);
    if (rest === null) return payload;
    const links = `<${publicUrl}/api/v2${rest}>; rel="successor-version", <${publicUrl}/docs>; rel="deprecation"`;
    const existing = reply.getHeader('link');
    reply.header('deprecation', deprecation);
    reply.header('sunset', sunset);
    reply.header('link', existing === undefined ? links : `${String(existing)}, ${links}`);
    return payload;
  });
}
