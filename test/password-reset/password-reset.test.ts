import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { testDatabaseUrl } from '../helpers/database.js';
import { createUser, login, PASSWORD, uniqueEmail } from '../helpers/factories.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';
import { until } from '../helpers/wait.js';
import {
  confirmReset,
  pendingMailJobs,
  RESET_URL,
  requestReset,
  retriesDueNow,
  statementsOf,
  tokenOf,
} from './helpers.js';

const NEW_PASSWORD = 'a brand new and unusual passphrase';
let smtp: TestSmtp;
let t: TestApp;
let offset = 0;

beforeAll(async () => {
  smtp = await startSmtp();
  t = await buildTestApp({
    env: { SMTP_URL: smtp.url, MAIL_FROM: 'Taskforge <no-reply@example.com>', PASSWORD_RESET_URL: RESET_URL },
    clock: () => Date.now() + offset,
  });
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

const mailsTo = (email: string) => smtp.mails.filter((m) => m.to.includes(email));

async function mailedToken(email: string, count = 1): Promise<string> {
  await until(() => mailsTo(email).length >= count);
  const mail = mailsTo(email)[count - 1];
  if (!mail) throw new Error('no mail');
  return tokenOf(mail);
}

describe(`password reset (${testDatabaseUrl ? 'postgres' : 'sqlite'})`, () => {
  it('answers 202 to known and unknown emails alike, in both versions, and mails only the account', async () => {
    const user = await createUser(t.app);
    for (const version of ['v1', 'v2']) {
      const known = await requestReset(t.app, user.email.toUpperCase(), version);
      const unknown = await requestReset(t.app, uniqueEmail('nobody'), version);
      for (const res of [known, unknown]) {
        expect(res.statusCode).toBe(202);
        expect(res.body).toBe('');
        expect(res.headers['cache-control']).toBe('no-store');
      }
    }
    await until(() => mailsTo(user.email).length === 2);
    await until(async () => (await pendingMailJobs(t.db.handle)) === 0);
    const mail = mailsTo(user.email)[1];
    expect(mail?.from).toBe('no-reply@example.com');
    expect(mail?.raw).toMatch(/Subject: Reset your Taskforge password/);
    expect(smtp.mails.filter((m) => m.to.some((to) => to.startsWith('nobody')))).toEqual([]);
  });

  it('does the same database work for an unknown email as for a known one, reading no account', async () => {
    const quiet = await buildTestApp({
      env: { WORKER: 'off', SMTP_URL: smtp.url, MAIL_FROM: 'x@example.com' },
    });
    try {
      const user = await createUser(quiet.app);
      await requestReset(quiet.app, uniqueEmail('warm-up'));
      const known = await statementsOf(quiet.db.handle, () => requestReset(quiet.app, user.email));
      const unknown = await statementsOf(quiet.db.handle, () =>
        requestReset(quiet.app, uniqueEmail('nobody')),
      );
      expect(known.length).toBeGreaterThan(0);
      expect(unknown).toEqual(known);
      expect(known.join('\n')).not.toMatch(/users|password_resets/);
    } finally {
      await quiet.close();
    }
  });

  it('mails a single-use link: 204, the new password works, the old one and every session end', async () => {
    const user = await createUser(t.app);
    const before = await login(t.app, user.email);
    expect((await requestReset(t.app, user.email)).statusCode).toBe(202);
    const token = await mailedToken(user.email);
    const mail = mailsTo(user.email)[0];
    expect(mail?.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=')).toContain(
      RESET_URL.replace('{token}', token),
    );
    // Stored only as its hash.
    const rows = await t.db.handle.db.selectFrom('password_resets').selectAll().execute();
    expect(rows.some((r) => r.token_hash === createHash('sha256').update(token).digest('hex'))).toBe(true);
    expect(JSON.stringify(rows)).not.toContain(token);

    const res = await confirmReset(t.app, token, NEW_PASSWORD, 'v2');
    expect(res.statusCode).toBe(204);
    expect(res.headers['cache-control']).toBe('no-store');
    await login(t.app, user.email, NEW_PASSWORD);
    const old = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email, password: PASSWORD },
    });
    expect(old.statusCode).toBe(401);
    const me = await t.app.inject({
      method: 'GET',
      url: '/api/v1/users/me',
      headers: { authorization: `Bearer ${before.accessToken}` },
    });
    expect([me.statusCode, me.json().code]).toEqual([401, 'token_revoked']);
    const refresh = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refreshToken: before.refreshToken },
    });
    expect([refresh.statusCode, refresh.json().code]).toEqual([401, 'token_revoked']);

    const again = await confirmReset(t.app, token, 'yet another unusual passphrase');
    expect([again.statusCode, again.json().code]).toEqual([400, 'invalid_reset_token']);
  });

  it('refuses unknown and malformed tokens with 400, and checks the new password like register', async () => {
    for (const token of ['', 'nope', 'x'.repeat(1000)]) {
      const res = await confirmReset(t.app, token, NEW_PASSWORD);
      expect([res.statusCode, res.json().code], token.slice(0, 10)).toEqual([400, 'invalid_reset_token']);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    const control = await confirmReset(t.app, 'abc\u0000', NEW_PASSWORD);
    expect([control.statusCode, control.json().code]).toEqual([422, 'validation_failed']);

    const user = await createUser(t.app, { email: uniqueEmail('weakling') });
    await requestReset(t.app, user.email);
    const token = await mailedToken(user.email);
    const short = await confirmReset(t.app, token, 'short');
    expect([short.statusCode, short.json().code]).toEqual([422, 'validation_failed']);
    const weak = await confirmReset(t.app, token, `${user.email.split('@')[0]} and more words`);
    expect([weak.statusCode, weak.json().code]).toEqual([422, 'weak_password']);
    expect(weak.json().errors[0].pointer).toBe('/newPassword');
    // Neither spent the link.
    expect((await confirmReset(t.app, token, NEW_PASSWORD)).statusCode).toBe(204);
  });

  it.each([
    ['no email', {}, 422],
    ['an unknown field', { email: 'a@example.com', extra: 1 }, 422],
    ['a malformed email', { email: 'not an email' }, 422],
  ])('answers %s with 422', async (_what, payload, status) => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset', payload });
    expect([res.statusCode, res.json().code]).toEqual([status, 'validation_failed']);
  });

  it('answers malformed JSON 400, another media type 415 and a body over 16 KiB 413', async () => {
    for (const url of ['/api/v1/auth/password-reset', '/api/v2/auth/password-reset/confirm']) {
      const bad = await t.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json' },
        payload: '{"email":',
      });
      expect([bad.statusCode, bad.json().code]).toEqual([400, 'malformed_json']);
      const text = await t.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'text/plain' },
        payload: 'a@example.com',
      });
      expect(text.statusCode).toBe(415);
      const big = await t.app.inject({
        method: 'POST',
        url,
        payload: { email: `${'a'.repeat(17_000)}@example.com` },
      });
      expect([big.statusCode, big.json().code]).toEqual([413, 'payload_too_large']);
    }
  });

  it('lets a link expire after 30 minutes', async () => {
    const user = await createUser(t.app);
    await requestReset(t.app, user.email);
    const token = await mailedToken(user.email);
    offset += 30 * 60_000 + 1000;
    const res = await confirmReset(t.app, token, NEW_PASSWORD);
    expect([res.statusCode, res.json().code]).toEqual([400, 'invalid_reset_token']);
  });

  it('invalidates older links when a newer one is mailed', async () => {
    const user = await createUser(t.app);
    await requestReset(t.app, user.email);
    const first = await mailedToken(user.email, 1);
    await requestReset(t.app, user.email);
    const second = await mailedToken(user.email, 2);
    expect(second).not.toBe(first);
    expect((await confirmReset(t.app, first, NEW_PASSWORD)).statusCode).toBe(400);
    expect((await confirmReset(t.app, second, NEW_PASSWORD)).statusCode).toBe(204);
  });

  it('mails at most 3 times per email per hour, and again after the hour', async () => {
    const user = await createUser(t.app);
    for (let i = 0; i < 5; i += 1) expect((await requestReset(t.app, user.email)).statusCode).toBe(202);
    await until(async () => (await pendingMailJobs(t.db.handle)) === 0);
    expect(mailsTo(user.email)).toHaveLength(3);
    offset += 61 * 60_000;
    await requestReset(t.app, user.email);
    await until(() => mailsTo(user.email).length === 4);
  });

  it('mails nothing for a disabled account, and refuses a link issued before it was disabled', async () => {
    const user = await createUser(t.app);
    await requestReset(t.app, user.email);
    const token = await mailedToken(user.email);
    await t.app.ctx.services.users.update(user.id, { disabled: true });
    await requestReset(t.app, user.email);
    await until(async () => (await pendingMailJobs(t.db.handle)) === 0);
    expect(mailsTo(user.email)).toHaveLength(1);
    const res = await confirmReset(t.app, token, NEW_PASSWORD);
    expect([res.statusCode, res.json().code]).toEqual([400, 'invalid_reset_token']);
  });

  it('retries when the mail server refuses the first attempts, and the mail arrives', async () => {
    const user = await createUser(t.app);
    smtp.refuse(2);
    const connections = smtp.connections;
    expect((await requestReset(t.app, user.email)).statusCode).toBe(202);
    for (const attempts of [1, 2]) {
      await until(() => smtp.connections >= connections + attempts);
      await until(async () => {
        await retriesDueNow(t.db.handle);
        return smtp.connections >= connections + attempts + 1 || mailsTo(user.email).length > 0;
      });
    }
    const token = await mailedToken(user.email);
    expect((await confirmReset(t.app, token, NEW_PASSWORD)).statusCode).toBe(204);
  });

  it('answers at once while the mail server holds its connections', async () => {
    const first = await createUser(t.app);
    const second = await createUser(t.app);
    smtp.hold();
    const connections = smtp.connections;
    expect((await requestReset(t.app, first.email)).statusCode).toBe(202);
    // The first mail's job is now stuck in the server's greeting...
    await until(() => smtp.connections === connections + 1);
    // ...and a request meanwhile is not slowed: it only queues its job.
    const res = await requestReset(t.app, second.email);
    expect(res.statusCode).toBe(202);
    expect(mailsTo(first.email)).toHaveLength(0);
    smtp.release();
    await until(() => mailsTo(first.email).length === 1 && mailsTo(second.email).length === 1);
  });
});
