import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, PASSWORD, uniqueEmail } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

function register(payload: unknown, headers: Record<string, string> = {}) {
  return t.app.inject({ method: 'POST', url: '/api/v1/auth/register', payload: payload as object, headers });
}
function items(res: { json(): unknown }) {
  return (res.json() as { errors: { pointer: string; code: string }[] }).errors.map((e) => [
    e.pointer,
    e.code,
  ]);
}

describe('POST /auth/register', () => {
  it('creates a user with role user, lower-cased email, Location, and no secret in the reply', async () => {
    const email = `Ada.${Date.now()}@Example.COM`;
    const res = await register({ email, password: PASSWORD, name: '  Ada Lovelace ' });
    expect(res.statusCode).toBe(201);
    const user = res.json();
    expect(user).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      email: email.toLowerCase(),
      name: 'Ada Lovelace',
      role: 'user',
      disabled: false,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updatedAt: user.createdAt,
    });
    expect(res.headers.location).toBe(`/api/v1/users/${user.id}`);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).not.toMatch(/argon2|password/i);
  });

  it('refuses a second account for the same email, whatever its case', async () => {
    const email = uniqueEmail();
    expect((await register({ email, password: PASSWORD, name: 'A' })).statusCode).toBe(201);
    const again = await register({ email: email.toUpperCase(), password: PASSWORD, name: 'B' });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('email_taken');
  });

  it('refuses role and other unknown fields (no mass assignment)', async () => {
    const res = await register({
      email: uniqueEmail(),
      password: PASSWORD,
      name: 'A',
      role: 'admin',
      id: 'x',
    });
    expect(res.statusCode).toBe(422);
    expect(items(res)).toEqual(
      expect.arrayContaining([
        ['/role', 'unknown_field'],
        ['/id', 'unknown_field'],
      ]),
    );
  });

  it('lists every invalid field at once', async () => {
    const res = await register({ email: 'not-an-email', password: 'short', name: '' });
    expect(res.statusCode).toBe(422);
    expect(items(res)).toEqual(
      expect.arrayContaining([
        ['/email', 'format'],
        ['/password', 'too_short'],
        ['/name', 'too_short'],
      ]),
    );
  });

  it('counts password length in code points after NFC (12–128)', async () => {
    // 'é' as e + combining acute is two code points before NFC, one after.
    const decomposed = `${'e\u0301'.repeat(10)}x`; // 21 code points, 11 after NFC
    expect(items(await register({ email: uniqueEmail(), password: decomposed, name: 'A' }))).toEqual([
      ['/password', 'too_short'],
    ]);
    const emoji = '🔑'.repeat(12);
    expect((await register({ email: uniqueEmail(), password: emoji, name: 'A' })).statusCode).toBe(201);
    expect(items(await register({ email: uniqueEmail(), password: 'x'.repeat(129), name: 'A' }))).toEqual([
      ['/password', 'too_long'],
    ]);
    expect(
      (await register({ email: uniqueEmail(), password: `${'x'.repeat(127)}y`, name: 'A' })).statusCode,
    ).toBe(201);
  });

  it.each([
    ['a common password, in any case', 'someone', 'QWERTY123456'],
    ['the email local part', 'marguerite', 'my-MARGUERITE-2024!'],
  ])('refuses %s with 422 weak_password', async (_why, local, password) => {
    const res = await register({ email: `${local}@${Date.now()}.example.com`, password, name: 'A' });
    expect(res.statusCode).toBe(422);
    expect(res.json().code).toBe('weak_password');
    expect(items(res)).toEqual([['/password', 'weak_password']]);
  });

  it('ignores a local part shorter than 4 characters', async () => {
    const res = await register({
      email: `bob@${Date.now()}.example.com`,
      password: 'bob-has-a-long-pass',
      name: 'Bob',
    });
    expect(res.statusCode).toBe(201);
  });
});

describe('REGISTRATION=closed', () => {
  it('answers 403 registration_closed before any body validation', async () => {
    const closed = await buildTestApp({ env: { REGISTRATION: 'closed' } });
    try {
      for (const payload of [
        '{not json',
        JSON.stringify({ email: uniqueEmail(), password: PASSWORD, name: 'A' }),
      ]) {
        const res = await closed.app.inject({
          method: 'POST',
          url: '/api/v1/auth/register',
          headers: { 'content-type': 'application/json' },
          payload,
        });
        expect(res.statusCode).toBe(403);
        expect(res.json().code).toBe('registration_closed');
      }
    } finally {
      await closed.close();
    }
  });
});

describe('POST /auth/login', () => {
  it('answers a token pair with lifetimes in seconds and no-store', async () => {
    const user = await createUser(t.app);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email.toUpperCase(), password: PASSWORD },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      accessToken: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
      tokenType: 'Bearer',
      expiresIn: 900,
      refreshToken: expect.any(String),
      refreshExpiresIn: 2_592_000,
    });
    expect(res.headers['cache-control']).toBe('no-store');
    const [header, payload] = res
      .json()
      .accessToken.split('.')
      .slice(0, 2)
      .map((part: string) => JSON.parse(Buffer.from(part, 'base64url').toString()));
    expect(header.alg).toBe('HS256');
    expect(payload).toMatchObject({ sub: user.id, typ: 'access', sid: expect.any(String) });
    expect(payload.exp - payload.iat).toBe(900);
  });

  it('gives the same reply for an unknown email and a wrong password', async () => {
    const user = await createUser(t.app);
    const wrong = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email, password: 'wrong password!!' },
    });
    const unknown = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: uniqueEmail('nobody'), password: 'wrong password!!' },
    });
    const strip = (body: Record<string, unknown>) => ({ ...body, requestId: undefined });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(strip(wrong.json())).toEqual(strip(unknown.json()));
    expect(wrong.json().code).toBe('invalid_credentials');
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="taskforge"');
  });

  it('verifies a dummy hash for an unknown email, so both take the time of one hash', async () => {
    const hasher = t.app.ctx.passwordHasher;
    const dummy = vi.spyOn(hasher, 'verifyDummy');
    const verify = vi.spyOn(hasher, 'verify');
    try {
      await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: uniqueEmail('ghost'), password: 'whatever password' },
      });
      expect(dummy).toHaveBeenCalledTimes(1);
      // The dummy path runs a real argon2 verification of the same cost.
      expect(verify).toHaveBeenCalledTimes(1);
      expect(verify.mock.calls[0]?.[0]).toMatch(/^\$argon2id\$/);
    } finally {
      dummy.mockRestore();
      verify.mockRestore();
    }
  });

  it('refuses a disabled account with 403 account_disabled, but only with the right password', async () => {
    const user = await createUser(t.app);
    await t.app.ctx.database.db.updateTable('users').set({ disabled: 1 }).where('id', '=', user.id).execute();
    const right = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email, password: PASSWORD },
    });
    expect(right.statusCode).toBe(403);
    expect(right.json().code).toBe('account_disabled');
    const wrong = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email, password: 'not the password' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().code).toBe('invalid_credentials');
  });

  it('ignores any Authorization header on credential routes', async () => {
    const user = await createUser(t.app);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { authorization: 'Basic Zm9vOmJhcg==' },
      payload: { email: user.email, password: PASSWORD },
    });
    expect(res.statusCode).toBe(200);
  });
});
