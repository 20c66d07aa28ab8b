import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { problemResponses } from '../../lib/common-schemas.js';
import { listRoute } from '../../lib/lists.js';
import type { VersionOptions } from '../../lib/module.js';
import { callerOf, TOKEN_ONLY } from '../../lib/principal.js';
import {
  ApiKeyCursorPageSchema,
  ApiKeyIdParams,
  ApiKeyPageSchema,
  ApiKeySchema,
  CreateApiKeyBody,
  NewApiKeySchema,
} from './api-keys.schemas.js';

/** Signed in with an access token, any role; API keys cannot manage keys (no scope: 403). */
const TOKEN = { auth: {} };
const NO_CONTENT = { description: 'Revoked', type: 'null' } as const;

/** The caller's own API keys; everyone else's are not found. */
export const apiKeysRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { version, ctx }) => {
  const { apiKeys } = ctx.services;
  const tags = ['api-keys'];

  app.post(
    '/api-keys',
    {
      bodyLimit: 65_536,
      config: TOKEN,
      schema: {
        tags,
        operationId: 'createApiKey',
        summary: 'Issue an API key; the secret `key` is in this reply only',
        description:
          "The key holds only scopes the caller's role allows (else 422 `scope_not_allowed` on `/scopes/<i>`); `expiresAt`, when given, must be in the future (else 422 `too_small` on `/expiresAt`). What the key may do is always its scopes intersected with its owner's current role. At most 100 keys per user (409 `conflict`). An API key cannot call this route (403).",
        security: TOKEN_ONLY,
        body: CreateApiKeyBody,
        response: {
          201: {
            description: 'The new key, with its secret (shown once) and Location',
            headers: { Location: Type.String({ maxLength: 200, description: 'the key’s URL' }) },
            content: { 'application/json': { schema: Type.Ref(NewApiKeySchema) } },
          },
          ...problemResponses(400, 401, 403, 409, 413, 415, 422, 429, 500),
        },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const key = await apiKeys.create(caller.userId, caller.role, request.body);
      return reply.code(201).header('location', `/api/${version}/api-keys/${key.id}`).send(key);
    },
  );

  listRoute(app, version, {
    url: '/api-keys',
    operationId: 'listApiKeys',
    tags,
    security: TOKEN_ONLY,
    config: TOKEN,
    what: 'API keys',
    summary: {
      v1: "A page of the caller's API keys, newest first (never their secrets)",
      v2: "The caller's API keys, newest first, a cursor page at a time (never their secrets)",
    },
    cursorBinding: 'the caller',
    filters: {},
    pageSchema: ApiKeyPageSchema,
    cursorPageSchema: ApiKeyCursorPageSchema,
    problems: [401, 403, 422, 429, 500],
    page: (request, _filter, page) => apiKeys.list(callerOf(request).userId, page),
    cursorPage: (request, _filter, cursor) => apiKeys.listAfter(callerOf(request).userId, cursor),
  });

  app.get(
    '/api-keys/:id',
    {
      config: TOKEN,
      schema: {
        tags,
        operationId: 'getApiKey',
        summary: "One of the caller's API keys (another's: 404)",
        security: TOKEN_ONLY,
        params: ApiKeyIdParams,
        response: { 200: Type.Ref(ApiKeySchema), ...problemResponses(401, 403, 404, 429, 500) },
      },
    },
    async (request) => apiKeys.get(callerOf(request).userId, request.params.id),
  );

  app.delete(
    '/api-keys/:id',
    {
      config: TOKEN,
      schema: {
        tags,
        operationId: 'revokeApiKey',
        summary: "Revoke one of the caller's API keys: it stops working at once (another's: 404)",
        security: TOKEN_ONLY,
        params: ApiKeyIdParams,
        response: { 204: NO_CONTENT, ...problemResponses(401, 403, 404, 429, 500) },
      },
    },
    async (request, reply) => {
      await apiKeys.revoke(callerOf(request).userId, request.params.id);
      return reply.code(204).send();
    },
  );
};
