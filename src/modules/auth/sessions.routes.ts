import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../../lib/common-schemas.js';
import { listRoute } from '../../lib/lists.js';
import type { VersionOptions } from '../../lib/module.js';
import { callerOf, TOKEN_ONLY } from '../../lib/principal.js';
import { SessionCursorPageSchema, SessionIdParams, SessionPageSchema } from './auth.schemas.js';

/** Signed in with an access token, any role; API keys are refused (no scope: 403). */
const TOKEN = { auth: {} };

/** The caller's own sessions: listed, and ended one at a time. */
export const sessionsRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { version, ctx }) => {
  const { auth } = ctx.services;
  const tags = ['auth'];

  listRoute(app, version, {
    url: '/auth/sessions',
    operationId: 'listSessions',
    tags,
    security: TOKEN_ONLY,
    config: TOKEN,
    what: 'sessions',
    summary: {
      v1: "A page of the caller's live sessions, newest first; current marks this one",
      v2: "The caller's live sessions, newest first, a cursor page at a time; current marks this one",
    },
    cursorBinding: 'the caller',
    filters: {},
    pageSchema: SessionPageSchema,
    cursorPageSchema: SessionCursorPageSchema,
    problems: [401, 403, 422, 429, 500],
    page: (request, _filter, page) => {
      const caller = callerOf(request);
      return auth.listSessions(caller.userId, caller.sessionId, page);
    },
    cursorPage: (request, _filter, cursor) => {
      const caller = callerOf(request);
      return auth.listSessionsAfter(caller.userId, caller.sessionId, cursor);
    },
  });

  app.delete(
    '/auth/sessions/:id',
    {
      config: TOKEN,
      schema: {
        tags,
        operationId: 'endSession',
        summary:
          "End one of the caller's sessions at once: its access and refresh tokens → 401 token_revoked",
        description: `Another user's session, an ended one or an unknown id → 404. Ending the caller's own session is a logout.`,
        security: TOKEN_ONLY,
        params: SessionIdParams,
        response: {
          204: { description: 'Ended', type: 'null' },
          ...problemResponses(401, 403, 404, 429, 500),
        },
      },
    },
    async (request, reply) => {
      await auth.endUserSession(callerOf(request).userId, request.params.id);
      return reply.code(204).send();
    },
  );
};
