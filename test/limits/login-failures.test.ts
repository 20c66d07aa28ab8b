import { afterEach, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, PASSWORD, uniqueEmail } from '../helpers/factories.js';

/**
 * Contract §4 failed logins: after LOGIN_FAILURES_MAX failures for one normalised email within a
 * sliding 15 minutes (known email or not), its logins get 429 even with the right password until
 * the window passes; a password reset clears the counter. The app's clock is moved, not waited on.
 */

const MINUTE = 60_000;
const apps: TestApp[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

let now = Date.parse('2031-01-01T00:00:00Z');
async function appWithFailures(max: number): Promise<TestApp> {
  now = Date.parse('2031-01-01T00:00:00Z');
  const t = await buildTestApp({
    env: { LOGIN_FAILURES_MAX: String(max), AUTH_RATE_LIMIT_MAX: '1000' },
    clock: () => now,
  });
  apps.push(t);
  return t;
}

function loginAs(t: TestApp, email: string, password: string) {
  return t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });
}

function tokenGrant(t: TestApp, email: string, password: string) {
  return t.app.inject({
    method: 'POST',
    url: '/api/v1/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'password', username: email, password }).toString(),
  });
}

function expectLockedOut(res: Awaited<ReturnType<typeof loginAs>>, retryAfter?: number): void {
  expect(res.statusCode, res.body).toBe(429);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json()).toMatchObject({ status: 429, code: 'rate_limited' });
  if (retryAfter !== undefined) expect(Number(res.headers['retry-after'])).toBe(retryAfter);
  // The credential route's own limit still reports its headers.
  expect(res.headers['ratelimit-limit']).toBe('1000');
}

describe('failed logins', () => {
  it('lock an email out after LOGIN_FAILURES_MAX failures, even with the right password, for the rest of the window', async () => {
    const t = await appWithFailures(3);
    const user = await createUser(t.app);
    for (let i = 0; i < 3; i += 1) {
      expect((await loginAs(t, user.email, 'wrong password, long enough')).statusCode).toBe(401);
      now += MINUTE;
    }
    // The first failure was 3 minutes ago: 12 minutes of the window are left.
    expectLockedOut(await loginAs(t, user.email, PASSWORD), 12 * 60);
    expectLockedOut(await tokenGrant(t, user.email, PASSWORD), 12 * 60);
    // Another email is not affected.
    const other = await createUser(t.app);
    expect((await loginAs(t, other.email, PASSWORD)).statusCode).toBe(200);
    // Locked attempts are not failures: once the oldest failure leaves the window, one login
    // may try again.
    now += 12 * MINUTE - 1000;
    expectLockedOut(await loginAs(t, user.email, PASSWORD), 1);
    now += 1000;
    expect((await loginAs(t, user.email, PASSWORD)).statusCode).toBe(200);
  });

  it('slide: failures older than 15 minutes no longer count', async () => {
    const t = await appWithFailures(2);
    const user = await createUser(t.app);
    expect((await loginAs(t, user.email, 'wrong password, long enough')).statusCode).toBe(401);
    now += 16 * MINUTE;
    expect((await loginAs(t, user.email, 'wrong password, long enough')).statusCode).toBe(401);
    expect((await loginAs(t, user.email, PASSWORD)).statusCode).toBe(200);
    expect((await loginAs(t, user.email, 'wrong password, long enough')).statusCode).toBe(401);
    expectLockedOut(await loginAs(t, user.email, PASSWORD));
  });

  it('count unknown emails alike, and by normalised email', async () => {
    const t = await appWithFailures(2);
    const unknown = uniqueEmail('nobody');
    expect((await loginAs(t, unknown, 'wrong password, long enough')).statusCode).toBe(401);
    expect((await tokenGrant(t, unknown.toUpperCase(), 'wrong password, long enough')).json()).toMatchObject({
      code: 'invalid_credentials',
    });
    const locked = await loginAs(t, unknown, 'wrong password, long enough');
    expectLockedOut(locked, 15 * 60);
    // The same reply for an account that exists: a lock-out reveals nothing.
    const user = await createUser(t.app);
    for (let i = 0; i < 2; i += 1) await loginAs(t, user.email.toUpperCase(), 'wrong password, long enough');
    const known = await loginAs(t, user.email, PASSWORD);
    expectLockedOut(known, 15 * 60);
    expect(known.json().detail).toBe(locked.json().detail);
  });

  it('do not count a disabled account with the right password, nor a success', async () => {
    const t = await appWithFailures(1);
    const user = await createUser(t.app);
    expect((await loginAs(t, user.email, PASSWORD)).statusCode).toBe(200);
    expect((await loginAs(t, user.email, PASSWORD)).statusCode).toBe(200);
    await t.app.ctx.services.users.update(user.id, { disabled: true });
    expect((await loginAs(t, user.email, PASSWORD)).json()).toMatchObject({ code: 'account_disabled' });
    expect((await loginAs(t, user.email, PASSWORD)).json()).toMatchObject({ code: 'account_disabled' });
  });

  it('clear when the password is reset (the passwordReset user event)', async () => {
    const t = await appWithFailures(2);
    const user = await createUser(t.app);
    const other = await createUser(t.app);
    for (const email of [user.email, user.email, other.email, other.email])
      await loginAs(t, email, 'wrong password, long enough');
    expectLockedOut(await loginAs(t, user.email, PASSWORD));
    // What the password-reset confirm does once the new password is stored.
    await t.app.ctx.ports.users.transaction(t.app.ctx.database.db, (_trx, emit) =>
      emit('passwordReset', { userId: user.id, at: new Date(now).toISOString(), email: user.email }),
    );
    // No wait: in process the clear is immediate; on Redis it is sent before the next login's read,
    // on the same connection.
    expect((await loginAs(t, user.email, PASSWORD)).statusCode).toBe(200);
    expectLockedOut(await loginAs(t, other.email, PASSWORD));
  });
});
