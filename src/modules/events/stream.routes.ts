import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { problemResponses } from '../../lib/common-schemas.js';
import type { VersionOptions } from '../../lib/module.js';
import { callerOf, type Principal, TOKEN_OR_KEY } from '../../lib/principal.js';
import { MAX_STREAMS_PER_USER, type StreamCredential } from './stream-hub.js';

/** Any role; an API key needs `tasks:read` (design §3). */
const READ = { auth: { scope: 'tasks:read' as const } };

/** The reply headers of a stream (cache-control is the cache policy's: no-store). */
const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'x-accel-buffering': 'no',
};

const DESCRIPTION = `Server-Sent Events: the events of \`GET /events\`, pushed within 2 s of their commit on any instance. Any role; an API key needs the \`tasks:read\` scope. Credentials in headers only (\`Authorization\` or \`X-API-Key\`): read it with \`fetch\` streaming.

Without \`Last-Event-ID\` the stream starts at the head as of its opening; with it (any event id: an SSE \`id:\`, \`next\`, \`head\` or \`Taskforge-Event-Id\`) it resumes right after that event, without a gap. A malformed one → 400 \`invalid_cursor\`; one older than the retention, newer than the head or from another database → 410 \`events_expired\` (resync with a list). Both are answered before the stream starts.

The reply (200, \`text/event-stream\`, \`Cache-Control: no-store\`, \`X-Accel-Buffering: no\`, never compressed) starts at once with a comment line naming where it starts (\`: events after <id>\`), then each event the caller may see when it is read, oldest first, as
\`id: <event id>\\nevent: <type>\\ndata: <the Event as JSON, one line>\\n\\n\`; a comment line (\`: heartbeat\`) every 15 s. Who sees an event is decided as in \`GET /events\`, when the stream reads it.

The stream ends (with a last comment line \`: end <reason>\`) when its session ends (logout, revocation, a password change), its user is disabled or deleted, its access token expires, or its API key is revoked or expires, all checked every few seconds; when retention deleted events it had not sent yet (\`: end events_expired\`: its \`Last-Event-ID\` then answers 410, resync with a list); and when the service shuts down. Reconnect with a fresh token and \`Last-Event-ID\`. At most ${MAX_STREAMS_PER_USER} streams may be open per user, across instances: the next one → 429 \`rate_limited\` with \`Retry-After\` (a place frees when a stream closes). A HEAD request answers the headers without opening a stream. Checks in order: credentials (401/403), query parameters (none are taken: 422), \`Last-Event-ID\` (400/410), the number of open streams (429).`;

/** The raw API key of a key-authenticated request: streams check it again while they are open. */
function credentialOf(request: FastifyRequest, caller: Principal): StreamCredential {
  if (caller.apiKeyId === null) return { kind: 'token' };
  const key = request.headers['x-api-key'];
  if (typeof key === 'string') return { kind: 'api_key', value: key };
  const bearer = /^Bearer +([^\s]+) *$/i.exec(request.headers.authorization ?? '');
  return { kind: 'api_key', value: bearer?.[1] ?? '' };
}

function lastEventIdOf(request: FastifyRequest): string | undefined {
  const value = request.headers['last-event-id'];
  return Array.isArray(value) ? value.join(',') : value;
}

export const streamRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { ctx }) => {
  const tags = ['events'];

  app.get(
    '/events/stream',
    {
      config: READ,
      schema: {
        tags,
        operationId: 'streamEvents',
        summary: 'Live events (Server-Sent Events), resumable with Last-Event-ID',
        description: DESCRIPTION,
        security: TOKEN_OR_KEY,
        response: {
          200: {
            description:
              'The stream: a first comment line at once, then `id:`/`event:`/`data:` frames and heartbeat comments',
            headers: {
              'Cache-Control': Type.String({ maxLength: 20, enum: ['no-store'], description: 'no-store' }),
              'X-Accel-Buffering': Type.String({ maxLength: 4, enum: ['no'], description: 'no' }),
            },
            content: {
              'text/event-stream': {
                schema: Type.String({
                  maxLength: 1_000_000_000,
                  pattern: '^(:[^\\n]*\\n|id: [^\\n]+\\nevent: [^\\n]+\\ndata: [^\\n]+\\n|\\n)*$',
                  description:
                    'Frames: `: <comment>\\n\\n` (the first one, heartbeats, the end) and `id: <event id>\\nevent: <type>\\ndata: <Event JSON>\\n\\n`',
                  examples: [
                    ': events after 0a1b2e3f-0000000000000041\n\nid: 0a1b2e3f-0000000000000042\nevent: task.updated\ndata: {"id":"0a1b2e3f-0000000000000042"}\n\n',
                  ],
                }),
              },
            },
          },
          ...problemResponses(400, 401, 403, 410, 422, 429, 500, 503),
        },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const hub = ctx.services.eventStream;
      const start = await hub.startPosition(lastEventIdOf(request));
      reply.headers(STREAM_HEADERS);
      if (request.method === 'HEAD') return reply.send('');
      const stream = await hub.open(caller, credentialOf(request, caller), start);
      // A stream body keeps every hook's headers (request id, security, rate limits, CORS).
      return reply.send(stream.body as unknown as string);
    },
  );
};
