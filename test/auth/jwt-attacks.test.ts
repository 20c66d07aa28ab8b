import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, TEST_SECRET, type TestApp } from '../helpers/app.js';
import { login, signedIn, type Tokens } from '../helpers/factories.js';

/**
 * Attacks on access tokens (issue 9, part 7), beyond tokens.test.ts (which has a forged signature,
 * alg none, typ refresh, an unknown sid or sub, expiry and the order of the codes): every one is
 * a 401 with the contract's code and the invalid_token challenge, and grants nothing.
 */
let t: TestApp;
let tokens: Tokens;
let userId: string;
/** The claims of a genuine access token. */
let claims: Record<string, unknown>;
beforeAll(async () => {
  t = await buildTestApp();
  const caller = await signedIn(t.app);
  tokens = caller.tokens;
  userId = caller.user.id;
  claims = decode(tokens.accessToken);
});
afterAll(async () => t.close());

const CHALLENGE = 'Bearer realm="taskforge", error="invalid_token"';
const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const decode = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;

function hmac(algorithm: 'sha256' | 'sha384' | 'sha512', input: string, key: string | Buffer = TEST_SECRET) {
  return createHmac(algorithm, key).update(input).digest('base64url');
}
/** A JWT with any header and payload, signed with HMAC-SHA256 (or another hash) under the key. */
function signed(
  header: unknown,
  payload: unknown,
  hash: 'sha256' | 'sha384' | 'sha512' = 'sha256',
  key?: string,
) {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${hmac(hash, input, key)}`;
}
const HS256 = { alg: 'HS256', typ: 'JWT' };

function me(authorization: string) {
  return t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { authorization } });
}
async function expect401(authorization: string, code = 'invalid_token') {
  const res = await me(authorization);
  expect(res.statusCode, authorization.slice(0, 120)).toBe(401);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json()).toMatchObject({ status: 401, code });
  expect(res.headers['www-authenticate']).toBe(CHALLENGE);
}

describe('algorithms other than HS256', () => {
  it('refuses HS384 and HS512 signed with the right secret', async () => {
    await expect401(`Bearer ${signed({ alg: 'HS384', typ: 'JWT' }, claims, 'sha384')}`);
    await expect401(`Bearer ${signed({ alg: 'HS512', typ: 'JWT' }, claims, 'sha512')}`);
    // And an HS256 signature under a header that names another algorithm.
    await expect401(`Bearer ${signed({ alg: 'HS512', typ: 'JWT' }, claims)}`);
  });

  it('refuses RS256, both a real RSA signature and the secret used as the "public key"', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const input = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims)}`;
    const rsa = createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url');
    await expect401(`Bearer ${input}.${rsa}`);
    // Algorithm confusion: an HMAC keyed with what a verifier would take as the public key.
    await expect401(`Bearer ${input}.${hmac('sha256', input)}`);
    const es = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64(claims)}`;
    await expect401(`Bearer ${es}.${hmac('sha256', es)}`);
  });

  it.each(['none', 'None', 'NONE', 'nOnE', ''])(
    'refuses alg %j, with or without a signature',
    async (alg) => {
      const input = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`;
      await expect401(`Bearer ${input}.`);
      await expect401(`Bearer ${input}`);
      await expect401(`Bearer ${input}.${hmac('sha256', input)}`);
    },
  );

  it('refuses a header without alg, or one that is not an object', async () => {
    await expect401(`Bearer ${signed({ typ: 'JWT' }, claims)}`);
    await expect401(`Bearer ${signed([HS256], claims)}`);
    await expect401(`Bearer ${signed('HS256', claims)}`);
    const input = `${b64('{"alg":"HS256"')}.${b64(claims)}`;
    await expect401(`Bearer ${input}.${hmac('sha256', input)}`);
  });
});

describe('keys and tampering', () => {
  it('refuses the right claims under the wrong key, an empty key and a near miss of the key', async () => {
    for (const key of ['x'.repeat(48), '', `${TEST_SECRET} `, TEST_SECRET.slice(0, -1)]) {
      await expect401(`Bearer ${signed(HS256, claims, 'sha256', key)}`);
    }
  });

  it.each([
    ['sub', { sub: 'someone-else' }],
    ['sid', { sid: 'another-session' }],
    ['exp (extended)', { exp: Number(claims?.exp ?? 0) + 86_400 }],
    ['iat', { iat: 0 }],
    ['typ', { typ: 'refresh' }],
  ])('refuses a token whose %s was changed without re-signing', async (_name, change) => {
    const [header, , signature] = tokens.accessToken.split('.');
    await expect401(`Bearer ${header}.${b64({ ...claims, ...change })}.${signature}`);
  });

  it('refuses a genuine token with its signature cut, flipped or doubled', async () => {
    const [header, payload, signature = ''] = tokens.accessToken.split('.');
    // The first character: the last one's low bits are base64url padding, which decoders ignore.
    const flipped = `${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    for (const bad of [
      `${header}.${payload}.`,
      `${header}.${payload}.${flipped}`,
      `${header}.${payload}.${signature}${signature}`,
    ]) {
      await expect401(`Bearer ${bad}`);
    }
  });
});

describe('claims, signed with the right key', () => {
  it.each([
    ['no sub', { sub: undefined }],
    ['no sid', { sid: undefined }],
    ['no typ', { typ: undefined }],
    ['no exp', { exp: undefined }],
    ['a numeric sub', { sub: 42 }],
    ['exp as a string', { exp: '9999999999' }],
    ['typ refresh', { typ: 'refresh' }],
    ['typ ACCESS', { typ: 'ACCESS' }],
    ['nbf in the future', { nbf: Math.floor(Date.now() / 1000) + 3600 }],
  ])('refuses an access token with %s', async (_name, change) => {
    await expect401(`Bearer ${signed(HS256, { ...claims, ...change })}`);
  });

  it('grants nothing for extra claims: a role or scope claim does not make an admin', async () => {
    const forged = `Bearer ${signed(HS256, { ...claims, role: 'admin', scope: 'users:write', admin: true })}`;
    const list = await t.app.inject({
      method: 'GET',
      url: '/api/v1/users',
      headers: { authorization: forged },
    });
    // Still the same user (a plain user): the admin list stays closed.
    expect(list.statusCode).toBe(403);
    expect(list.json().code).toBe('forbidden');
    const self = await me(forged);
    expect(self.json()).toMatchObject({ id: userId, role: 'user' });
  });

  it('reads an expired token as token_expired only when it is validly signed', async () => {
    const past = { ...claims, iat: Number(claims.iat) - 7200, exp: Number(claims.iat) - 3600 };
    await expect401(`Bearer ${signed(HS256, past)}`, 'token_expired');
    await expect401(`Bearer ${signed(HS256, past, 'sha256', 'y'.repeat(48))}`, 'invalid_token');
  });
});

describe('tokens of the wrong kind, of ended sessions and of deleted users', () => {
  it('refuses a refresh token presented as an access token, and an access token as a refresh token', async () => {
    const { tokens: pair } = await signedIn(t.app);
    await expect401(`Bearer ${pair.refreshToken}`);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refreshToken: pair.accessToken },
    });
    // An access token is longer than any refresh token: the schema refuses it, or it is unknown.
    expect([401, 422]).toContain(res.statusCode);
    if (res.statusCode === 401) expect(res.json().code).toBe('invalid_token');
    // Neither attempt ended the session.
    expect((await me(`Bearer ${pair.accessToken}`)).statusCode).toBe(200);
  });

  it("answers a deleted user's token with invalid_token, also re-signed with a live session's sid", async () => {
    const admin = await signedIn(t.app, 'admin');
    const victim = await signedIn(t.app);
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/users/${victim.user.id}`,
      headers: admin.headers,
    });
    expect(del.statusCode).toBe(204);
    await expect401(victim.headers.authorization);
    const adminClaims = decode(admin.tokens.accessToken);
    await expect401(`Bearer ${signed(HS256, { ...adminClaims, sub: victim.user.id })}`);
  });

  it("answers a token of an ended session with token_revoked, and a sid of another user's session with invalid_token", async () => {
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const bClaims = decode(b.tokens.accessToken);
    await expect401(`Bearer ${signed(HS256, { ...decode(a.tokens.accessToken), sid: bClaims.sid })}`);
    const second = await login(t.app, a.user.email);
    expect(
      (await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: a.headers })).statusCode,
    ).toBe(204);
    await expect401(a.headers.authorization, 'token_revoked');
    // The other session of the same user lives on.
    expect((await me(`Bearer ${second.accessToken}`)).statusCode).toBe(200);
  });
});

describe('the shape of the header', () => {
  it.each([
    ['a huge token', `Bearer ${'A'.repeat(15_000)}`],
    ['a huge valid-looking token', `Bearer ${b64(HS256)}.${'e'.repeat(12_000)}.${'s'.repeat(43)}`],
    ['two segments', 'Bearer abc.def'],
    ['four segments', `Bearer ${'{{token}}'}.x`],
    ['two tokens', `Bearer {{token}} {{token}}`],
    ['a tab for the space', 'Bearer\t{{token}}'],
    ['a padded base64', 'Bearer {{token}}=='],
    ['characters outside base64url', 'Bearer {{token}}+/'],
    ['a NUL', 'Bearer {{token}}\u0000'],
    ['the scheme only', 'Bearer'],
    ['the token without a scheme', '{{token}}'],
    ['dots only', 'Bearer ...'],
  ])('refuses %s with 401 invalid_token', async (_name, value) => {
    await expect401(value.replaceAll('{{token}}', tokens.accessToken));
  });

  it('still takes the genuine token afterwards', async () => {
    expect((await me(`Bearer ${tokens.accessToken}`)).statusCode).toBe(200);
  });
});
