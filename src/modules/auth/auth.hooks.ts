import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../errors.js';
import type { AuthPolicy } from '../../lib/principal.js';
import { type AuthService, tokenFailure } from './auth.service.js';

/**
 * Authentication and authorization, driven by each route's `config.auth`. A route without it
 * takes no credentials and ignores any Authorization header (the docs' Authorize button sends
 * Basic client credentials to /auth/token). Two hooks: `authenticate` resolves who is calling,
 * `authorize` then refuses with 401/403, so a hook keyed by the caller can run between the two.
 */

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

export function installAuthentication(app: FastifyInstance, auth: AuthService): void {
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
        ? await auth.authenticateBearer(credential.value)
        : credential.kind === 'api_key'
          ? await auth.authenticateApiKey(credential.value)
          : tokenFailure('invalid_token', credential.detail);
    if (result instanceof ApiError) {
      request.authFailure = result;
    } else {
      request.principal = result;
      if (result.sessionId) auth.touch(result.sessionId);
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
    // `any` still needs one effective scope: a key whose owner's role now allows none of its
    // scopes may do nothing.
    const allowed =
      policy.scope === 'any'
        ? principal.scopes.length > 0
        : policy.scope !== undefined && principal.scopes.includes(policy.scope);
    if (!allowed) return new ApiError('forbidden', { detail: 'This API key may not call this route' });
  }
  return null;
}
