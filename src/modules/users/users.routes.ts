import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ApiError } from '../../errors.js';
import type { VersionOptions } from '../../lib/api-version.js';
import { cursorPageResponse, problemResponses } from '../../lib/common-schemas.js';
import { withNextLink } from '../../lib/cursor.js';
import { callerOf, TOKEN_ONLY, TOKEN_OR_KEY } from '../../lib/principal.js';
import { AuthService } from '../auth/auth.service.js';
import {
  ChangePasswordBody,
  CreateUserBody,
  UpdateMeBody,
  UpdateUserBody,
  UserCursorPageSchema,
  UserCursorQuery,
  UserIdParams,
  UserListQuery,
  UserPageSchema,
  UserSchema,
} from './users.schemas.js';
import { UsersService } from './users.service.js';

const ADMIN = ['admin' as const];
const NO_CONTENT = { description: 'Done', type: 'null' } as const;

/** /users/me for everyone signed in; the rest of /users for admins (and keys with users:* scopes). */
export const usersRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { version }) => {
  const users = new UsersService(app.database, app.passwordHasher, app.authState);
  const auth = new AuthService(app, app.passwordHasher, app.authState);
  const tags = ['users'];

  app.get(
    '/users/me',
    {
      config: { auth: { scope: 'any' } },
      schema: {
        tags,
        operationId: 'getMe',
        summary: 'The caller',
        security: TOKEN_OR_KEY,
        response: { 200: Type.Ref(UserSchema), ...problemResponses(401, 429, 500) },
      },
    },
    async (request) => users.get(callerOf(request).userId),
  );

  app.patch(
    '/users/me',
    {
      bodyLimit: 65_536,
      config: { auth: {} },
      schema: {
        tags,
        operationId: 'updateMe',
        summary: "Change the caller's name",
        security: TOKEN_ONLY,
        body: UpdateMeBody,
        response: { 200: Type.Ref(UserSchema), ...problemResponses(400, 401, 403, 413, 415, 422, 429, 500) },
      },
    },
    async (request) => users.update(callerOf(request).userId, request.body),
  );

  app.post(
    '/users/me/password',
    {
      bodyLimit: 65_536,
      config: { auth: {} },
      schema: {
        tags,
        operationId: 'changePassword',
        summary: "Change the caller's password; every other session ends",
        security: TOKEN_ONLY,
        body: ChangePasswordBody,
        response: { 204: NO_CONTENT, ...problemResponses(400, 401, 403, 413, 415, 422, 429, 500) },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      await auth.changePassword(
        caller.userId,
        caller.sessionId,
        request.body.currentPassword,
        request.body.newPassword,
      );
      return reply.code(204).send();
    },
  );

  if (version === 'v2') {
    app.get(
      '/users',
      {
        config: { auth: { roles: ADMIN, scope: 'users:read' } },
        schema: {
          tags,
          operationId: 'listUsers',
          summary: 'Users, newest first, a cursor page at a time (admins only); q matches name or email',
          description:
            '`nextCursor` is null exactly when nothing follows; while it is not, `Link: <…>; rel="next"` names the next page. A cursor is bound to the caller and the filters (not to `limit`): another one → 400 invalid_cursor.',
          security: TOKEN_OR_KEY,
          querystring: UserCursorQuery,
          response: {
            200: cursorPageResponse(UserCursorPageSchema, 'users'),
            ...problemResponses(400, 401, 403, 422, 429, 500),
          },
        },
      },
      async (request, reply) => {
        const { limit = 20, cursor, q, role } = request.query;
        const filter = { ...(q ? { q } : {}), ...(role ? { role } : {}) };
        return withNextLink(
          reply,
          await users.listAfter(app.cursors, callerOf(request).userId, filter, limit, cursor),
        );
      },
    );
  } else {
    app.get(
      '/users',
      {
        config: { auth: { roles: ADMIN, scope: 'users:read' } },
        schema: {
          tags,
          operationId: 'listUsers',
          summary: 'A page of users, newest first (admins only); q matches name or email',
          security: TOKEN_OR_KEY,
          querystring: UserListQuery,
          response: { 200: Type.Ref(UserPageSchema), ...problemResponses(401, 403, 422, 429, 500) },
        },
      },
      async (request) => {
        const { page = 1, size = 20, q, role } = request.query;
        return users.list({ ...(q ? { q } : {}), ...(role ? { role } : {}) }, page, size);
      },
    );
  }

  app.post(
    '/users',
    {
      bodyLimit: 65_536,
      config: { auth: { roles: ADMIN, scope: 'users:write' } },
      schema: {
        tags,
        operationId: 'createUser',
        summary: 'Create a user (admins only); role defaults to user',
        security: TOKEN_OR_KEY,
        body: CreateUserBody,
        response: {
          201: Type.Ref(UserSchema),
          ...problemResponses(400, 401, 403, 409, 413, 415, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      const user = await users.create(request.body);
      return reply.code(201).header('location', `/api/${version}/users/${user.id}`).send(user);
    },
  );

  app.get(
    '/users/:id',
    {
      config: { auth: { scope: 'users:read' } },
      schema: {
        tags,
        operationId: 'getUser',
        summary: 'A user (admins: anyone; others: their own record, else 404)',
        security: TOKEN_OR_KEY,
        params: UserIdParams,
        response: { 200: Type.Ref(UserSchema), ...problemResponses(401, 403, 404, 429, 500) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      if (caller.role !== 'admin' && caller.userId !== request.params.id) throw new ApiError('not_found');
      return users.get(request.params.id);
    },
  );

  app.patch(
    '/users/:id',
    {
      bodyLimit: 65_536,
      config: { auth: { roles: ADMIN, scope: 'users:write' } },
      schema: {
        tags,
        operationId: 'updateUser',
        summary: 'Change a user (admins only): name, role, disabled',
        description:
          "Disabling ends the user's sessions. A change that would leave no enabled admin → 409 last_admin.",
        security: TOKEN_OR_KEY,
        params: UserIdParams,
        body: UpdateUserBody,
        response: {
          200: Type.Ref(UserSchema),
          ...problemResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 500),
        },
      },
    },
    async (request) => users.update(request.params.id, request.body),
  );

  app.delete(
    '/users/:id',
    {
      config: { auth: { roles: ADMIN, scope: 'users:write' } },
      schema: {
        tags,
        operationId: 'deleteUser',
        summary: 'Delete a user with its tasks and sessions (admins only)',
        description:
          'An admin deleting itself → 409 conflict; deleting the last enabled admin → 409 last_admin.',
        security: TOKEN_OR_KEY,
        params: UserIdParams,
        response: { 204: NO_CONTENT, ...problemResponses(401, 403, 404, 409, 429, 500) },
      },
    },
    async (request, reply) => {
      await users.delete(request.params.id, callerOf(request).userId);
      return reply.code(204).send();
    },
  );
};
