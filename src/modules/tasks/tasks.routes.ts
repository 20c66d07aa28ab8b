import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { problemResponses } from '../../lib/common-schemas.js';
import { etagOf, ifNoneMatchHits } from '../../lib/conditional.js';
import { listRoute } from '../../lib/lists.js';
import type { VersionOptions } from '../../lib/module.js';
import { callerOf, TOKEN_OR_KEY } from '../../lib/principal.js';
import {
  CreateTaskBody,
  PatchTaskBody,
  ReplaceTaskBody,
  type Task,
  TaskCursorPageSchema,
  TaskIdParams,
  TaskListParams,
  TaskPageSchema,
  TaskSchema,
  TaskStatsSchema,
} from './tasks.schemas.js';

const READ = { auth: { scope: 'tasks:read' as const } };
const WRITE = { auth: { roles: ['admin' as const, 'user' as const], scope: 'tasks:write' as const } };
const TASK_BODY_LIMIT = 65_536;

const ETAG_HEADER = {
  ETag: Type.String({ maxLength: 24, pattern: '^"[0-9]+"$', description: 'strong entity tag: "<version>"' }),
};
const CACHE_HEADERS = {
  'Cache-Control': Type.String({
    maxLength: 40,
    enum: ['private, no-cache'],
    description: 'private, no-cache',
  }),
  Vary: Type.String({ maxLength: 100, description: 'Authorization, X-API-Key (and Origin)' }),
};
const IF_MATCH = Type.Object({
  'if-match': Type.Optional(
    Type.String({
      maxLength: 1000,
      format: 'entity-tags',
      description:
        'a strong entity tag ("3"), a comma-separated list of them, or *; mismatch → 412; a value that is not a list of entity tags (such as an unquoted 3) → 422 on /header/if-match, item code format',
    }),
  ),
});

function taskReply(content: object, description: string) {
  return {
    description,
    headers: { ...ETAG_HEADER, ...CACHE_HEADERS },
    content: { 'application/json': { schema: content } },
  };
}

function withEtag(reply: FastifyReply, task: Task): Task {
  reply.header('etag', etagOf(task.version));
  return task;
}

/** The task resource: CRUD with conditional requests, lists with filters and sorts, stats. */
export const tasksRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { version, ctx }) => {
  const { tasks } = ctx.services;
  const tags = ['tasks'];

  // Every task reply (errors too) is private to its caller and revalidated before reuse.
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('cache-control', 'private, no-cache');
    const vary = reply.getHeader('vary');
    reply.header('vary', vary ? `${String(vary)}, Authorization, X-API-Key` : 'Authorization, X-API-Key');
    done();
  });

  app.post(
    '/tasks',
    {
      bodyLimit: TASK_BODY_LIMIT,
      config: WRITE,
      schema: {
        tags,
        operationId: 'createTask',
        summary: 'Create a task owned by the caller',
        security: TOKEN_OR_KEY,
        body: CreateTaskBody,
        response: {
          201: {
            ...taskReply(Type.Ref(TaskSchema), 'Created'),
            headers: {
              ...ETAG_HEADER,
              ...CACHE_HEADERS,
              Location: Type.String({ maxLength: 200, format: 'uri-reference', description: 'the new task' }),
            },
          },
          ...problemResponses(400, 401, 403, 413, 415, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      const task = await tasks.create(callerOf(request), request.body);
      reply.code(201).header('location', `/api/${version}/tasks/${task.id}`);
      return withEtag(reply, task);
    },
  );

  listRoute(app, version, {
    url: '/tasks',
    operationId: 'listTasks',
    tags,
    security: TOKEN_OR_KEY,
    config: READ,
    what: 'tasks',
    summary: {
      v1: "A page of the caller's tasks: owned or assigned (admins: all, and may filter by ownerId)",
      v2: "The caller's tasks, a cursor page at a time: owned or assigned (admins: all, and may filter by ownerId)",
    },
    description:
      '`status` and `priority` take comma-separated lists or repeated parameters. `dueAfter` ≤ dueAt < `dueBefore`. `q` matches title and description, any case, `%` and `_` literally. Sorts: createdAt, updatedAt, dueAt, priority, title, optionally prefixed with `-`; tasks without dueAt come last both ways; ties by id.',
    cursorBinding: 'the caller, the filters and the sort',
    cursorNote: 'Walking the default sort neither repeats nor skips a task that existed when the walk began.',
    filters: TaskListParams,
    pageSchema: TaskPageSchema,
    cursorPageSchema: TaskCursorPageSchema,
    headers: CACHE_HEADERS,
    problems: [401, 403, 422, 429, 500],
    page: (request, query, page) => tasks.list(callerOf(request), query, page),
    cursorPage: (request, query, cursor) => tasks.listAfter(callerOf(request), query, cursor),
  });

  app.get(
    '/tasks/stats',
    {
      config: READ,
      schema: {
        tags,
        operationId: 'taskStats',
        summary: "Counts over the caller's default list; overdue = dueAt < now and status ≠ done",
        security: TOKEN_OR_KEY,
        response: {
          200: {
            description: 'Counts',
            headers: CACHE_HEADERS,
            content: { 'application/json': { schema: Type.Ref(TaskStatsSchema) } },
          },
          ...problemResponses(401, 403, 429, 500),
        },
      },
    },
    async (request) => tasks.stats(callerOf(request)),
  );

  app.get(
    '/tasks/:id',
    {
      config: READ,
      schema: {
        tags,
        operationId: 'getTask',
        summary: 'A task (404 when the caller may not see it)',
        security: TOKEN_OR_KEY,
        params: TaskIdParams,
        headers: Type.Object({
          'if-none-match': Type.Optional(
            Type.String({
              maxLength: 1000,
              format: 'entity-tags',
              description:
                'entity tags ("3", W/"3"), a comma-separated list of them, or *; a match (weak comparison) → 304; a value that is not a list of entity tags → 422 on /header/if-none-match, item code format',
            }),
          ),
        }),
        response: {
          200: taskReply(Type.Ref(TaskSchema), 'The task'),
          304: {
            description: 'Not modified: same ETag and Cache-Control',
            headers: { ...ETAG_HEADER, ...CACHE_HEADERS },
            type: 'null',
          },
          ...problemResponses(401, 403, 404, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      const task = await tasks.get(callerOf(request), request.params.id);
      withEtag(reply, task);
      const ifNoneMatch = request.headers['if-none-match'];
      if (ifNoneMatch !== undefined && ifNoneMatchHits(ifNoneMatch, task.version))
        return reply.code(304).send();
      return task;
    },
  );

  for (const mode of ['patch', 'put'] as const) {
    const body = mode === 'patch' ? PatchTaskBody : ReplaceTaskBody;
    app.route({
      method: mode === 'patch' ? 'PATCH' : 'PUT',
      url: '/tasks/:id',
      bodyLimit: TASK_BODY_LIMIT,
      config: WRITE,
      schema: {
        tags,
        operationId: mode === 'patch' ? 'updateTask' : 'replaceTask',
        summary:
          mode === 'patch'
            ? 'Change a task (JSON merge patch; also application/merge-patch+json)'
            : 'Replace the writable state of a task; omitted optional fields return to their defaults',
        description:
          'The owner (and admins) may change everything; the assignee only `status` (any other field → 403). `version` goes up only when something changes. If-Match mismatch → 412 with the current ETag.',
        security: TOKEN_OR_KEY,
        params: TaskIdParams,
        headers: IF_MATCH,
        body,
        ...(mode === 'patch' ? { consumes: ['application/json', 'application/merge-patch+json'] } : {}),
        response: {
          200: taskReply(Type.Ref(TaskSchema), 'The task after the change'),
          ...problemResponses(400, 401, 403, 404, 412, 413, 415, 422, 429, 500),
        },
      },
      handler: async (request, reply) => {
        const task = await tasks.update(
          callerOf(request),
          request.params.id,
          request.body,
          mode,
          request.headers['if-match'],
        );
        return withEtag(reply, task);
      },
    });
  }

  app.delete(
    '/tasks/:id',
    {
      config: WRITE,
      schema: {
        tags,
        operationId: 'deleteTask',
        summary: 'Delete a task (owner or admin); If-Match honoured; a delete that loses a race → 404',
        security: TOKEN_OR_KEY,
        params: TaskIdParams,
        headers: IF_MATCH,
        response: {
          204: { description: 'Deleted', type: 'null' },
          ...problemResponses(401, 403, 404, 412, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      await tasks.delete(callerOf(request), request.params.id, request.headers['if-match']);
      return reply.code(204).send();
    },
  );
};
