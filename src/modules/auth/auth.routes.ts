import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ApiError } from '../../errors.js';
import { problemResponses } from '../../lib/common-schemas.js';
import { IDEMPOTENT_BY_CLIENT_IP, recordReply, sendCreated } from '../../lib/idempotency.js';
import type { VersionOptions } from '../../lib/module.js';
import { callerOf, TOKEN_ONLY } from '../../lib/principal.js';
import { RegisterBody, type User, UserSchema } from '../users/index.js';
import {
  CREDENTIAL_BODY_LIMIT,
  CREDENTIAL_ROUTE,
  CREDENTIAL_TOO_LARGE,
  LoginBody,
  LogoutBody,
  REUSE_GRACE_DESCRIPTION,
  RefreshBody,
  TokenPairSchema,
} from './auth.schemas.js';

/** Signed in with a session: any role; API keys are refused (no scope given). */
const SESSION_ONLY = { auth: {} };

/** Registration, login, refresh and logout. Credential routes take no credentials. */
export const authRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { version, ctx }) => {
  const { auth, users } = ctx.services;
  const tags = ['auth'];

  app.post(
    '/auth/register',
    {
      bodyLimit: CREDENTIAL_BODY_LIMIT,
      // The caller of a register is its client's address (request.ip: TRUST_PROXY decides).
      config: { ...CREDENTIAL_ROUTE, idempotency: IDEMPOTENT_BY_CLIENT_IP },
      // Closed registration answers before the body is read or validated.
      onRequest: async () => {
        if (!ctx.config.registrationOpen) throw new ApiError('registration_closed');
      },
      schema: {
        tags,
        operationId: 'register',
        security: [], // a credential route: it takes none
        summary: 'Create an account (role user)',
        body: RegisterBody,
        response: {
          201: Type.Ref(UserSchema),
          ...problemResponses(400, 403, 409, 415, 422, 429, 500),
          ...CREDENTIAL_TOO_LARGE,
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

  app.post(
    '/auth/login',
    {
      bodyLimit: CREDENTIAL_BODY_LIMIT,
      config: CREDENTIAL_ROUTE,
      schema: {
        tags,
        operationId: 'login',
        security: [], // a credential route: it takes none
        summary: 'Log in with email and password: a new session and its token pair',
        body: LoginBody,
        response: {
          200: Type.Ref(TokenPairSchema),
          ...problemResponses(400, 401, 403, 415, 422, 429, 500),
          ...CREDENTIAL_TOO_LARGE,
        },
      },
    },
    async (request) =>
      auth.login(request.body.email, request.body.password, {
        userAgent: request.headers['user-agent'] ?? null,
        ip: request.ip,
      }),
  );

  app.post(
    '/auth/refresh',
    {
      bodyLimit: CREDENTIAL_BODY_LIMIT,
      config: CREDENTIAL_ROUTE,
      schema: {
        tags,
        operationId: 'refresh',
        security: [], // a credential route: it takes none
        summary: 'Rotate a refresh token: a new pair; the old refresh token is spent',
        description: `The presented refresh token is spent and the reply holds a new pair. ${REUSE_GRACE_DESCRIPTION} Reused → 401 \`refresh_token_reused\`; expired → 401 \`refresh_token_expired\`; of an ended session → 401 \`token_revoked\`; unknown or malformed → 401 \`invalid_token\`.`,
        body: RefreshBody,
        response: {
          200: Type.Ref(TokenPairSchema),
          ...problemResponses(400, 401, 415, 422, 429, 500),
          ...CREDENTIAL_TOO_LARGE,
        },
      },
    },
    async (request) => auth.refresh(request.body.refreshToken),
  );

  app.post(
    '/auth/logout',
    {
      bodyLimit: CREDENTIAL_BODY_LIMIT,
      config: SESSION_ONLY,
      schema: {
        tags,
        operationId: 'logout',
        summary: "End the caller's session: its refresh and access tokens stop working at once",
        security: TOKEN_ONLY,
        body: LogoutBody,
        response: {
          204: { description: 'Logged out', type: 'null' },
          ...problemResponses(400, 401, 403, 415, 422, 429, 500),
          ...CREDENTIAL_TOO_LARGE,
        },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      if (!caller.sessionId) throw new ApiError('forbidden');
      await auth.logout(caller.sessionId, request.body?.refreshToken);
      return reply.code(204).send();
    },
  );

  app.post(
    '/auth/logout-all',
    {
      // It takes no body, but one sent with a JSON Content-Type is still read.
      bodyLimit: CREDENTIAL_BODY_LIMIT,
      config: SESSION_ONLY,
      schema: {
        tags,
        operationId: 'logoutAll',
        summary: 'End every session of the caller',
        security: TOKEN_ONLY,
        response: {
          204: { description: 'Logged out everywhere', type: 'null' },
          ...problemResponses(401, 403, 429, 500),
          ...CREDENTIAL_TOO_LARGE,
        },
      },
    },
    async (request, reply) => {
      await auth.logoutAll(callerOf(request).userId);
      return reply.code(204).send();
    },
  );
};
