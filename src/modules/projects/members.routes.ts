import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { problemResponses } from '../../lib/common-schemas.js';
import { PRIVATE_CACHE_HEADERS } from '../../lib/http-schemas.js';
import { listRoute } from '../../lib/lists.js';
import type { VersionOptions } from '../../lib/module.js';
import { callerOf, TOKEN_OR_KEY } from '../../lib/principal.js';
import { READ, WRITE } from './projects.http.js';
import {
  AddMemberBody,
  MemberCursorPageSchema,
  MemberPageSchema,
  MemberParams,
  MemberSchema,
  PatchMemberBody,
  ProjectIdParams,
} from './projects.schemas.js';

/** Leaving is open to every role (a guest may leave); removing another member is the owners'. */
const LEAVE = { auth: { scope: 'projects:write' as const } };

function memberReply(description: string, extra: Record<string, unknown> = {}) {
  return {
    description,
    headers: { ...PRIVATE_CACHE_HEADERS, ...extra },
    content: { 'application/json': { schema: Type.Ref(MemberSchema) } },
  };
}

/** The members of a project (contract §7): listed by any member, managed by its owners. */
export const membersRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { version, ctx }) => {
  const { projectMembers: members } = ctx.services;
  const tags = ['projects'];

  listRoute(app, version, {
    url: '/projects/:id/members',
    operationId: 'listProjectMembers',
    tags,
    security: TOKEN_OR_KEY,
    config: READ,
    what: 'members',
    summary: {
      v1: 'A page of the members of a project, oldest first (any member)',
      v2: 'The members of a project, oldest first, a cursor page at a time (any member)',
    },
    description:
      "Each member's `role` is the effective one: the granted role capped by the member's current global role (a guest is at most commenter). Admins appear only where they are members.",
    cursorBinding: 'the caller and the project',
    params: ProjectIdParams,
    filters: {},
    pageSchema: MemberPageSchema,
    cursorPageSchema: MemberCursorPageSchema,
    headers: PRIVATE_CACHE_HEADERS,
    problems: [401, 403, 404, 422, 429, 500],
    page: (request, _filters, page) =>
      members.list(callerOf(request), (request.params as { id: string }).id, page),
    cursorPage: (request, _filters, cursor) =>
      members.listAfter(callerOf(request), (request.params as { id: string }).id, cursor),
  });

  app.post(
    '/projects/:id/members',
    {
      config: WRITE,
      schema: {
        tags,
        operationId: 'addProjectMember',
        summary: 'Add a member by email (owners)',
        description:
          'Owners only (admins act as owners; other members → 403). An archived project → 409 project_archived; a personal project cannot be shared (409 conflict). An email of no account → 422 not_found on /email; a guest given more than commenter → 422 role_not_allowed on /role; already a member → 409 conflict.',
        security: TOKEN_OR_KEY,
        params: ProjectIdParams,
        body: AddMemberBody,
        response: {
          201: memberReply('Added', {
            Location: Type.String({ maxLength: 300, format: 'uri-reference', description: 'the new member' }),
          }),
          ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      const member = await members.add(callerOf(request), request.params.id, request.body);
      reply
        .code(201)
        .header('location', `/api/${version}/projects/${request.params.id}/members/${member.userId}`);
      return member;
    },
  );

  app.get(
    '/projects/:id/members/:userId',
    {
      config: READ,
      schema: {
        tags,
        operationId: 'getProjectMember',
        summary: 'One member of a project (any member; 404 for a user that is not one)',
        security: TOKEN_OR_KEY,
        params: MemberParams,
        response: { 200: memberReply('The member'), ...problemResponses(401, 403, 404, 422, 429, 500) },
      },
    },
    async (request) => members.get(callerOf(request), request.params.id, request.params.userId),
  );

  app.patch(
    '/projects/:id/members/:userId',
    {
      config: WRITE,
      schema: {
        tags,
        operationId: 'updateProjectMember',
        summary: "Change a member's role (owners; also application/merge-patch+json)",
        description:
          'Owners only (admins act as owners; other members → 403). An archived project → 409 project_archived. A guest given more than commenter → 422 role_not_allowed on /role. Demoting the last owner (explicit owners that are not guests; admins do not count) → 409 last_owner; the user of a personal project stays its owner (409 last_owner).',
        security: TOKEN_OR_KEY,
        params: MemberParams,
        body: PatchMemberBody,
        consumes: ['application/json', 'application/merge-patch+json'],
        response: {
          200: memberReply('The member after the change'),
          ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 500),
        },
      },
    },
    async (request) =>
      members.update(callerOf(request), request.params.id, request.params.userId, request.body),
  );

  app.delete(
    '/projects/:id/members/:userId',
    {
      config: LEAVE,
      schema: {
        tags,
        operationId: 'removeProjectMember',
        summary: 'Remove a member (owners), or leave (the member itself, any role)',
        description:
          "Removing another member: owners only (admins act as owners; others → 403). An archived project → 409 project_archived. Removing or leaving as the last owner → 409 last_owner (the user of a personal project stays). The member's tasks in the project lose their assignee, each with a new version.",
        security: TOKEN_OR_KEY,
        params: MemberParams,
        response: {
          204: { description: 'Removed', type: 'null' },
          ...problemResponses(401, 403, 404, 409, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      await members.remove(callerOf(request), request.params.id, request.params.userId);
      return reply.code(204).send();
    },
  );
};
