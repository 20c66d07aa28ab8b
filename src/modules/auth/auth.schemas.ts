import { Type } from '@sinclair/typebox';
import { Id, ProblemSchema } from '../../lib/common-schemas.js';
import { CursorPageOf, PageOf } from '../../lib/lists.js';
import type { RateLimitPolicy } from '../../lib/rate-limit-policy.js';
import { SAFE_TEXT_PATTERN } from '../../lib/text.js';
import { Email, GivenPassword } from '../users/index.js';

/**
 * The body limit of the credential routes (register, login, token, refresh, logout, logout-all,
 * password-reset*): their bodies are a few short fields, and parsing and validating more is work
 * an anonymous caller should not be able to ask for.
 */
export const CREDENTIAL_BODY_LIMIT = 16_384;

/** The route config of a credential route: limited per client IP (contract §4), no credentials. */
export const CREDENTIAL_ROUTE: { rateLimitPolicy: RateLimitPolicy } = { rateLimitPolicy: 'credentials' };

/** The 413 of a credential route, naming its limit. */
export const CREDENTIAL_TOO_LARGE = {
  413: {
    description: 'Body over 16 KiB (problem details)',
    content: { 'application/problem+json': { schema: Type.Ref(ProblemSchema) } },
  },
};

/**
 * Like every text input, a refresh token with a control character or a lone surrogate is a 422;
 * any other malformed one is simply unknown (401 invalid_token).
 */
const RefreshTokenValue = Type.String({
  minLength: 1,
  maxLength: 1000,
  pattern: SAFE_TEXT_PATTERN,
  description: 'opaque refresh token',
});

export const LoginBody = Type.Object(
  { email: Email, password: GivenPassword },
  { additionalProperties: false },
);
export const RefreshBody = Type.Object({ refreshToken: RefreshTokenValue }, { additionalProperties: false });
export const LogoutBody = Type.Object(
  { refreshToken: Type.Optional(RefreshTokenValue) },
  {
    additionalProperties: false,
    'x-body-optional': true,
    description: 'optional: no body, or an empty one, is fine',
  },
);

export const TokenPairSchema = Type.Object(
  {
    accessToken: Type.String({ maxLength: 2000, description: 'HS256 JWT bound to the session' }),
    tokenType: Type.String({ enum: ['Bearer'] }),
    // Whole seconds, rounded down (0 for an ACCESS_TOKEN_TTL under a second).
    expiresIn: Type.Integer({ minimum: 0, maximum: 2_147_483_647, format: 'int32', description: 'seconds' }),
    refreshToken: Type.String({ maxLength: 200, description: 'opaque, single use' }),
    refreshExpiresIn: Type.Integer({
      // Whole seconds, rounded down: 0 for a REFRESH_TOKEN_TTL under a second.
      minimum: 0,
      maximum: 2_147_483_647,
      format: 'int32',
      description: 'seconds',
    }),
  },
  { $id: 'TokenPair', additionalProperties: false },
);

/** RFC 6749 §4.3 / §6: the form fields of POST /auth/token. Unknown fields are ignored, per §3.2. */
export const TokenForm = Type.Object(
  {
    grant_type: Type.String({ maxLength: 50, pattern: '^[a-z_]+$' }),
    // The same address rules as the JSON login: a malformed one is 400 invalid_request.
    username: Type.Optional(Email),
    password: Type.Optional(GivenPassword),
    refresh_token: Type.Optional(Type.String({ maxLength: 200, pattern: SAFE_TEXT_PATTERN })),
    scope: Type.Optional(Type.String({ maxLength: 500, pattern: SAFE_TEXT_PATTERN })),
    client_id: Type.Optional(Type.String({ maxLength: 200, pattern: SAFE_TEXT_PATTERN })),
    client_secret: Type.Optional(
      Type.String({ maxLength: 200, format: 'password', pattern: SAFE_TEXT_PATTERN }),
    ),
  },
  { additionalProperties: true },
);

export const OAuthTokenSchema = Type.Object(
  {
    access_token: Type.String({ maxLength: 2000 }),
    token_type: Type.String({ enum: ['Bearer'] }),
    expires_in: Type.Integer({ minimum: 1, maximum: 2_147_483_647, format: 'int32' }),
    refresh_token: Type.String({ maxLength: 200 }),
  },
  { $id: 'OAuthToken', additionalProperties: false },
);

/** The reuse grace as clients see it, on POST /auth/refresh and the token endpoint's refresh grant. */
export const REUSE_GRACE_DESCRIPTION =
  'Presenting a spent refresh token again ends its whole session (`refresh_token_reused`), except within `REFRESH_REUSE_GRACE` (default 10 s; `0s` turns it off) of its first use while the new refresh token of that first use is itself still unspent: then the reply is a success with **that same new refresh token** and a fresh access token of the same session, so two tabs refreshing at once, or a client retrying after a lost reply, keep their session.';

const Timestamp = Type.String({ format: 'date-time', maxLength: 30, examples: ['2026-11-22T01:15:37.000Z'] });

/** One login, as its user sees it. */
export const SessionSchema = Type.Object(
  {
    id: Id,
    createdAt: Timestamp,
    lastUsedAt: Type.String({ format: 'date-time', maxLength: 30, description: 'may lag by up to 60 s' }),
    userAgent: Type.Union([
      Type.String({ maxLength: 2048, description: 'truncated to 512 code points' }),
      Type.Null(),
    ]),
    ip: Type.Union([
      Type.String({
        maxLength: 64,
        description: 'the client address at login (under TRUST_PROXY, from X-Forwarded-For)',
      }),
      Type.Null(),
    ]),
    current: Type.Boolean({ description: 'the session of the access token making this request' }),
  },
  { $id: 'Session', additionalProperties: false },
);
export const SessionPageSchema = PageOf(SessionSchema, 'SessionPage');
export const SessionCursorPageSchema = CursorPageOf(SessionSchema, 'SessionCursorPage');
export const SessionIdParams = Type.Object({ id: Id });
