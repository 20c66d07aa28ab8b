import { createHash, randomBytes } from 'node:crypto';
import { uuidv7 } from 'uuidv7';
import { ApiError } from '../../errors.js';
import { normalizeEmail } from '../../lib/email.js';
import type { JobRun, JobType, RetrySchedule } from '../../lib/jobs.js';
import type { AppContext } from '../../lib/module.js';
import * as repo from './password-resets.repository.js';

/** Contract §3: a link is valid 30 minutes; at most 3 mails per email per hour. */
export const LINK_LIFETIME_MS = 30 * 60_000;
export const MAILS_PER_HOUR = 3;
const HOUR_MS = 3_600_000;

export const RESET_MAIL_JOB = 'password-reset-mail';

/**
 * The mail retries for up to 24 h (contract §3): 12 attempts, the n-th retry about 20 s · 2^(n-1)
 * later with jitter, so the last one comes 11.4–22.7 h after the first.
 */
export const RESET_MAIL_RETRY: RetrySchedule = { attempts: 12, delayMs: 20_000 };

export interface ResetMailJob {
  /** Normalised. */
  email: string;
}

export function tokenHash(token: string): string {
  // Stryker disable next-line StringLiteral: an empty encoding is utf8, the default (and a token is ASCII)
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Password reset by mail. A request does the same work whatever the email: it enqueues one job,
 * in one transaction, and reads nothing about accounts. The job (after the reply) looks the
 * account up, issues the link and mails it, so no timing or failure of that work reaches the
 * request.
 */
export class PasswordResetService {
  constructor(private readonly ctx: AppContext) {}

  private get db() {
    return this.ctx.database.db;
  }

  async request(email: string): Promise<void> {
    const job: ResetMailJob = { email: normalizeEmail(email) };
    await this.db.transaction().execute((trx) => this.ctx.jobs.enqueue(trx, RESET_MAIL_JOB, job));
  }

  /** The job type the module defines: issue a link and mail it (each attempt re-issues). */
  mailJob(): JobType<ResetMailJob> {
    return { name: RESET_MAIL_JOB, retry: RESET_MAIL_RETRY, handler: (job, run) => this.mailLink(job, run) };
  }

  private async mailLink({ email }: ResetMailJob, run: JobRun): Promise<void> {
    const { ctx } = this;
    const account = await ctx.services.users.credentials(email);
    // No account, or a disabled one: nothing is sent (the request answered 202 all the same).
    if (!account || account.disabled) return;
    const token = randomBytes(32).toString('base64url');
    const now = ctx.clock();
    const at = new Date(now).toISOString();
    const issued = await this.db.transaction().execute(async (trx) => {
      await repo.lockUser(trx, ctx.database.dialect, account.id);
      const since = new Date(now - HOUR_MS).toISOString();
      if ((await repo.countRecentRequests(trx, email, since, run.id)) >= MAILS_PER_HOUR) return false;
      await repo.invalidateOpenLinks(trx, account.id, at);
      await repo.insertLink(trx, {
        id: uuidv7(),
        request_id: run.id,
        user_id: account.id,
        email,
        token_hash: tokenHash(token),
        created_at: at,
        expires_at: new Date(now + LINK_LIFETIME_MS).toISOString(),
        used_at: null,
        invalidated_at: null,
      });
      return true;
    });
    if (!issued) {
      ctx.log.info(
        { to: email },
        `password reset: ${MAILS_PER_HOUR} mails in the last hour already; none sent`,
      );
      return;
    }
    const link = ctx.config.passwordResetUrl.replaceAll('{token}', token);
    await ctx.mailer.send({
      to: email,
      subject: 'Reset your Taskforge password',
      text: [
        'Someone asked to reset the password of the Taskforge account of this address.',
        '',
        'To choose a new password, open this link within 30 minutes (it works once):',
        link,
        '',
        'If you did not ask for this, ignore this mail: your password stays as it is.',
        '',
      ].join('\n'),
    });
  }

  /** Sets the new password of an open link's account and spends the link; every session ends. */
  async confirm(token: string, newPassword: string): Promise<void> {
    const hash = tokenHash(token);
    const now = () => new Date(this.ctx.clock()).toISOString();
    const link = await repo.findOpenLink(this.db, hash, now());
    if (!link) throw new ApiError('invalid_reset_token');
    const reset = await this.ctx.services.users.resetPassword(link.user_id, newPassword, (trx) =>
      repo.spendLink(trx, hash, now()),
    );
    if (!reset) throw new ApiError('invalid_reset_token');
  }
}
