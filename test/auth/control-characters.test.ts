import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, PASSWORD, signedIn, uniqueEmail } from '../helpers/factories.js';

/** Passwords and the token form's fields are text inputs too: no NUL, no control characters. */
let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const BAD = ['\u0000', '\u0007', '\u001b', '\u0085', '\uD800'];

function form(fields: Record<string, string>) {
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(fields).toString(),
  });
}

describe('control characters in passwords and token form fields', () => {
  it.each(BAD)('refuses %j inside a password on register, login and password change with 422', async (c) => {
    const password = `correct horse${c}battery staple`;
    const email = uniqueEmail();
    const register = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { email, password, name: 'Ctl' },
    });
    expect(register.statusCode).toBe(422);
    expect(register.json().errors).toEqual([
      expect.objectContaining({ pointer: '/password', code: 'pattern' }),
    ]);

    await createUser(t.app, { email });
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email, password },
    });
    expect(login.statusCode).toBe(422);
    expect(login.json().errors[0].pointer).toBe('/password');

    const { tokens } = await signedIn(t.app);
    const change = await t.app.inject({
      method: 'POST',
      url: '/api/v1/users/me/password',
      headers: { authorization: `Bearer ${tokens.accessToken}` },
      payload: { currentPassword: PASSWORD, newPassword: password },
    });
    expect(change.statusCode).toBe(422);
    expect(change.json().errors[0].pointer).toBe('/newPassword');
  });

  it.each(['password', 'scope', 'client_id', 'client_secret'])(
    'answers a control character in the token form field %s with 400 invalid_request',
    async (field) => {
      const email = uniqueEmail();
      await createUser(t.app, { email });
      const res = await form({
        grant_type: 'password',
        username: email,
        password: PASSWORD,
        [field]: 'a\u0000b',
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'invalid_request', code: 'validation_failed' });
    },
  );

  it('still takes an ordinary password with spaces and non-ASCII letters', async () => {
    const email = uniqueEmail();
    const password = 'grüne Äpfel über dem Fluss';
    const register = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { email, password, name: 'Ok' },
    });
    expect(register.statusCode).toBe(201);
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email, password },
    });
    expect(login.statusCode).toBe(200);
  });
});
