import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.js';
import type { AuthPolicy, Principal } from '../../src/lib/principal.js';
import { installAuthentication, installAuthorization } from '../../src/modules/auth/auth.hooks.js';
import type { AuthService } from '../../src/modules/auth/auth.service.js';
import { installProblemDetails } from '../../src/plugins/problem-details.js';

/**
 * The authentication and authorization hooks on a bare Fastify, with an AuthService stand-in that
 * knows a few credentials: how a request's credential is read, and which policy refuses what.
 * The real service behind them: test/auth/credentials.test.ts and test/api-keys/.
 */

const user: Principal = {
  userId: 'u1',
  role: 'user',
  sessionId: 's1',
  scopes: null,
  apiKeyId: null,
  tokenExpiresAt: 1,
};
const admin: Principal = {
  userId: 'a1',
  role: 'admin',
  sessionId: 's2',
  scopes: null,
  apiKeyId: null,
  tokenExpiresAt: 1,
};
const readKey: Principal = {
  userId: 'u1',
  role: 'user',
  sessionId: null,
  scopes: ['tasks:read'],
  apiKeyId: 'k1',
  tokenExpiresAt: null,
};
const emptyKey: Principal = {
  userId: 'u1',
  role: 'user',
  sessionId: null,
  scopes: [],
  apiKeyId: 'k2',
  tokenExpiresAt: null,
};

const calls: string[] = [];
const auth = {
  authenticateBearer: async (value: string) => {
    calls.push(`bearer ${value}`);
    if (value === 'user-token') return user;
    if (value === 'admin-token') return admin;
    if (value === 'tfk_read') return readKey;
    if (value === 'tfk_empty') return emptyKey;
    return new ApiError('token_expired', { status: 401 });
  },
  authenticateApiKey: async (value: string) => {
    calls.push(`key ${value}`);
    return value === 'tfk_read' ? readKey : new ApiError('invalid_token');
  },
  touch: (sessionId: string) => calls.push(`touch ${sessionId}`),
} as unknown as AuthService;

// Built once tests start, not when the file loads: the mutation run switches its mutant on then.
let app: FastifyInstance;
beforeAll(async () => {
  app = Fastify();
  app.decorate('config', { publicUrl: 'http://api.test', corsOrigins: [] } as never);
  installProblemDetails(app);
  installAuthentication(app, auth);
  installAuthorization(app);
  const route = (url: string, policy: AuthPolicy | undefined) =>
    app.get(url, { config: policy ? { auth: policy } : {} }, async (request) => ({
      principal: request.principal,
    }));
  route('/public', undefined);
  route('/any', {});
  route('/admins', { roles: ['admin'] });
  route('/read', { scope: 'tasks:read' });
  route('/write', { scope: 'tasks:write' });
  route('/any-scope', { scope: 'any' });
  await app.ready();
});
afterAll(() => app.close());

async function get(url: string, headers: Record<string, string> = {}) {
  calls.length = 0;
  const res = await app.inject({ method: 'GET', url, headers });
  return { status: res.statusCode, body: res.json(), calls: [...calls] };
}

describe('authentication', () => {
  it('leaves routes without a policy alone, whatever Authorization says', async () => {
    const res = await get('/public', { authorization: 'Basic Y2xpZW50OnNlY3JldA==' });
    expect(res).toMatchObject({ status: 200, body: { principal: null }, calls: [] });
    const bearer = await get('/public', { authorization: 'Bearer user-token' });
    expect(bearer).toMatchObject({ status: 200, body: { principal: null }, calls: [] });
  });

  it('reads a Bearer credential in any case, with spaces around, and touches its session', async () => {
    expect(await get('/any', { authorization: 'Bearer user-token' })).toMatchObject({
      status: 200,
      body: { principal: user },
      calls: ['bearer user-token', 'touch s1'],
    });
    expect((await get('/any', { authorization: 'bEaReR   user-token  ' })).status).toBe(200);
  });

  it('reads X-API-Key as a key only, and touches no session for a key', async () => {
    expect(await get('/read', { 'x-api-key': 'tfk_read' })).toMatchObject({
      status: 200,
      body: { principal: readKey },
      calls: ['key tfk_read'],
    });
    expect(await get('/read', { 'x-api-key': 'user-token' })).toMatchObject({
      status: 401,
      body: { code: 'invalid_token' },
      calls: ['key user-token'],
    });
  });

  it('answers 401 unauthorized without a credential', async () => {
    expect(await get('/any')).toMatchObject({ status: 401, body: { code: 'unauthorized' }, calls: [] });
  });

  it.each([
    ['Basic abc'],
    ['Bearer'],
    ['Bearer '],
    ['Bearer a b'],
    ['Bearerx token'],
    [' Bearer token'],
    ['token'],
  ])('refuses an unusable Authorization %j as invalid_token, asking the service nothing', async (header) => {
    const res = await get('/any', { authorization: header });
    expect(res).toMatchObject({ status: 401, body: { code: 'invalid_token' }, calls: [] });
    expect(res.body.detail).toBe('The credentials are not valid');
  });

  it('refuses an empty X-API-Key, and both credentials at once', async () => {
    expect(await get('/any', { 'x-api-key': '' })).toMatchObject({ status: 401, calls: [] });
    const both = await get('/any', { authorization: 'Bearer user-token', 'x-api-key': 'tfk_read' });
    expect(both).toMatchObject({
      status: 401,
      body: { code: 'invalid_token', detail: 'Send one credential: Authorization or X-API-Key, not both' },
      calls: [],
    });
  });

  it("answers the service's refusal", async () => {
    expect(await get('/any', { authorization: 'Bearer old' })).toMatchObject({
      status: 401,
      body: { code: 'token_expired' },
      calls: ['bearer old'],
    });
  });
});

describe('authorization', () => {
  it('refuses a role the route does not list with 403', async () => {
    expect((await get('/admins', { authorization: 'Bearer user-token' })).body.code).toBe('forbidden');
    expect((await get('/admins', { authorization: 'Bearer admin-token' })).status).toBe(200);
  });

  it('lets a key call only routes that name one of its scopes, or take any with one', async () => {
    const key = { 'x-api-key': 'tfk_read' };
    expect((await get('/read', key)).status).toBe(200);
    const write = await get('/write', key);
    expect(write).toMatchObject({
      status: 403,
      body: { code: 'forbidden', detail: 'This API key may not call this route' },
    });
    expect((await get('/any', key)).status).toBe(403);
    expect((await get('/any-scope', key)).status).toBe(200);
    expect((await get('/any-scope', { authorization: 'Bearer tfk_empty' })).status).toBe(403);
    expect((await get('/read', { authorization: 'Bearer tfk_empty' })).status).toBe(403);
  });

  it('lets an access token call a route whatever its scope', async () => {
    for (const url of ['/read', '/write', '/any-scope']) {
      expect((await get(url, { authorization: 'Bearer user-token' })).status).toBe(200);
    }
  });
});
