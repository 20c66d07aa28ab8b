import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { problemResponses } from '../../lib/common-schemas.js';
import { PRIVATE_CACHE_HEADERS } from '../../lib/http-schemas.js';
import { IDEMPOTENT, recordReply, sendCreated } from '../../lib/idempotency.js';
import { listRoute } from '../../lib/lists.js';
import type { VersionOptions } from '../../lib/module.js';
import { callerOf, TOKEN_OR_KEY } from '../../lib/principal.js';
import {
  type Comment,
  CommentCursorPageSchema,
  CommentPageSchema,
  CommentSchema,
  CreateCommentBody,
  IdParams,
  PatchCommentBody,
} from './comments.schemas.js';

// Guests pass the route policy: a guest may be a commenter (the service decides by project role).
const READ = { auth: { scope: 'tasks:read' as const } };
const WRITE = { auth: { scope: 'comments:write' as const } };

const VISIBILITY =
  'A comment is as visible as its task: a member of its project (any role), its assignee, an admin; anyone else gets 404.';
const WRITE_ORDER =
  'Checks: 404 (task not visible) → 403 (role) → 409 project_archived (the project is archived; reads still work).';
/** Comment bodies are neither task nor user bodies: BODY_LIMIT_BYTES applies (contract §1). */
const SIZE =
  'The request body may be as large as BODY_LIMIT_BYTES (1 MiB by default), so a 10,000-code-point body fits however its JSON escapes it; larger → 413.';

function commentReply(description: string, headers: Record<string, unknown> = PRIVATE_CACHE_HEADERS) {
  return { description, headers, content: { 'application/json': { schema: Type.Ref(CommentSchema) } } };
}

/** Comments on tasks (contract §7): a task's list, one comment, its author's edits and deletes. */
export const commentsRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { version, ctx }) => {
  const { comments } = ctx.services;
  const tags = ['comments'];

  // Every comment reply (errors too) is private to its caller: plugins/cache-policy.ts marks it.

  listRoute(app, version, {
    url: '/tasks/:id/comments',
    operationId: 'listComments',
    tags,
    security: TOKEN_OR_KEY,
    config: READ,
    what: 'comments',
    summary: {
      v1: "A page of a task's comments, oldest first",
      v2: "A task's comments, a cursor page at a time, oldest first",
    },
    description: `Oldest first (createdAt, then id). ${VISIBILITY}`,
    cursorBinding: 'the caller and the task',
    cursorNote: 'Walking the list neither repeats nor skips a comment that existed when the walk began.',
    params: IdParams,
    filters: {},
    pageSchema: CommentPageSchema,
    cursorPageSchema: CommentCursorPageSchema,
    headers: PRIVATE_CACHE_HEADERS,
    problems: [401, 403, 404, 422, 429, 500],
    page: (request, _query, page) =>
      comments.list(callerOf(request), (request.params as { id: string }).id, page),
    cursorPage: (request, _query, cursor) =>
      comments.listAfter(callerOf(request), (request.params as { id: string }).id, cursor),
  });

  app.post(
    '/tasks/:id/comments',
    {
      config: { ...WRITE, idempotency: IDEMPOTENT },
      schema: {
        tags,
        operationId: 'createComment',
        summary: 'Comment on a task (commenter and up in its project)',
        description: `Commenters, editors and owners of the task's project, and admins, may comment; a viewer, or an assignee that is not a member, → 403. ${VISIBILITY} ${WRITE_ORDER} ${SIZE}`,
        security: TOKEN_OR_KEY,
        params: IdParams,
        body: CreateCommentBody,
        response: {
          201: commentReply('Created', {
            ...PRIVATE_CACHE_HEADERS,
            Location: Type.String({
              maxLength: 200,
              format: 'uri-reference',
              description: 'the new comment',
            }),
          }),
          ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      const created = (comment: Comment) => ({
        status: 201,
        headers: { location: `/api/${version}/comments/${comment.id}` },
        body: comment,
      });
      const recorder = recordReply(request, reply, created);
      const comment = await comments.create(
        callerOf(request),
        request.params.id,
        request.body.body,
        recorder,
      );
      return sendCreated(reply, created(comment));
    },
  );

  app.get(
    '/comments/:id',
    {
      config: READ,
      schema: {
        tags,
        operationId: 'getComment',
        summary: 'A comment (404 when the caller may not read its task)',
        description: VISIBILITY,
        security: TOKEN_OR_KEY,
        params: IdParams,
        response: {
          200: commentReply('The comment'),
          ...problemResponses(401, 403, 404, 422, 429, 500),
        },
      },
    },
    async (request) => comments.get(callerOf(request), request.params.id),
  );

  app.patch(
    '/comments/:id',
    {
      config: WRITE,
      schema: {
        tags,
        operationId: 'updateComment',
        summary: 'Change a comment (its author only; JSON merge patch, also application/merge-patch+json)',
        description: `Only its author, while still commenter or up in the project, may change a comment (an admin that is not its author → 403). A new body sets \`edited\` and moves \`updatedAt\`; a body equal to the stored one, or none, changes nothing. ${VISIBILITY} ${WRITE_ORDER} ${SIZE}`,
        security: TOKEN_OR_KEY,
        params: IdParams,
        body: PatchCommentBody,
        consumes: ['application/json', 'application/merge-patch+json'],
        response: {
          200: commentReply('The comment after the change'),
          ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 500),
        },
      },
    },
    async (request) => comments.update(callerOf(request), request.params.id, request.body),
  );

  app.delete(
    '/comments/:id',
    {
      config: WRITE,
      schema: {
        tags,
        operationId: 'deleteComment',
        summary: 'Delete a comment (its author, or an owner of the project)',
        description: `Its author (while commenter or up), an owner of the task's project, or an admin. A delete that loses a race to another → 404. ${VISIBILITY} ${WRITE_ORDER}`,
        security: TOKEN_OR_KEY,
        params: IdParams,
        response: {
          204: { description: 'Deleted', type: 'null' },
          ...problemResponses(401, 403, 404, 409, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      await comments.delete(callerOf(request), request.params.id);
      return reply.code(204).send();
    },
  );
};
