import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCOPES as ALL_SCOPES, type Scope } from '../../src/lib/principal.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { bearer, type IssuedKey, issueKey, xApiKey } from './helpers.js';

/**
 * The contract's Permissions table (§3), API-key column, for every route of both versions: a
 * route added without a row here fails the first test, and each row is tried with a key of every
 * single scope and one of all of them.
 */
type Need = 'no credentials' | 'keys refused' | 'any' | Scope;
const TABLE: Record<string, Need> = {
  'POST /auth/register': 'no credentials',
  'POST /auth/login': 'no credentials',
  'POST /auth/token': 'no credentials',
  'POST /auth/refresh': 'no credentials',
  'POST /auth/password-reset': 'no credentials',
  'POST /auth/password-reset/confirm': 'no credentials',
  'POST /auth/logout': 'keys refused',
  'POST /auth/logout-all': 'keys refused',
  'GET /auth/sessions': 'keys refused',
  'DELETE /auth/sessions/{id}': 'keys refused',
  'POST /users/me/password': 'keys refused',
  'PATCH /users/me': 'keys refused',
  'POST /api-keys': 'keys refused',
  'GET /api-keys': 'keys refused',
  'GET /api-keys/{id}': 'keys refused',
  'DELETE /api-keys/{id}': 'keys refused',
  'POST /webhooks': 'keys refused',
  'GET /webhooks': 'keys refused',
  'GET /webhooks/{id}': 'keys refused',
  'PATCH /webhooks/{id}': 'keys refused',
  'DELETE /webhooks/{id}': 'keys refused',
  'GET /webhooks/{id}/deliveries': 'keys refused',
  'POST /webhooks/{id}/deliveries/{deliveryId}/redeliver': 'keys refused',
  'POST /webhooks/{id}/ping': 'keys refused',
  'GET /users/me': 'any',
  'GET /tasks': 'tasks:read',
  'GET /tasks/stats': 'tasks:read',
  'GET /tasks/{id}': 'tasks:read',
  'POST /tasks': 'tasks:write',
  'PATCH /tasks/{id}': 'tasks:write',
  'PUT /tasks/{id}': 'tasks:write',
  'DELETE /tasks/{id}': 'tasks:write',
  'GET /tasks/{id}/comments': 'tasks:read',
  'GET /tasks/{id}/activity': 'tasks:read',
  'POST /tasks/{id}/comments': 'comments:write',
  'GET /comments/{id}': 'tasks:read',
  'PATCH /comments/{id}': 'comments:write',
  'DELETE /comments/{id}': 'comments:write',
  'GET /users': 'users:read',
  'GET /users/{id}': 'users:read',
  'POST /users': 'users:write',
  'PATCH /users/{id}': 'users:write',
  'DELETE /users/{id}': 'users:write',
  'GET /projects': 'projects:read',
  'GET /projects/{id}': 'projects:read',
  'GET /projects/{id}/members': 'projects:read',
  'GET /projects/{id}/members/{userId}': 'projects:read',
  'POST /projects': 'projects:write',
  'PATCH /projects/{id}': 'projects:write',
  'DELETE /projects/{id}': 'projects:write',
  'POST /projects/{id}/members': 'projects:write',
  'PATCH /projects/{id}/members/{userId}': 'projects:write',
  'DELETE /projects/{id}/members/{userId}': 'projects:write',
  'GET /events': 'tasks:read',
  'GET /events/head': 'tasks:read',
  'GET /events/stream': 'tasks:read',
};
/** Headers of a row's request: a stream allowed in would never end, a malformed Last-Event-ID ends it (400). */
const ROW_HEADERS: Record<string, Record<string, string>> = {
  'GET /events/stream': { 'last-event-id': 'not-an-event-id' },
};
const SCOPES: Scope[] = [...ALL_SCOPES];
const VERSIONS = ['v1', 'v2'] as const;

let t: TestApp;
let keys: { scopes: Scope[]; key: IssuedKey }[];
let operations: { method: string; path: string; security: Record<string, string[]>[] | undefined }[];

beforeAll(async () => {
  t = await buildTestApp();
  // An admin owner: its role allows every scope, so only the key's scopes decide.
  const owner = await signedIn(t.app, 'admin');
  keys = [];
  for (const scopes of [...SCOPES.map((s) => [s]), SCOPES]) {
    keys.push({ scopes, key: await issueKey(t.app, owner.headers, scopes) });
  }
  const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>>;
  };
  operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      security: op.security,
    })),
  );
});
afterAll(async () => t.close());

function row(method: string, path: string): string {
  return `${method} ${path.replace(/^\/api\/v[12]/, '')}`;
}

describe('the Permissions table for API keys', () => {
  it('has a row for every route of both versions, and no row without a route', () => {
    const routes = operations.filter((op) => /^\/api\/v[12]\//.test(op.path));
    for (const version of VERSIONS) {
      const served = routes
        .filter((op) => op.path.startsWith(`/api/${version}/`))
        .map((op) => row(op.method, op.path))
        .sort();
      expect(served, version).toEqual(Object.keys(TABLE).sort());
    }
  });

  it('is what the OpenAPI document offers: the apiKey scheme exactly where keys are taken', () => {
    for (const op of operations.filter((o) => /^\/api\/v[12]\//.test(o.path))) {
      const need = TABLE[row(op.method, op.path)];
      const schemes = (op.security ?? []).flatMap((r) => Object.keys(r));
      const label = `${op.method} ${op.path}`;
      if (need === 'no credentials') expect(schemes, label).toEqual([]);
      else if (need === 'keys refused') expect(schemes.sort(), label).toEqual(['bearerAuth', 'oauth2']);
      else expect(schemes.sort(), label).toEqual(['apiKey', 'bearerAuth', 'oauth2']);
    }
  });

  const protectedRows = Object.entries(TABLE).filter(([, need]) => need !== 'no credentials');
  describe.each(VERSIONS)('%s', (version) => {
    it.each(protectedRows)('%s needs %s', async (name, need) => {
      const [method, template] = name.split(' ') as [string, string];
      const url = `/api/${version}${template.replace(/\{[A-Za-z]+\}/g, '0191d8a0-0000-7000-8000-000000000000')}`;
      const withBody = ['POST', 'PATCH', 'PUT'].includes(method);
      for (const { scopes, key } of keys) {
        const allowed = need === 'any' || (need !== 'keys refused' && scopes.includes(need as Scope));
        // Both header forms, one per version.
        const headers = { ...(version === 'v1' ? bearer(key.key) : xApiKey(key.key)), ...ROW_HEADERS[name] };
        const res = await t.app.inject({
          method: method as 'GET',
          url,
          headers,
          ...(withBody ? { payload: {} } : {}),
        });
        const label = `${method} ${url} with ${scopes.join(',')}`;
        if (allowed) {
          expect([401, 403], label).not.toContain(res.statusCode);
        } else {
          expect(res.statusCode, label).toBe(403);
          expect(res.json().code, label).toBe('forbidden');
        }
      }
    });
  });
});
