import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Id } from '../../lib/common-schemas.js';
import { PRIVATE_CACHE_HEADERS } from '../../lib/http-schemas.js';
import { CursorPageOf, listRoute, PageOf } from '../../lib/lists.js';
import type { VersionOptions } from '../../lib/module.js';
import { callerOf, TOKEN_OR_KEY } from '../../lib/principal.js';
import { EventSchema } from './events.schemas.js';

export const ActivityPageSchema = PageOf(EventSchema, 'ActivityPage');
export const ActivityCursorPageSchema = CursorPageOf(EventSchema, 'ActivityCursorPage');

// Any role (guests too: an assignee or a member may read its task); API keys need tasks:read.
const READ = { auth: { scope: 'tasks:read' as const } };
const IdParams = Type.Object({ id: Id });

const DESCRIPTION = [
  "The task's events (task.created, task.updated, task.deleted of it) and its comments' (comment.*), oldest first (in commit order), each an Event as the change feed serves it.",
  'For whoever may read the task: a member of its project (any role), its assignee, an admin; anyone else gets 404, as if it did not exist.',
  'An API key needs the tasks:read scope.',
  "Events older than EVENTS_RETENTION (30 days by default) are gone: an older task's activity starts with its first retained event.",
].join(' ');

/** `GET /tasks/{id}/activity` in both versions (contract §8). */
export const activityRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { version, ctx }) => {
  const { activity } = ctx.services;
  listRoute(app, version, {
    url: '/tasks/:id/activity',
    operationId: 'listTaskActivity',
    tags: ['events'],
    security: TOKEN_OR_KEY,
    config: READ,
    what: 'events',
    summary: {
      v1: "A page of a task's activity (its events and its comments'), oldest first",
      v2: "A task's activity (its events and its comments'), a cursor page at a time, oldest first",
    },
    description: DESCRIPTION,
    cursorBinding: 'the caller and the task',
    cursorNote:
      'Walking the activity neither repeats nor skips an event; events committed meanwhile come at its end.',
    params: IdParams,
    filters: {},
    pageSchema: ActivityPageSchema,
    cursorPageSchema: ActivityCursorPageSchema,
    headers: PRIVATE_CACHE_HEADERS,
    problems: [401, 403, 404, 422, 429, 500],
    page: (request, _query, page) =>
      activity.list(callerOf(request), (request.params as { id: string }).id, page),
    cursorPage: (request, _query, cursor) =>
      activity.listAfter(callerOf(request), (request.params as { id: string }).id, cursor),
  });
};
