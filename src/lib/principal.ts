import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';

/**
 * What every route needs to know of its caller, and nothing of how the caller was authenticated
 * (that is the auth module's business): the roles, the API-key scopes, the policy a route declares
 * in `config.auth`, and the principal the authentication hook leaves on the request.
 */

export const ROLES = ['admin', 'user', 'guest'] as const;
export type Role = (typeof ROLES)[number];

export const SCOPES = [
  'tasks:read',
  'tasks:write',
  'projects:read',
  'projects:write',
  'comments:write',
  'users:read',
  'users:write',
] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * The scopes each role allows an API key (contract §2 and §7): a guest reads tasks and projects
 * and comments; a user holds all but `users:*`; an admin all.
 */
export const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  guest: ['tasks:read', 'projects:read', 'comments:write'],
  user: ['tasks:read', 'tasks:write', 'projects:read', 'projects:write', 'comments:write'],
  admin: SCOPES,
};

/** A member's role in a project (contract §7), from least to most. */
export const PROJECT_ROLES = ['viewer', 'commenter', 'editor', 'owner'] as const;
export type ProjectRole = (typeof PROJECT_ROLES)[number];

/** Whether `role` allows at least what `least` allows. */
export function atLeast(role: ProjectRole | null, least: ProjectRole): boolean {
  return role !== null && PROJECT_ROLES.indexOf(role) >= PROJECT_ROLES.indexOf(least);
}

/** The most a global role may be in any project: a guest at most commenter. */
export const ROLE_CAP: Record<Role, ProjectRole> = { admin: 'owner', user: 'owner', guest: 'commenter' };

/**
 * What a stored membership means now: capped by the member's current global role (so demoting a
 * user to guest caps its roles at once, and promoting it back restores them).
 */
export function effectiveProjectRole(stored: ProjectRole, role: Role): ProjectRole {
  const cap = ROLE_CAP[role];
  return PROJECT_ROLES.indexOf(stored) > PROJECT_ROLES.indexOf(cap) ? cap : stored;
}

/**
 * The caller's role in a project: an admin acts as owner everywhere, a member as its (capped)
 * membership, anyone else has none.
 */
export function callerProjectRole(caller: Principal, membership: ProjectRole | null): ProjectRole | null {
  if (caller.role === 'admin') return 'owner';
  return membership === null ? null : effectiveProjectRole(membership, caller.role);
}

/** What a key may do now: its scopes intersected with its owner's current role. */
export function effectiveScopes(scopes: readonly Scope[], role: Role): Scope[] {
  return scopes.filter((scope) => ROLE_SCOPES[role].includes(scope));
}

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
  /**
   * The effective scopes of an API key (its scopes ∩ its owner's current role); null for an
   * access token (its role decides).
   */
  scopes: Scope[] | null;
  /** The API key that authenticated the call; null for an access token (events name it as actor). */
  apiKeyId: string | null;
  /**
   * When the access token stops being valid (milliseconds since the epoch): a long-lived reply (the
   * event stream) ends then. Null for an API key (its revocation or expiry is checked at use).
   */
  tokenExpiresAt: number | null;
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
