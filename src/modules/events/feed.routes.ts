import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { problemResponses } from '../../lib/common-schemas.js';
import { PRIVATE_CACHE_HEADERS } from '../../lib/http-schemas.js';
import type { VersionOptions } from '../../lib/module.js';
import { callerOf, TOKEN_OR_KEY } from '../../lib/principal.js';
import { viewerOf } from './events.service.js';
import { FeedHeadSchema, FeedPageSchema, FeedQuery } from './feed.schemas.js';

/** Every role reads the feed; an API key needs `tasks:read` (design §3). */
const READ = { auth: { scope: 'tasks:read' as const } };

const ACCESS =
  'Any role, with an access token or an API key holding `tasks:read`; the same in both versions.';

const VISIBILITY =
  '**Who sees an event**: the members of its project at the time of the read (a member that leaves or is removed stops seeing that project’s events, earlier ones included, but sees its own `member.removed`), plus, whatever their membership now, the user a `member.*` event is about, the members a project had when it was deleted (its `project.deleted`), the members of the old project of a move (that `task.updated`), and the assignee of a task before and after each of its events. Admins see every event. Event `data` of a project carries no `role` (an event is read by many).';

const SYNC =
  '**Synchronising**: read `GET /events/head` first, then the lists you need (tasks, projects), then follow the feed with `after=<head>`, each time sending the `next` of the previous page: no change is missed, and none is served twice. When you receive your own `member.added`, read that project’s tasks with a list: earlier events of that project are not replayed.';

const PAGING =
  'A read scans at most 1,000 events after `after`, visible to you or not, and never past the newest committed one: `next` is the last event served when the page is full, else the end of the scan, so it **always advances, also past pages with no visible events** (`items` may be empty while `hasMore` is true: read again at once). `hasMore: false` means `next` is the head: poll later, or open `GET /events/stream`. Ids sort as strings in commit order, and no id is served before every smaller one has committed or rolled back.';

const AFTER_RULES =
  '`after` omitted: from the oldest retained event. A malformed `after` → 400 invalid_cursor; a well-formed one older than the retention (EVENTS_RETENTION), newer than the head, or from another database → 410 events_expired: resynchronise (head, lists, feed). `limit` 1–100 (default 20), else 422 on /query/limit.';

/** The change feed (contract §8): a page of events after an id, and the newest id. */
export const feedRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { ctx }) => {
  const { events } = ctx.services;
  const tags = ['events'];

  app.get(
    '/events',
    {
      config: READ,
      schema: {
        tags,
        operationId: 'listEvents',
        summary: 'The change feed: the events you may see after an id, oldest first',
        description: [SYNC, PAGING, AFTER_RULES, VISIBILITY, ACCESS].join('\n\n'),
        security: TOKEN_OR_KEY,
        querystring: FeedQuery,
        response: {
          200: {
            description: 'A page of events, the id to read after next time, and whether more follow',
            headers: PRIVATE_CACHE_HEADERS,
            content: { 'application/json': { schema: Type.Ref(FeedPageSchema) } },
          },
          ...problemResponses(400, 401, 403, 410, 422, 429, 500),
        },
      },
    },
    async (request) =>
      events.page(viewerOf(callerOf(request)), request.query.after, request.query.limit ?? 20),
  );

  app.get(
    '/events/head',
    {
      config: READ,
      schema: {
        tags,
        operationId: 'getEventsHead',
        summary: 'The newest event id now: where to start following the feed',
        description: [
          'The id of the newest committed event, whoever may see it (always a string: on an empty feed, an id that sorts before every event). Read it before the lists, then follow `GET /events?after=<head>`: no change is missed.',
          ACCESS,
        ].join('\n\n'),
        security: TOKEN_OR_KEY,
        response: {
          200: {
            description: 'The newest event id',
            headers: PRIVATE_CACHE_HEADERS,
            content: { 'application/json': { schema: Type.Ref(FeedHeadSchema) } },
          },
          ...problemResponses(401, 403, 429, 500),
        },
      },
    },
    async () => ({ head: await events.head() }),
  );
};
