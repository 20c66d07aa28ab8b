import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, PASSWORD, signedIn } from '../helpers/factories.js';

/** Credentials are read one way: which header carries what. */
let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const CHALLENGE = 'Bearer realm="taskforge", error="invalid_token"';

function me(headers: Record<string, string>) {
  return t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers });
}
function expectInvalidToken(res: Awaited<ReturnType<typeof me>>) {
  expect(res.statusCode).toBe(401);
  expect(res.json().code).toBe('invalid_token');
  expect(res.headers['www-authenticate']).toBe(CHALLENGE);
}
describe('X-API-Key carries API keys only', () => {
  it('answers an access token in X-API-Key with 401 invalid_token', async () => {
    const { tokens } = await signedIn(t.app);
    expectInvalidToken(await me({ 'x-api-key': tokens.accessToken }));
  });

  it('answers an access token in X-API-Key with 401 on routes closed to keys too, and ends nothing', async () => {
    const { tokens, headers } = await signedIn(t.app);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers: { 'x-api-key': tokens.accessToken },
    });
    expectInvalidToken(res);
    expect((await me(headers)).statusCode).toBe(200);
  });

  it.each([
    ['a made-up key', 'tfk_0123456789abcdef0123456789abcdef'],
    ['garbage', 'not a key at all'],
    ['an empty value', ''],
  ])('answers %s in X-API-Key with 401 invalid_token', async (_name, value) => {
    expectInvalidToken(await me({ 'x-api-key': value }));
  });

  it('answers a bearer value that is not a JWT (what a key would be) with 401 invalid_token', async () => {
    expectInvalidToken(await me({ authorization: 'Bearer tfk_0123456789abcdef0123456789abcdef' }));
  });

  it('refuses Authorization and X-API-Key together as ambiguous, even with a valid access token', async () => {
    const { tokens, headers } = await signedIn(t.app);
    const both = await me({ ...headers, 'x-api-key': tokens.accessToken });
    expectInvalidToken(both);
    expect(both.json().detail).toMatch(/not both/);
    expectInvalidToken(await me({ ...headers, 'x-api-key': 'tfk_whatever' }));
    expect((await me(headers)).statusCode).toBe(200);
  });

  it('leaves the credential routes alone: they ignore X-API-Key', async () => {
    const user = await createUser(t.app);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'x-api-key': 'tfk_whatever' },
      payload: { email: user.email, password: PASSWORD },
    });
    expect(res.statusCode).toBe(200);
  });

  it('documents the rule in the security schemes of the OpenAPI document', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const { apiKey, bearerAuth } = doc.components.securitySchemes;
    expect(apiKey.description).toMatch(/access token .*401 invalid_token/);
    expect(apiKey.description).toMatch(/together with Authorization/);
    expect(bearerAuth.description).toMatch(/Authorization and X-API-Key together .*401 invalid_token/);
  });
});
