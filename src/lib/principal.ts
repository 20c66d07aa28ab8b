import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';

/**
 * What every route needs to know of its caller, and nothing of how the caller was authenticated
 * (that is the auth module's business): the roles, the API-key scopes, the policy a route declares
 * in `config.auth`, and the principal the authentication hook leaves on the request.
 */

export const ROLES = ['admin', 'user', 'guest'] as const;
export type Role = (typeof ROLES)[number];

export type Scope = 'tasks:read' | 'tasks:write' | 'users:read' | 'users:write';

export interface AuthPolicy {
  /** Roles that may call the route (all when absent). */
  roles?: Role[];
  /** The scope an API key needs; without it keys may not call the route. */
  scope?: Scope | 'any';
}

export interface Principal {
  userId: string;
  role: Role;
  /** The login session of an access token; null for an API key. */
  sessionId: string | null;
  /** The scopes of an API key; null for an access token (its role decides). */
  scopes: Scope[] | null;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthPolicy;
  }
  interface FastifyRequest {
    principal: Principal | null;
    authFailure: ApiError | null;
  }
}

type Security = Record<string, string[]>[];
/** OpenAPI security of routes that take an access token or an API key. */
export const TOKEN_OR_KEY: Security = [{ bearerAuth: [] }, { oauth2: [] }, { apiKey: [] }];
/** OpenAPI security of routes that take an access token only (keys are refused). */
export const TOKEN_ONLY: Security = [{ bearerAuth: [] }, { oauth2: [] }];

/** The caller of a route that requires authentication (the hooks guarantee one). */
export function callerOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new ApiError('unauthorized');
  return request.principal;
}
