import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, TEST_SECRET, type TestApp } from '../helpers/app.js';
import { createUser, login, PASSWORD, signedIn } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

function me(authorization?: string) {
  return t.app.inject({
    method: 'GET',
    url: '/api/v1/users/me',
    headers: authorization ? { authorization } : {},
  });
}
function refresh(refreshToken: string) {
  return t.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refreshToken } });
}
function sign(header: object, payload: object, secret = TEST_SECRET): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64(header)}.${b64(payload)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}
function expect401(res: Awaited<ReturnType<typeof me>>, code: string, tokenSent = true) {
  expect(res.statusCode).toBe(401);
  expect(res.json().code).toBe(code);
  expect(res.headers['www-authenticate']).toBe(
    tokenSent ? 'Bearer realm="taskforge", error="invalid_token"' : 'Bearer realm="taskforge"',
  );
}

describe('access tokens', () => {
  it('lets the bearer read /users/me', async () => {
    const { user, headers } = await signedIn(t.app);
    const res = await me(headers.authorization);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: user.id, email: user.email });
  });

  it('answers no credentials with 401 unauthorized', async () => {
    expect401(await me(), 'unauthorized', false);
  });

  it.each([
    ['garbage', 'Bearer not-a-token'],
    ['an empty bearer', 'Bearer '],
    ['another scheme', 'Basic Zm9vOmJhcg=='],
  ])('answers %s with 401 invalid_token', async (_name, authorization) => {
    expect401(await me(authorization), 'invalid_token');
  });

  it('refuses a forged signature, alg none and a token of another type', async () => {
    const { user, tokens } = await signedIn(t.app);
    const claims = JSON.parse(Buffer.from(tokens.accessToken.split('.')[1] ?? '', 'base64url').toString());
    expect401(
      await me(`Bearer ${sign({ alg: 'HS256', typ: 'JWT' }, claims, 'x'.repeat(48))}`),
      'invalid_token',
    );
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
    expect401(await me(`Bearer ${none}`), 'invalid_token');
    const other = sign({ alg: 'HS256', typ: 'JWT' }, { ...claims, typ: 'refresh' });
    expect401(await me(`Bearer ${other}`), 'invalid_token');
    const unknownSession = sign({ alg: 'HS256', typ: 'JWT' }, { ...claims, sid: 'nope' });
    expect401(await me(`Bearer ${unknownSession}`), 'invalid_token');
    const otherUser = sign({ alg: 'HS256', typ: 'JWT' }, { ...claims, sub: `${user.id}x` });
    expect401(await me(`Bearer ${otherUser}`), 'invalid_token');
  });

  it('answers a validly signed token past its exp with 401 token_expired', async () => {
    const { tokens } = await signedIn(t.app);
    const claims = JSON.parse(Buffer.from(tokens.accessToken.split('.')[1] ?? '', 'base64url').toString());
    const expired = sign(
      { alg: 'HS256', typ: 'JWT' },
      { ...claims, iat: claims.iat - 3600, exp: claims.iat - 60 },
    );
    expect401(await me(`Bearer ${expired}`), 'token_expired');
  });

  it('orders the codes: account_disabled before token_expired before token_revoked', async () => {
    const { user, tokens, headers } = await signedIn(t.app);
    const claims = JSON.parse(Buffer.from(tokens.accessToken.split('.')[1] ?? '', 'base64url').toString());
    const expired = `Bearer ${sign({ alg: 'HS256', typ: 'JWT' }, { ...claims, exp: claims.iat - 60 })}`;
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers });
    expect401(await me(expired), 'token_expired');
    expect401(await me(headers.authorization), 'token_revoked');
    await t.app.ctx.database.db.updateTable('users').set({ disabled: 1 }).where('id', '=', user.id).execute();
    t.app.ctx.services.authState.userChanged(user.id);
    expect401(await me(expired), 'account_disabled');
    expect401(await me(headers.authorization), 'account_disabled');
  });
});

describe('refresh tokens', () => {
  it('rotate: a new pair, the old refresh token spent', async () => {
    const { tokens } = await signedIn(t.app);
    const first = await refresh(tokens.refreshToken);
    expect(first.statusCode).toBe(200);
    expect(first.headers['cache-control']).toBe('no-store');
    const next = first.json();
    expect(next.refreshToken).not.toBe(tokens.refreshToken);
    expect((await me(`Bearer ${next.accessToken}`)).statusCode).toBe(200);
    expect((await refresh(next.refreshToken)).statusCode).toBe(200);
  });

  it('end the whole session when a spent one is presented again (its successor spent too)', async () => {
    const { tokens } = await signedIn(t.app);
    const first = (await refresh(tokens.refreshToken)).json();
    const rotated = (await refresh(first.refreshToken)).json();
    // Inside REFRESH_REUSE_GRACE an unspent successor would be answered again (refresh-grace.test.ts).
    const reuse = await refresh(tokens.refreshToken);
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json().code).toBe('refresh_token_reused');
    // The session is over: its newest tokens stop working too.
    expect401(await me(`Bearer ${rotated.accessToken}`), 'token_revoked');
    expect((await refresh(rotated.refreshToken)).json().code).toBe('token_revoked');
  });

  it('refuse unknown, malformed and expired tokens', async () => {
    expect((await refresh('tfr_unknown')).json().code).toBe('invalid_token');
    expect((await refresh('💥 not even ascii')).json().code).toBe('invalid_token');
    const short = await buildTestApp({ env: { REFRESH_TOKEN_TTL: '1ms' } });
    try {
      const user = await createUser(short.app);
      const pair = await login(short.app, user.email);
      await new Promise((r) => setTimeout(r, 5));
      const res = await short.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refreshToken: pair.refreshToken },
      });
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('refresh_token_expired');
    } finally {
      await short.close();
    }
  });
});

describe('logout', () => {
  it('ends the session at once: access and refresh tokens stop working', async () => {
    const { tokens, headers } = await signedIn(t.app);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers });
    expect(res.statusCode).toBe(204);
    expect401(await me(headers.authorization), 'token_revoked');
    expect((await refresh(tokens.refreshToken)).json().code).toBe('token_revoked');
  });

  it('takes an empty body whatever its Content-Type, or the session refresh token', async () => {
    for (const type of ['application/json', 'text/plain']) {
      const { headers } = await signedIn(t.app);
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/logout',
        headers: { ...headers, 'content-type': type },
        payload: '',
      });
      expect(res.statusCode).toBe(204);
    }
    const { tokens, headers } = await signedIn(t.app);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers,
      payload: { refreshToken: tokens.refreshToken },
    });
    expect(res.statusCode).toBe(204);
  });

  it("refuses another session's refresh token with 422 and ends nothing", async () => {
    const a = await signedIn(t.app);
    const other = await login(t.app, a.user.email);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers: a.headers,
      payload: { refreshToken: other.refreshToken },
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().errors).toEqual([
      { pointer: '/refreshToken', code: 'not_found', detail: expect.any(String) },
    ]);
    expect((await me(a.headers.authorization)).statusCode).toBe(200);
    expect((await me(`Bearer ${other.accessToken}`)).statusCode).toBe(200);
  });

  it('logout-all ends every session of the user and no one else', async () => {
    const a = await signedIn(t.app);
    const second = await login(t.app, a.user.email);
    const b = await signedIn(t.app);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout-all', headers: a.headers });
    expect(res.statusCode).toBe(204);
    expect401(await me(a.headers.authorization), 'token_revoked');
    expect401(await me(`Bearer ${second.accessToken}`), 'token_revoked');
    expect((await me(b.headers.authorization)).statusCode).toBe(200);
  });

  it('requires a signed-in caller', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout' });
    expect401(res, 'unauthorized', false);
    expect(res.headers['cache-control']).toBe('no-store');
  });
});

describe('password change', () => {
  it('needs the current password, refuses weak ones, and ends every other session', async () => {
    const { user, headers } = await signedIn(t.app);
    const other = await login(t.app, user.email);
    const url = '/api/v1/users/me/password';
    const wrong = await t.app.inject({
      method: 'POST',
      url,
      headers,
      payload: { currentPassword: 'not my password', newPassword: 'a brand new passphrase' },
    });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().code).toBe('current_password_incorrect');
    const weak = await t.app.inject({
      method: 'POST',
      url,
      headers,
      payload: { currentPassword: PASSWORD, newPassword: 'password1234' },
    });
    expect(weak.statusCode).toBe(422);
    expect(weak.json().code).toBe('weak_password');
    const ok = await t.app.inject({
      method: 'POST',
      url,
      headers,
      payload: { currentPassword: PASSWORD, newPassword: 'a brand new passphrase' },
    });
    expect(ok.statusCode).toBe(204);
    expect((await me(headers.authorization)).statusCode).toBe(200);
    expect401(await me(`Bearer ${other.accessToken}`), 'token_revoked');
    expect((await login(t.app, user.email, 'a brand new passphrase')).accessToken).toBeTruthy();
  });
});
