import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Mail } from '../../src/lib/mail.js';
import type { AppContext } from '../../src/lib/module.js';
import type { PasswordResetService } from '../../src/modules/password-reset/password-reset.service.js';
import {
  LINK_LIFETIME_MS,
  MAILS_PER_HOUR,
  RESET_MAIL_JOB,
  RESET_MAIL_RETRY,
} from '../../src/modules/password-reset/password-reset.service.js';
import { buildTestServices, failure, type TestServices } from '../helpers/services.js';

/**
 * The password-reset service called directly (test/helpers/services.ts: in-memory SQLite, or a
 * PostgreSQL schema) with a fixed Date and a recording mailer: the job a request enqueues, the
 * link and mail the job makes of it, the hourly cap, and each outcome of a confirmation.
 */

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
const HOUR = 3_600_000;
const PASSWORD = 'correct horse battery staple 42';
const NEW_PASSWORD = 'a brand new and unusual passphrase';
// {token} twice: every occurrence is replaced.
const RESET_URL = 'https://app.example.com/reset?t={token}#again={token}';

let services: TestServices;
let ctx: AppContext;
let resets: PasswordResetService;
let counter = 0;
const mails: Mail[] = [];

/**
 * Every context defines the mail job as it is made (the module's subscribe): a test of its own,
 * outside the shared context's hooks, so that a job type that breaks the context fails a test.
 */
it('a context defines the mail job type when it is made', async () => {
  const own = await buildTestServices();
  try {
    const enqueue = own.ctx.database.db
      .transaction()
      .execute((trx) => own.ctx.jobs.enqueue(trx, RESET_MAIL_JOB, { email: 'defined@example.com' }));
    await expect(enqueue).resolves.toEqual(expect.any(String));
  } finally {
    await own.close();
  }
});

describe('with one context for the file', () => {
  beforeAll(async () => {
    services = await buildTestServices({ PASSWORD_RESET_URL: RESET_URL });
    ctx = services.ctx;
    resets = ctx.services.passwordReset;
  });
  afterAll(async () => services.close());
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    mails.length = 0;
    vi.spyOn(ctx.mailer, 'send').mockImplementation(async (mail) => {
      mails.push(mail);
    });
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  const at = (ms: number) => new Date(T0 + ms).toISOString();
  const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

  async function account() {
    counter += 1;
    return ctx.services.users.create({
      email: `reset-unit-${counter}@example.com`,
      password: PASSWORD,
      name: `r${counter}`,
    });
  }

  let runs = 0;
  /** Runs the mail job for `email` as attempt 1 of a new job, or as a retry of `id`. */
  async function runJob(email: string, id?: string): Promise<string> {
    runs += 1;
    const runId = id ?? `run-${runs}`;
    await resets.mailJob().handler({ email }, { id: runId, attempt: id ? 2 : 1, last: false });
    return runId;
  }

  const linksOf = (userId: string) =>
    ctx.database.db
      .selectFrom('password_resets')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .orderBy('request_id')
      .execute();

  /** The token of the last mail (as the link holds it, twice). */
  function lastToken(): string {
    const text = mails.at(-1)?.text ?? '';
    const match = /reset\?t=([A-Za-z0-9_-]+)#again=([A-Za-z0-9_-]+)/.exec(text);
    if (!match?.[1]) throw new Error(`no link in ${text}`);
    expect(match[2]).toBe(match[1]);
    return match[1];
  }

  async function passwordWorks(email: string, password: string): Promise<boolean> {
    const creds = await ctx.services.users.credentials(email);
    if (!creds) throw new Error('no account');
    return ctx.passwordHasher.verify(creds.passwordHash, password);
  }

  describe('request', () => {
    it('enqueues one mail job with the normalised email, in a transaction', async () => {
      const enqueue = vi.spyOn(ctx.jobs, 'enqueue').mockResolvedValue('job-1');
      await resets.request('Someone@Example.COM');
      expect(enqueue).toHaveBeenCalledTimes(1);
      const [trx, name, payload] = enqueue.mock.calls[0] ?? [];
      expect(name).toBe(RESET_MAIL_JOB);
      expect(payload).toEqual({ email: 'someone@example.com' });
      expect(trx?.isTransaction).toBe(true);
    });

    it('defines the job type: its name, its retry schedule', () => {
      const type = resets.mailJob();
      expect(type.name).toBe('password-reset-mail');
      expect(type.retry).toBe(RESET_MAIL_RETRY);
      expect(RESET_MAIL_RETRY).toEqual({ attempts: 12, delayMs: 20_000 });
      expect(LINK_LIFETIME_MS).toBe(30 * 60_000);
      expect(MAILS_PER_HOUR).toBe(3);
    });
  });

  describe('the mail job', () => {
    it('issues a link for the account and mails it', async () => {
      const user = await account();
      const runId = await runJob(user.email);
      expect(mails).toHaveLength(1);
      const token = lastToken();
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(mails[0]).toEqual({
        to: user.email,
        subject: 'Reset your Taskforge password',
        text: [
          'Someone asked to reset the password of the Taskforge account of this address.',
          '',
          'To choose a new password, open this link within 30 minutes (it works once):',
          `https://app.example.com/reset?t=${token}#again=${token}`,
          '',
          'If you did not ask for this, ignore this mail: your password stays as it is.',
          '',
        ].join('\n'),
      });
      expect(await linksOf(user.id)).toEqual([
        {
          id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7/),
          request_id: runId,
          user_id: user.id,
          email: user.email,
          token_hash: sha256(token),
          created_at: at(0),
          expires_at: at(LINK_LIFETIME_MS),
          used_at: null,
          invalidated_at: null,
        },
      ]);
    });

    it('sends nothing for an unknown email or a disabled account', async () => {
      await runJob('nobody-here@example.com');
      const user = await account();
      await ctx.services.users.update(user.id, { disabled: true });
      await runJob(user.email);
      expect(mails).toEqual([]);
      expect(await linksOf(user.id)).toEqual([]);
    });

    it('replaces the open links of the account with the new one, leaving used ones as they are', async () => {
      const user = await account();
      await runJob(user.email);
      const used = lastToken();
      await resets.confirm(used, NEW_PASSWORD);
      vi.setSystemTime(T0 + 1000);
      await runJob(user.email);
      vi.setSystemTime(T0 + 2000);
      await runJob(user.email);
      const links = await linksOf(user.id);
      expect(links.map((l) => [l.used_at, l.invalidated_at])).toEqual([
        [at(0), null],
        [null, at(2000)],
        [null, null],
      ]);
    });

    it('mails at most 3 links per email and hour; a retry of one of them does not count itself', async () => {
      const user = await account();
      const info = vi.spyOn(ctx.log, 'info');
      const first = await runJob(user.email);
      await runJob(user.email);
      vi.setSystemTime(T0 + 10);
      const third = await runJob(user.email);
      expect(mails).toHaveLength(3);
      // A retry of the third request re-issues its link.
      await runJob(user.email, third);
      expect(mails).toHaveLength(4);
      vi.setSystemTime(T0 + HOUR - 1);
      await runJob(user.email);
      expect(mails).toHaveLength(4);
      expect(info).toHaveBeenCalledWith(
        { to: user.email },
        'password reset: 3 mails in the last hour already; none sent',
      );
      expect((await linksOf(user.id)).length).toBe(4);
      // The first two requests were an hour ago (created_at no longer after now − 1 h): one fits.
      vi.setSystemTime(T0 + HOUR);
      await runJob(user.email);
      expect(mails).toHaveLength(5);
      // A retry of the first request counts the two others of the hour only.
      await runJob(user.email, first);
      expect(mails).toHaveLength(6);
    });
  });

  describe('confirm', () => {
    it('sets the password of an open link, spends it and ends every session', async () => {
      const user = await account();
      const events: string[] = [];
      ctx.ports.users.on('passwordReset', async (_trx, { userId }) => {
        events.push(userId);
      });
      await runJob(user.email);
      const token = lastToken();
      vi.setSystemTime(T0 + LINK_LIFETIME_MS - 1);
      await resets.confirm(token, NEW_PASSWORD);
      expect(await passwordWorks(user.email, NEW_PASSWORD)).toBe(true);
      expect((await linksOf(user.id))[0]?.used_at).toBe(at(LINK_LIFETIME_MS - 1));
      expect(events).toEqual([user.id]);
      const again = await failure(resets.confirm(token, 'yet another long passphrase 99'));
      expect(again.code).toBe('invalid_reset_token');
      expect(again.status).toBe(400);
      expect(await passwordWorks(user.email, NEW_PASSWORD)).toBe(true);
    });

    it('refuses an unknown, expired or replaced link', async () => {
      expect((await failure(resets.confirm('no-such-token', NEW_PASSWORD))).code).toBe('invalid_reset_token');
      const user = await account();
      await runJob(user.email);
      const expired = lastToken();
      vi.setSystemTime(T0 + LINK_LIFETIME_MS);
      expect((await failure(resets.confirm(expired, NEW_PASSWORD))).code).toBe('invalid_reset_token');
      await runJob(user.email);
      const replaced = lastToken();
      await runJob(user.email);
      expect((await failure(resets.confirm(replaced, NEW_PASSWORD))).code).toBe('invalid_reset_token');
      expect(await passwordWorks(user.email, PASSWORD)).toBe(true);
      // The newest one still works.
      await resets.confirm(lastToken(), NEW_PASSWORD);
      expect(await passwordWorks(user.email, NEW_PASSWORD)).toBe(true);
    });

    it('refuses a link another confirmation spent in between, leaving the password', async () => {
      const user = await account();
      await runJob(user.email);
      const token = lastToken();
      const users = ctx.services.users;
      const original = users.resetPassword.bind(users);
      vi.spyOn(users, 'resetPassword').mockImplementation(async (userId, next, claim) => {
        await ctx.database.db
          .updateTable('password_resets')
          .set({ used_at: at(0) })
          .where('token_hash', '=', sha256(token))
          .execute();
        return original(userId, next, claim);
      });
      expect((await failure(resets.confirm(token, NEW_PASSWORD))).code).toBe('invalid_reset_token');
      expect(await passwordWorks(user.email, PASSWORD)).toBe(true);
    });

    it('refuses the link of an account disabled since it was mailed', async () => {
      const user = await account();
      await runJob(user.email);
      await ctx.services.users.update(user.id, { disabled: true });
      expect((await failure(resets.confirm(lastToken(), NEW_PASSWORD))).code).toBe('invalid_reset_token');
    });
  });
});
