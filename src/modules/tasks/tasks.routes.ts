import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { problemResponses } from '../../lib/common-schemas.js';
import { etagOf } from '../../lib/conditional.js';
import {
  ETAG_HEADER,
  IF_MATCH_HEADERS,
  IF_NONE_MATCH_HEADERS,
  NOT_MODIFIED,
  PRIVATE_CACHE_HEADERS,
} from '../../lib/http-schemas.js';
import { IDEMPOTENT, recordReply, sendCreated } from '../../lib/idempotency.js';
import { listRoute } from '../../lib/lists.js';
import type { VersionOptions } from '../../lib/module.js';
import { callerOf, TOKEN_OR_KEY } from '../../lib/principal.js';
import { readConditionally, withEtag } from '../../lib/versioned-reply.js';
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
/** Guests may PATCH (a commenter assignee's status); the service answers 403 for anything else. */
const PATCH_WRITE = {
  auth: { roles: ['admin' as const, 'user' as const, 'guest' as const], scope: 'tasks:write' as const },
};
const TASK_BODY_LIMIT = 65_536;

const WRITE_RULES =
  'Editors and owners of the project (admins: every project) change everything. The assignee may change only `status` (any other field → 403, even with its current value): as a `commenter` member, or — in a personal project, the version-1 rule — as a non-member that is not a guest; viewers → 403. A guest gets 403 for anything it may not do, whether or not it can see the task. In an archived project every write → 409 `project_archived` (after the 403 for the role).';
const PROJECT_RULES =
  "`projectId` moves the task (editor and up in both projects; a project the caller cannot see → 422 `not_found` on /projectId, listed with `invalid_parent` on /parentId when the task would keep or take a parent; visible but below editor → 403; archived → 409 `project_archived`); its subtasks move with it, each with a new version. A moved task keeps its `parentId` only if that is in the target project, so moving a subtask out of its parent's project needs `parentId: null` too (else 422 `invalid_parent`). `parentId` is null or a task of the same project; a cycle (the task itself or one of its subtasks), another project's task, a task that does not exist or that the caller cannot see, or more than 5 levels (counting the moved task's own subtasks) → 422 `invalid_parent` on /parentId. In a shared project the assignee must be a member (any role), checked when `assigneeId` or `projectId` changes, for the moved subtasks' assignees too (else 422 `not_found` on /assigneeId); in a personal project any existing user.";

function taskReply(content: object, description: string) {
  return {
    description,
    headers: { ...ETAG_HEADER, ...PRIVATE_CACHE_HEADERS },
    content: { 'application/json': { schema: content } },
  };
}

/** The task resource: CRUD with conditional requests, lists with filters and sorts, stats. */
export const tasksRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { version, ctx }) => {
  const { tasks } = ctx.services;
  const tags = ['tasks'];

  // Every task reply (errors too) is private to its caller: plugins/cache-policy.ts marks it.

  app.post(
    '/tasks',
    {
      bodyLimit: TASK_BODY_LIMIT,
      config: { ...WRITE, idempotency: IDEMPOTENT },
      schema: {
        tags,
        operationId: 'createTask',
        summary: "Create a task (in the caller's personal project unless projectId names another)",
        description: `\`ownerId\` is the caller. Without \`projectId\` the task goes to the caller's personal project; a named project needs the editor role or more (a project the caller cannot see → 422 \`not_found\` on /projectId, and \`invalid_parent\` on /parentId when one is named; below editor → 403; archived → 409 \`project_archived\`). \`parentId\` is null or a task of that project with fewer than 5 levels above it, else 422 \`invalid_parent\` on /parentId. In a shared project the assignee must be a member (else 422 \`not_found\` on /assigneeId); in a personal project any existing user.`,
        security: TOKEN_OR_KEY,
        body: CreateTaskBody,
        response: {
          201: {
            ...taskReply(Type.Ref(TaskSchema), 'Created'),
            headers: {
              ...ETAG_HEADER,
              ...PRIVATE_CACHE_HEADERS,
              Location: Type.String({ maxLength: 200, format: 'uri-reference', description: 'the new task' }),
            },
          },
          ...problemResponses(400, 401, 403, 409, 413, 415, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      const created = (task: Task) => ({
        status: 201,
        headers: { location: `/api/${version}/tasks/${task.id}`, etag: etagOf(task.version) },
        body: task,
      });
      const task = await tasks.create(callerOf(request), request.body, recordReply(request, reply, created));
      return sendCreated(reply, created(task));
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
      v1: "A page of the tasks the caller can see: its projects' and those assigned to it (admins: every project's)",
      v2: "The tasks the caller can see, a cursor page at a time: its projects' and those assigned to it (admins: every project's)",
    },
    description:
      "Without `projectId`: every task the caller can see in unarchived projects (the tasks of the projects it is a member of, and the tasks assigned to it; admins: every unarchived project). `projectId` (comma-separated or repeated, at most 50) keeps the tasks of those projects, archived ones included, still only those the caller can see; `parentId` keeps one task's subtasks, or the top-level tasks with `none` (any other value → 422); like every filter it narrows that list, so the subtasks of a task in an archived project need its `projectId` too. `ownerId` filters by creator within what the caller can see. `status` and `priority` take comma-separated lists or repeated parameters. `dueAfter` ≤ dueAt < `dueBefore`. `q` matches title and description, any case, `%` and `_` literally. Sorts: createdAt, updatedAt, dueAt, priority, title, optionally prefixed with `-`; tasks without dueAt come last both ways; ties by id.",
    cursorBinding: 'the caller, the filters and the sort',
    cursorNote: 'Walking the default sort neither repeats nor skips a task that existed when the walk began.',
    filters: TaskListParams,
    pageSchema: TaskPageSchema,
    cursorPageSchema: TaskCursorPageSchema,
    headers: PRIVATE_CACHE_HEADERS,
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
        description:
          'Over the same tasks as the list: without `projectId`, every task the caller can see in unarchived projects; `projectId` and `parentId` filter as in the list.',
        security: TOKEN_OR_KEY,
        querystring: Type.Object(
          { projectId: TaskListParams.projectId, parentId: TaskListParams.parentId },
          { additionalProperties: false },
        ),
        response: {
          200: {
            description: 'Counts',
            headers: PRIVATE_CACHE_HEADERS,
            content: { 'application/json': { schema: Type.Ref(TaskStatsSchema) } },
          },
          ...problemResponses(401, 403, 422, 429, 500),
        },
      },
    },
    async (request) => tasks.stats(callerOf(request), request.query),
  );

  app.get(
    '/tasks/:id',
    {
      config: READ,
      schema: {
        tags,
        operationId: 'getTask',
        summary: 'A task (404 when the caller may not see it)',
        description:
          'Visible to the members of its project (any role), to its assignee and to admins; everyone else gets 404.',
        security: TOKEN_OR_KEY,
        params: TaskIdParams,
        headers: IF_NONE_MATCH_HEADERS,
        response: {
          200: taskReply(Type.Ref(TaskSchema), 'The task'),
          304: NOT_MODIFIED,
          ...problemResponses(401, 403, 404, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      const task = await tasks.get(callerOf(request), request.params.id);
      return readConditionally(request, reply, task);
    },
  );

  for (const mode of ['patch', 'put'] as const) {
    const body = mode === 'patch' ? PatchTaskBody : ReplaceTaskBody;
    app.route({
      method: mode === 'patch' ? 'PATCH' : 'PUT',
      url: '/tasks/:id',
      bodyLimit: TASK_BODY_LIMIT,
      config: mode === 'patch' ? PATCH_WRITE : WRITE,
      schema: {
        tags,
        operationId: mode === 'patch' ? 'updateTask' : 'replaceTask',
        summary:
          mode === 'patch'
            ? 'Change a task (JSON merge patch; also application/merge-patch+json)'
            : 'Replace the writable state of a task; omitted optional fields return to their defaults, an omitted projectId or parentId keeps its value',
        description: `${WRITE_RULES} ${PROJECT_RULES} \`version\` goes up only when something changes. If-Match mismatch → 412 with the current ETag.${mode === 'put' ? ' Guests → 403 before anything else.' : ''}`,
        security: TOKEN_OR_KEY,
        params: TaskIdParams,
        headers: IF_MATCH_HEADERS,
        body,
        ...(mode === 'patch' ? { consumes: ['application/json', 'application/merge-patch+json'] } : {}),
        response: {
          200: taskReply(Type.Ref(TaskSchema), 'The task after the change'),
          ...problemResponses(400, 401, 403, 404, 409, 412, 413, 415, 422, 429, 500),
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
        summary:
          'Delete a task and its subtasks (editor and up); If-Match honoured; a delete that loses a race → 404',
        description:
          'Editors and owners of the project (admins: every project); commenters, viewers and assignees → 403; guests → 403 before anything else; archived project → 409 `project_archived`. Its subtasks, at every level, and its comments are deleted with it.',
        security: TOKEN_OR_KEY,
        params: TaskIdParams,
        headers: IF_MATCH_HEADERS,
        response: {
          204: { description: 'Deleted', type: 'null' },
          ...problemResponses(401, 403, 404, 409, 412, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      await tasks.delete(callerOf(request), request.params.id, request.headers['if-match']);
      return reply.code(204).send();
    },
  );
};
