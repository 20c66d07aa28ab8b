import jwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, type ProblemCode } from '../../errors.js';
import type { AuthPolicy, Principal } from '../../lib/principal.js';
import type { AuthStateCache } from './auth-state.js';
import { touchSession } from './sessions.repository.js';
import { isAccessClaims } from './tokens.js';

/**
 * Authentication and authorization, driven by each route's `config.auth`. A route without it
 * takes no credentials and ignores any Authorization header (the docs' Authorize button sends
 * Basic client credentials to /auth/token). Two hooks: `authenticate` resolves who is calling,
 * `authorize` refuses with 401/403 afterwards.
 */

declare module 'fastify' {
  interface FastifyInstance {
    authState: AuthStateCache;
  }
}

const INVALID_TOKEN_CHALLENGE = 'Bearer realm="taskforge", error="invalid_token"';

function tokenFailure(code: ProblemCode, detail?: string): ApiError {
  return new ApiError(code, {
    status: 401,
    headers: { 'www-authenticate': INVALID_TOKEN_CHALLENGE },
    ...(detail ? { detail } : {}),
  });
}

/**
 * The credential a request presents, read one way: `Authorization: Bearer` carries an access token
 * or an API key, `X-API-Key` an API key only. Both at once is ambiguous and refused rather than
 * guessed at (which one would a proxy or a client library have meant?).
 */
type Presented =
  | { kind: 'none' }
  | { kind: 'bearer'; value: string }
  | { kind: 'api_key'; value: string }
  | { kind: 'unusable'; detail?: string };

function presentedCredential(request: FastifyRequest): Presented {
  const header = request.headers.authorization;
  const key = request.headers['x-api-key'];
  if (header !== undefined && key !== undefined) {
    return { kind: 'unusable', detail: 'Send one credential: Authorization or X-API-Key, not both' };
  }
  if (header !== undefined) {
    const match = /^Bearer +([^\s]+) *$/i.exec(header);
    return match?.[1] ? { kind: 'bearer', value: match[1] } : { kind: 'unusable' };
  }
  if (key !== undefined) {
    return typeof key === 'string' && key.length > 0 ? { kind: 'api_key', value: key } : { kind: 'unusable' };
  }
  return { kind: 'none' };
}

/**
 * Who an API key authenticates as: the one place that decides what a key is. No route issues keys
 * yet (the API-key issue adds them and their lookup here), so no value is a known key: every one,
 * an access token included, is 401 invalid_token.
 */
async function authenticateApiKey(_key: string): Promise<Principal | ApiError> {
  return tokenFailure('invalid_token');
}

/** A bearer value: a JWT is an access token (three dot-separated parts); anything else would be a key. */
function authenticateBearer(app: FastifyInstance, value: string): Promise<Principal | ApiError> {
  return value.split('.').length === 3 ? verifyAccessToken(app, value) : authenticateApiKey(value);
}

async function verifyAccessToken(app: FastifyInstance, token: string): Promise<Principal | ApiError> {
  let claims: unknown;
  let expired = false;
  try {
    claims = app.jwt.verify(token);
  } catch (error) {
    // fast-jwt checks the signature before the claims, so an expired token was validly signed.
    if ((error as { code?: string }).code !== 'FAST_JWT_EXPIRED') return tokenFailure('invalid_token');
    expired = true;
    claims = app.jwt.decode(token);
  }
  if (!isAccessClaims(claims)) return tokenFailure('invalid_token');
  // The contract's order: invalid_token (unknown user or session) → account_disabled →
  // token_expired → token_revoked.
  const [user, session] = await Promise.all([
    app.authState.user(claims.sub),
    app.authState.session(claims.sid),
  ]);
  if (!user || !session || session.userId !== claims.sub) return tokenFailure('invalid_token');
  if (user.disabled) return tokenFailure('account_disabled');
  if (expired) return tokenFailure('token_expired');
  if (session.ended) return tokenFailure('token_revoked');
  return { userId: claims.sub, role: user.role, sessionId: claims.sid, scopes: null };
}

/** lastUsedAt may lag by up to a minute: one write per session per minute, never awaited. */
function sessionToucher(app: FastifyInstance): (sessionId: string) => void {
  const INTERVAL_MS = 60_000;
  const touched = new Map<string, number>();
  return (sessionId) => {
    const now = Date.now();
    const last = touched.get(sessionId);
    if (last !== undefined && now - last < INTERVAL_MS) return;
    if (touched.size > 100_000) touched.clear();
    touched.set(sessionId, now);
    touchSession(app.database.db, sessionId, new Date(now).toISOString()).catch((error: Error) => {
      app.log.warn({ err: { message: error.message } }, 'could not record session use');
    });
  };
}

export async function registerAuth(app: FastifyInstance): Promise<void> {
  const touch = sessionToucher(app);
  const secret = app.config.jwtSecret;
  if (!secret) throw new Error('JWT_SECRET must be resolved before the app is built');
  await app.register(jwt, {
    secret,
    sign: { algorithm: 'HS256' },
    verify: { algorithms: ['HS256'] },
  });
  app.decorateRequest('principal', null);
  app.decorateRequest('authFailure', null);

  const authenticate = async (request: FastifyRequest): Promise<void> => {
    const credential = presentedCredential(request);
    if (credential.kind === 'none') {
      request.authFailure = new ApiError('unauthorized');
      return;
    }
    const result =
      credential.kind === 'bearer'
        ? await authenticateBearer(app, credential.value)
        : credential.kind === 'api_key'
          ? await authenticateApiKey(credential.value)
          : tokenFailure('invalid_token', credential.detail);
    if (result instanceof ApiError) {
      request.authFailure = result;
    } else {
      request.principal = result;
      if (result.sessionId) touch(result.sessionId);
    }
  };
  // Callback-style, so the public routes pay no promise for a hook that does nothing for them.
  app.addHook('onRequest', (request, _reply, done) => {
    if (!request.routeOptions.config.auth) {
      done();
      return;
    }
    authenticate(request).then(() => done(), done);
  });
}

/** After authentication: 401 for failed credentials, 403 for a role or scope the route refuses. */
export function installAuthorization(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const policy = request.routeOptions.config.auth;
    if (!policy) {
      done();
      return;
    }
    done(refusal(policy, request) ?? undefined);
  });
}

function refusal(policy: AuthPolicy, request: FastifyRequest): ApiError | null {
  if (request.authFailure) return request.authFailure;
  const principal = request.principal;
  if (!principal) return new ApiError('unauthorized');
  if (policy.roles && !policy.roles.includes(principal.role)) return new ApiError('forbidden');
  if (principal.scopes !== null) {
    const allowed =
      policy.scope === 'any' || (policy.scope !== undefined && principal.scopes.includes(policy.scope));
    if (!allowed) return new ApiError('forbidden', { detail: 'This API key may not call this route' });
  }
  return null;
}
