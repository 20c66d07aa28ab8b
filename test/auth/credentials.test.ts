import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isEmail, normalizeEmail } from '../../src/lib/email.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, PASSWORD, signedIn, uniqueEmail } from '../helpers/factories.js';

/** Credentials are read one way: which header carries what, one email rule, no timing oracle. */
let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const CHALLENGE = 'Bearer realm="taskforge", error="invalid_token"';
const KELVIN = '\u212A'; // KELVIN SIGN: its Unicode lower case is the ASCII letter k

function me(headers: Record<string, string>) {
  return t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers });
}
function expectInvalidToken(res: Awaited<ReturnType<typeof me>>) {
  expect(res.statusCode).toBe(401);
  expect(res.json().code).toBe('invalid_token');
  expect(res.headers['www-authenticate']).toBe(CHALLENGE);
}
function token(form: Record<string, string>) {
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(form).toString(),
  });
}
function login(email: string, password = PASSWORD) {
  return t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });
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
    const { bearerAuth, apiKey } = doc.components.securitySchemes;
    expect(bearerAuth.description).toMatch(/Authorization and X-API-Key together .*401 invalid_token/);
    expect(apiKey.description).toMatch(/This header carries API keys only.*401 invalid_token/);
  });
});

describe('one email rule, without Unicode aliases', () => {
  const kate = 'kate@example.com';
  const alias = `${KELVIN}ate@example.com`;
  let kateId: string;
  beforeAll(async () => {
    kateId = (await createUser(t.app, { email: kate })).id;
  });

  it('keeps the Kelvin-sign alias out of the JSON login (422, never 200)', async () => {
    const res = await login(alias);
    expect(res.statusCode).toBe(422);
    expect(res.json().errors).toEqual([{ pointer: '/email', code: 'format', detail: expect.any(String) }]);
    expect((await login('KATE@example.com')).statusCode).toBe(200);
  });

  it('keeps the Kelvin-sign alias out of the token endpoint (400 invalid_request, never 200)', async () => {
    const res = await token({ grant_type: 'password', username: alias, password: PASSWORD });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_request', code: 'validation_failed' });
    expect(res.json().errors).toBeUndefined();
    expect(res.json().access_token).toBeUndefined();
  });

  it('registers no account for the alias, neither a duplicate nor a look-alike', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { email: alias, password: PASSWORD, name: 'Not Kate' },
    });
    expect(res.statusCode).toBe(422);
    const rows = await t.app.ctx.database.db
      .selectFrom('users')
      .select('id')
      .where('email', 'in', [kate, alias])
      .execute();
    expect(rows).toEqual([{ id: kateId }]);
  });

  it('lets neither the service nor the admin bootstrap map the alias onto the account', async () => {
    const users = t.app.ctx.services.users;
    await expect(users.create({ email: alias, password: PASSWORD, name: 'Not Kate' })).rejects.toMatchObject({
      code: 'validation_failed',
    });
    // No enabled admin exists in this app, so the bootstrap would promote whatever the address names.
    await expect(users.ensureAdmin(alias, 'bootstrap passphrase 2031', () => {})).rejects.toMatchObject({
      code: 'validation_failed',
    });
    expect((await users.get(kateId)).role).toBe('user');
  });

  it('validates the token grant username exactly like the JSON login', async () => {
    for (const username of ['not-an-email', 'a@b', `${'a'.repeat(250)}@x.io`, 'two@@example.com']) {
      const json = await login(username);
      expect(json.statusCode, username).toBe(422);
      const form = await token({ grant_type: 'password', username, password: PASSWORD });
      expect(form.statusCode, username).toBe(400);
      expect(form.json(), username).toMatchObject({ error: 'invalid_request', code: 'validation_failed' });
    }
  });

  it.each([
    ['ada@example.com', true],
    ['Ada.Lovelace+tag@Mail.Example.COM', true],
    ["o'brien!#$%&*/=?^_`{|}~-@x-y.example", true],
    [`${'a'.repeat(64)}@example.com`, true],
    [`a@${'b'.repeat(63)}.com`, true],
    [`${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`, true], // 254 characters
    [`${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`, false], // 255
    [`${'a'.repeat(65)}@example.com`, false],
    [`a@${'b'.repeat(64)}.com`, false],
    [`${KELVIN}ate@example.com`, false],
    ['kate@exampl\u212A.com', false],
    ['jos\u00e9@example.com', false],
    ['ada@b\u00fccher.example', false],
    ['ada@localhost', false],
    ['.ada@example.com', false],
    ['ada.@example.com', false],
    ['a..da@example.com', false],
    ['ada@-example.com', false],
    ['ada@example-.com', false],
    ['ada@example..com', false],
    ['ada@example.com.', false],
    ['"ada"@example.com', false],
    ['ada lovelace@example.com', false],
    ['ada@exa_mple.com', false],
    ['', false],
  ])('isEmail(%j) is %s', (value, valid) => {
    expect(isEmail(value)).toBe(valid);
  });

  it('lower-cases A–Z only, so no other character folds onto an ASCII letter', () => {
    expect(normalizeEmail('Ada.LOVELACE@Example.COM')).toBe('ada.lovelace@example.com');
    expect(normalizeEmail(alias)).toBe(alias);
    expect(normalizeEmail('\u0130nfo@example.com')).toBe('\u0130nfo@example.com');
    expect(normalizeEmail(`KATE${KELVIN}@Example.com`)).toBe(`KATE${KELVIN}@Example.com`);
  });

  it('checks and normalises in time linear in the length of the input', () => {
    // A ratio within one run: 10 times the input may cost at most about 20 times the time.
    // Each is timed over several runs, the best of 7, so that scheduling and GC pauses do not decide.
    const cost = (check: (value: string) => unknown, value: string, runs: number) => {
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 7; i += 1) {
        const start = process.hrtime.bigint();
        for (let r = 0; r < runs; r += 1) check(value);
        best = Math.min(best, Number(process.hrtime.bigint() - start));
      }
      return best;
    };
    const ascii = (n: number) => `${'aA.-'.repeat(n / 8)}@${'Ab-.'.repeat(n / 8)}`;
    const unicode = (n: number) => `${'aA.-'.repeat(n / 8)}@${'A\u212A'.repeat(n / 4)}${KELVIN}`;
    // normalizeEmail's ASCII path is one native toLowerCase; its regex scans up to the first non-ASCII.
    for (const [check, hostile, runs] of [
      [isEmail, ascii, 1000],
      [isEmail, unicode, 1000],
      [normalizeEmail, unicode, 3],
    ] as const) {
      const small = hostile(100_000);
      const large = hostile(1_000_000);
      cost(check, large, runs); // warm up
      expect(cost(check, large, runs) / cost(check, small, runs)).toBeLessThan(20);
    }
  });
});

describe('the dummy hash for unknown emails', () => {
  it('exists before the first login: the first unknown email costs one verification and no hash', async () => {
    const fresh = await buildTestApp();
    try {
      const hasher = fresh.app.ctx.passwordHasher;
      const hash = vi.spyOn(hasher, 'hash');
      const verify = vi.spyOn(hasher, 'verify');
      const res = await fresh.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: uniqueEmail('ghost'), password: 'whatever password' },
      });
      expect(res.statusCode).toBe(401);
      expect(hash).not.toHaveBeenCalled();
      expect(verify).toHaveBeenCalledTimes(1);
      // Of the same cost as a real account's hash: the same argon2id parameters.
      const user = await createUser(fresh.app);
      const stored = await fresh.app.ctx.database.db
        .selectFrom('users')
        .select('password_hash')
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      const parameters = (encoded: string) => encoded.split('$').slice(1, 4).join('$');
      expect(parameters(String(verify.mock.calls[0]?.[0]))).toBe(parameters(stored.password_hash));
    } finally {
      await fresh.close();
    }
  });

  /** The argon2 parameters of an encoded hash (`$argon2id$v=19$m=…,t=…,p=…`) and its length. */
  const shape = (encoded: unknown) => {
    const text = String(encoded);
    return { parameters: text.split('$').slice(1, 4).join('$'), length: text.length };
  };

  it.each([
    [
      'POST /auth/login',
      (email: string, password: string) =>
        t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } }),
    ],
    [
      'POST /auth/token',
      (email: string, password: string) => token({ grant_type: 'password', username: email, password }),
    ],
  ])(
    '%s does the same hashing work for an unknown email, a wrong password and a disabled account',
    async (name, attempt) => {
      const known = await createUser(t.app);
      const disabled = await createUser(t.app);
      await t.app.inject({
        method: 'PATCH',
        url: `/api/v1/users/${disabled.id}`,
        headers: (await signedIn(t.app, 'admin')).headers,
        payload: { disabled: true },
      });
      const hasher = t.app.ctx.passwordHasher;
      const calls: { status: number; verified: unknown[][]; hashed: number }[] = [];
      for (const [email, password] of [
        [uniqueEmail('ghost'), 'a wrong password here'],
        [known.email, 'a wrong password here'],
        [disabled.email, 'a wrong password here'],
        [known.email, PASSWORD],
      ] as const) {
        const verify = vi.spyOn(hasher, 'verify');
        const hash = vi.spyOn(hasher, 'hash');
        const res = await attempt(email, password);
        calls.push({
          status: res.statusCode,
          verified: verify.mock.calls.map((c) => [...c]),
          hashed: hash.mock.calls.length,
        });
        verify.mockRestore();
        hash.mockRestore();
      }
      // Refused, refused, refused, accepted: each after exactly one verification and no hash.
      expect(calls.map((c) => c.status)).toEqual(
        name === 'POST /auth/login' ? [401, 401, 401, 200] : [400, 400, 400, 200],
      );
      for (const call of calls) {
        expect(call.hashed).toBe(0);
        expect(call.verified).toHaveLength(1);
      }
      // Against hashes of one shape: the dummy costs what a real account's hash costs.
      const shapes = calls.map((c) => shape(c.verified[0]?.[0]));
      expect(new Set(shapes.map((s) => JSON.stringify(s))).size).toBe(1);
      expect(shapes[0]?.parameters).toMatch(/^argon2id\$v=19\$m=\d+,t=\d+,p=\d+$/);
      // The password tried is the one sent, for the unknown email too.
      expect(calls[0]?.verified[0]?.[1]).toBe('a wrong password here');
    },
  );
});
