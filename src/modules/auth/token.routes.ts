import formbody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyError } from 'fastify';
import { ApiError, type ProblemCode } from '../../errors.js';
import { problemResponses } from '../../lib/common-schemas.js';
import type { VersionOptions } from '../../lib/module.js';
import { sendProblem, toApiError } from '../../plugins/problem-details.js';
import {
  CREDENTIAL_BODY_LIMIT,
  CREDENTIAL_ROUTE,
  CREDENTIAL_TOO_LARGE,
  OAuthTokenSchema,
  REUSE_GRACE_DESCRIPTION,
  TokenForm,
} from './auth.schemas.js';
import type { TokenPair } from './auth.service.js';

/** Codes of the JSON routes that RFC 6749 §5.2 calls `invalid_grant`. */
const GRANT_CODES = new Set<ProblemCode>([
  'invalid_credentials',
  'account_disabled',
  'refresh_token_reused',
  'refresh_token_expired',
  'token_revoked',
  'invalid_token',
]);

type OAuthError = 'invalid_request' | 'invalid_grant' | 'unsupported_grant_type';

function oauthError(
  error: OAuthError,
  description: string,
  code: ProblemCode = 'validation_failed',
): ApiError {
  return new ApiError(code, {
    status: 400,
    detail: description,
    extensions: { error, error_description: description },
  });
}

/** Any failure of the token endpoint in RFC 6749 §5.2 form (a lock-out stays 429). */
function toOAuthError(error: unknown): ApiError {
  const apiError = toApiError(error);
  if ((error as FastifyError).validation)
    return oauthError('invalid_request', 'The request is missing a parameter or has a bad one');
  if (GRANT_CODES.has(apiError.code)) return oauthError('invalid_grant', apiError.detail, apiError.code);
  return apiError;
}

/**
 * The OAuth2 token endpoint (RFC 6749 §4.3 password grant, §6 refresh) for OAuth2 clients such
 * as the docs' Authorize button. Form-encoded only; its own plugin scope holds the form parser.
 */
export const tokenRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { ctx }) => {
  await app.register(formbody, { bodyLimit: CREDENTIAL_BODY_LIMIT });
  const { auth } = ctx.services;

  app.post(
    '/auth/token',
    {
      // Also caps a body of another type, which is read before the 415.
      bodyLimit: CREDENTIAL_BODY_LIMIT,
      config: CREDENTIAL_ROUTE,
      preValidation: async (request) => {
        // Stryker disable next-line StringLiteral,OptionalChaining: any other text is not the form type either; split gives one part at least
        const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
        if (type !== 'application/x-www-form-urlencoded') throw new ApiError('unsupported_media_type');
      },
      errorHandler: (error, _request, reply) => sendProblem(reply, toOAuthError(error)),
      schema: {
        tags: ['auth'],
        operationId: 'oauthToken',
        security: [], // a credential route: it takes none
        summary: 'OAuth2 token endpoint: password and refresh_token grants (form-encoded)',
        description:
          'RFC 6749 §4.3 and §6. `scope`, `client_id`, `client_secret` and an `Authorization: Basic` header are accepted and ignored. `username` is an email address with the same rules as on POST /auth/login (a malformed one is `invalid_request`). Errors are 400 problem details that also carry `error` and `error_description` (§5.2); `invalid_grant` carries the `code` POST /auth/refresh or POST /auth/login would give.\n\n' +
          `The refresh_token grant rotates like POST /auth/refresh. ${REUSE_GRACE_DESCRIPTION}`,
        body: TokenForm,
        consumes: ['application/x-www-form-urlencoded'],
        response: {
          200: Type.Ref(OAuthTokenSchema),
          ...problemResponses(400, 415, 429, 500),
          ...CREDENTIAL_TOO_LARGE,
        },
      },
    },
    async (request, reply) => {
      const form = request.body;
      reply.header('pragma', 'no-cache');
      let pair: TokenPair;
      if (form.grant_type === 'password') {
        if (!form.username || !form.password)
          throw oauthError('invalid_request', 'username and password are required');
        pair = await auth.login(form.username, form.password, {
          userAgent: request.headers['user-agent'] ?? null,
          ip: request.ip,
        });
      } else if (form.grant_type === 'refresh_token') {
        if (!form.refresh_token) throw oauthError('invalid_request', 'refresh_token is required');
        pair = await auth.refresh(form.refresh_token);
      } else {
        throw oauthError('unsupported_grant_type', 'grant_type must be password or refresh_token');
      }
      return {
        access_token: pair.accessToken,
        token_type: 'Bearer' as const,
        expires_in: pair.expiresIn,
        refresh_token: pair.refreshToken,
      };
    },
  );
};
