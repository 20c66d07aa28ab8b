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
import { READ, WRITE } from './projects.http.js';
import {
  CreateProjectBody,
  PatchProjectBody,
  type Project,
  ProjectCursorPageSchema,
  ProjectIdParams,
  ProjectListParams,
  ProjectPageSchema,
  ProjectSchema,
} from './projects.schemas.js';

function projectReply(description: string, extra: Record<string, unknown> = {}) {
  return {
    description,
    headers: { ...ETAG_HEADER, ...PRIVATE_CACHE_HEADERS, ...extra },
    content: { 'application/json': { schema: Type.Ref(ProjectSchema) } },
  };
}

/** Projects (contract §7): the caller's, with conditional requests; members in members.routes.ts. */
export const projectsRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { version, ctx }) => {
  const { projects } = ctx.services;
  const tags = ['projects'];

  app.post(
    '/projects',
    {
      config: { ...WRITE, idempotency: IDEMPOTENT },
      schema: {
        tags,
        operationId: 'createProject',
        summary: 'Create a shared project; the caller becomes its owner',
        description: 'Guests may not create projects (403).',
        security: TOKEN_OR_KEY,
        body: CreateProjectBody,
        response: {
          201: projectReply('Created', {
            Location: Type.String({
              maxLength: 200,
              format: 'uri-reference',
              description: 'the new project',
            }),
          }),
          ...problemResponses(400, 401, 403, 413, 415, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      const created = (project: Project) => ({
        status: 201,
        headers: { location: `/api/${version}/projects/${project.id}`, etag: etagOf(project.version) },
        body: project,
      });
      const project = await projects.create(
        callerOf(request),
        request.body,
        recordReply(request, reply, created),
      );
      return sendCreated(reply, created(project));
    },
  );

  listRoute(app, version, {
    url: '/projects',
    operationId: 'listProjects',
    tags,
    security: TOKEN_OR_KEY,
    config: READ,
    what: 'projects',
    summary: {
      v1: "A page of the caller's projects, newest first (admins: every project)",
      v2: "The caller's projects, newest first, a cursor page at a time (admins: every project)",
    },
    description:
      'The projects the caller is a member of, its personal project included (admins: every project, with role owner). `archived` keeps archived (true) or unarchived (false) projects only; `q` matches the name, any case, `%` and `_` literally.',
    cursorBinding: 'the caller and the filters',
    filters: ProjectListParams,
    pageSchema: ProjectPageSchema,
    cursorPageSchema: ProjectCursorPageSchema,
    headers: PRIVATE_CACHE_HEADERS,
    problems: [401, 403, 422, 429, 500],
    page: (request, filters, page) => projects.list(callerOf(request), filters, page),
    cursorPage: (request, filters, cursor) => projects.listAfter(callerOf(request), filters, cursor),
  });

  app.get(
    '/projects/:id',
    {
      config: READ,
      schema: {
        tags,
        operationId: 'getProject',
        summary: 'A project (404 unless the caller is a member or an admin)',
        security: TOKEN_OR_KEY,
        params: ProjectIdParams,
        headers: IF_NONE_MATCH_HEADERS,
        response: {
          200: projectReply('The project'),
          304: NOT_MODIFIED,
          ...problemResponses(401, 403, 404, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      const project = await projects.get(callerOf(request), request.params.id);
      return readConditionally(request, reply, project);
    },
  );

  app.patch(
    '/projects/:id',
    {
      config: WRITE,
      schema: {
        tags,
        operationId: 'updateProject',
        summary:
          'Rename, describe, archive or unarchive a project (owners; also application/merge-patch+json)',
        description:
          'Owners only (admins act as owners; other members → 403). An archived project takes only a body of exactly `{"archived": false}`; anything else → 409 project_archived. Then If-Match (412 with the current ETag). A personal project can be renamed but not archived (409 conflict). A PATCH that changes nothing keeps `version` and `updatedAt`.',
        security: TOKEN_OR_KEY,
        params: ProjectIdParams,
        headers: IF_MATCH_HEADERS,
        body: PatchProjectBody,
        consumes: ['application/json', 'application/merge-patch+json'],
        response: {
          200: projectReply('The project after the change'),
          ...problemResponses(400, 401, 403, 404, 409, 412, 413, 415, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      const project = await projects.update(
        callerOf(request),
        request.params.id,
        request.body,
        request.headers['if-match'],
      );
      return withEtag(reply, project);
    },
  );

  app.delete(
    '/projects/:id',
    {
      config: WRITE,
      schema: {
        tags,
        operationId: 'deleteProject',
        summary: 'Delete a project with its tasks, comments and memberships (owners)',
        description:
          'Owners only (admins act as owners; other members → 403). Archived projects may be deleted. A personal project → 409 conflict. If-Match honoured (412 with the current ETag).',
        security: TOKEN_OR_KEY,
        params: ProjectIdParams,
        headers: IF_MATCH_HEADERS,
        response: {
          204: { description: 'Deleted', type: 'null' },
          ...problemResponses(401, 403, 404, 409, 412, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      await projects.delete(callerOf(request), request.params.id, request.headers['if-match']);
      return reply.code(204).send();
    },
  );
};
