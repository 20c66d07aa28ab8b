import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, PASSWORD, uniqueEmail } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
function token(form: Record<string, string>, headers: Record<string, string> = {}) {
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/token',
    headers: { ...FORM, ...headers },
    payload: new URLSearchParams(form).toString(),
  });
}

describe('POST /auth/token (RFC 6749)', () => {
  it('password grant answers the §5.1 shape with no-store, ignoring scope, client and Basic credentials', async () => {
    const user = await createUser(t.app);
    const res = await token(
      { grant_type: 'password', username: user.email, password: PASSWORD, scope: 'read', client_id: 'docs' },
      { authorization: 'Basic ZG9jczo=' },
    );
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 900,
      refresh_token: expect.any(String),
    });
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.pragma).toBe('no-cache');
    const me = await t.app.inject({
      method: 'GET',
      url: '/api/v1/users/me',
      headers: { authorization: `Bearer ${res.json().access_token}` },
    });
    expect(me.json().id).toBe(user.id);
  });

  it('refresh_token grant rotates', async () => {
    const user = await createUser(t.app);
    const first = (await token({ grant_type: 'password', username: user.email, password: PASSWORD })).json();
    const second = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
    expect(second.statusCode).toBe(200);
    // Spend the successor too: while it is unspent, the reuse grace would answer it again.
    const third = await token({ grant_type: 'refresh_token', refresh_token: second.json().refresh_token });
    expect(third.statusCode).toBe(200);
    const reuse = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token });
    expect(reuse.statusCode).toBe(400);
    expect(reuse.json()).toMatchObject({ error: 'invalid_grant', code: 'refresh_token_reused', status: 400 });
  });

  it.each([
    [
      'an unknown email',
      () => ({ grant_type: 'password', username: uniqueEmail('none'), password: PASSWORD }),
    ],
    [
      'a wrong password',
      async () => ({
        grant_type: 'password',
        username: (await createUser(t.app)).email,
        password: 'nope nope nope',
      }),
    ],
  ])('answers %s with 400 invalid_grant carrying invalid_credentials', async (_name, form) => {
    const res = await token(await form());
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({
      status: 400,
      code: 'invalid_credentials',
      error: 'invalid_grant',
      error_description: expect.any(String),
    });
  });

  it('answers a disabled account with invalid_grant carrying account_disabled', async () => {
    const user = await createUser(t.app);
    await t.app.ctx.database.db.updateTable('users').set({ disabled: 1 }).where('id', '=', user.id).execute();
    const res = await token({ grant_type: 'password', username: user.email, password: PASSWORD });
    expect(res.json()).toMatchObject({ status: 400, error: 'invalid_grant', code: 'account_disabled' });
  });

  it('answers an unknown grant with unsupported_grant_type and a missing parameter with invalid_request', async () => {
    const unsupported = await token({ grant_type: 'client_credentials' });
    expect(unsupported.statusCode).toBe(400);
    expect(unsupported.json()).toMatchObject({ error: 'unsupported_grant_type', code: 'validation_failed' });
    expect(unsupported.json().errors).toBeUndefined();
    const missing = await token({ grant_type: 'password', username: 'a@example.com' });
    expect(missing.json()).toMatchObject({
      status: 400,
      error: 'invalid_request',
      code: 'validation_failed',
    });
    const noGrant = await token({ username: 'a@example.com' });
    expect(noGrant.json()).toMatchObject({
      status: 400,
      error: 'invalid_request',
      code: 'validation_failed',
    });
    expect(noGrant.json().errors).toBeUndefined();
    const unknownRefresh = await token({ grant_type: 'refresh_token', refresh_token: 'tfr_nope' });
    expect(unknownRefresh.json()).toMatchObject({
      status: 400,
      error: 'invalid_grant',
      code: 'invalid_token',
    });
  });

  it('takes only form bodies (JSON → 415)', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      payload: { grant_type: 'password', username: 'a@example.com', password: PASSWORD },
    });
    expect(res.statusCode).toBe(415);
    expect(res.json().code).toBe('unsupported_media_type');
  });

  it('leaves the form parser to this route alone', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: FORM,
      payload: 'email=a@example.com&password=x',
    });
    expect(res.statusCode).toBe(415);
  });
});
