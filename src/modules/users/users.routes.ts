import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ApiError } from '../../errors.js';
import { problemResponses } from '../../lib/common-schemas.js';
import { IDEMPOTENT, recordReply, sendCreated } from '../../lib/idempotency.js';
import { listRoute } from '../../lib/lists.js';
import type { VersionOptions } from '../../lib/module.js';
import { callerOf, TOKEN_ONLY, TOKEN_OR_KEY } from '../../lib/principal.js';
import {
  ChangePasswordBody,
  CreateUserBody,
  UpdateMeBody,
  UpdateUserBody,
  type User,
  UserCursorPageSchema,
  UserIdParams,
  UserListParams,
  UserPageSchema,
  UserSchema,
} from './users.schemas.js';

const ADMIN = ['admin' as const];
const NO_CONTENT = { description: 'Done', type: 'null' } as const;

/** /users/me for everyone signed in; the rest of /users for admins (and keys with users:* scopes). */
export const usersRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { version, ctx }) => {
  const { users } = ctx.services;
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
      await users.changePassword(
        caller.userId,
        caller.sessionId,
        request.body.currentPassword,
        request.body.newPassword,
      );
      return reply.code(204).send();
    },
  );

  listRoute(app, version, {
    url: '/users',
    operationId: 'listUsers',
    tags,
    security: TOKEN_OR_KEY,
    config: { auth: { roles: ADMIN, scope: 'users:read' } },
    what: 'users',
    summary: {
      v1: 'A page of users, newest first (admins only); q matches name or email',
      v2: 'Users, newest first, a cursor page at a time (admins only); q matches name or email',
    },
    cursorBinding: 'the caller and the filters',
    filters: UserListParams,
    pageSchema: UserPageSchema,
    cursorPageSchema: UserCursorPageSchema,
    problems: [401, 403, 422, 429, 500],
    page: (_request, filter, page) => users.list(filter, page),
    cursorPage: (request, filter, cursor) => users.listAfter(callerOf(request).userId, filter, cursor),
  });

  app.post(
    '/users',
    {
      bodyLimit: 65_536,
      config: { auth: { roles: ADMIN, scope: 'users:write' }, idempotency: IDEMPOTENT },
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
      const created = (user: User) => ({
        status: 201,
        headers: { location: `/api/${version}/users/${user.id}` },
        body: user,
      });
      const user = await users.create(request.body, recordReply(request, reply, created));
      return sendCreated(reply, created(user));
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
          'An admin deleting itself → 409 conflict; deleting the last enabled admin → 409 last_admin; the last owner of a shared project that has other members → 409 last_owner (give that project another owner first). Projects of which it is the only member, and its personal project, go with it.',
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
