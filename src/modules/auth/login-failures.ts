import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { AppContext } from '../../lib/module.js';
import { LIMITS_REDIS_TIMEOUT_MS, rateLimitedWarning } from '../../lib/rate-limited-log.js';
import { bounded } from '../../lib/redis.js';

/** Contract §4: failed logins count within a sliding 15 minutes. */
export const LOGIN_FAILURE_WINDOW_MS = 15 * 60_000;
/** The in-process counter forgets the oldest emails beyond this many. */
const LOCAL_EMAILS = 100_000;

/**
 * Failed logins per normalised email (contract §4), whether or not the account exists: after
 * LOGIN_FAILURES_MAX failures within the window, logins for that email are refused until the
 * oldest failures leave the window. Locked attempts are not counted (they would keep an account
 * locked for ever). A password reset clears the counter. With Redis the failures are a sorted
 * set per email (scores: the app's clock), shared by every instance; otherwise they live in this
 * process. A counter that cannot be reached locks nobody out (fail open, logged once a minute).
 */
export class LoginFailures {
  private readonly local = new Map<string, number[]>();
  private readonly warn: (error: Error) => void;

  constructor(
    private readonly ctx: Pick<AppContext, 'redis' | 'clock' | 'log' | 'keyPrefix'>,
    private readonly max: number,
  ) {
    this.warn = rateLimitedWarning(
      ctx.log,
      'login lock-outs are not enforced: their counter does not answer',
    );
  }

  private get redis(): Redis | null {
    return this.ctx.redis;
  }

  /** The email's key: hashed, so Redis holds no address. */
  private key(email: string): string {
    return `${this.ctx.keyPrefix}login-failures:${createHash('sha256').update(email).digest('base64url')}`;
  }

  /** Seconds until `email` may log in again; 0 when it is not locked out. */
  async lockedFor(email: string): Promise<number> {
    const now = this.ctx.clock();
    const since = now - LOGIN_FAILURE_WINDOW_MS;
    let times: number[];
    if (this.redis) {
      try {
        const scores = await bounded(
          this.redis,
          this.redis.zrangebyscore(this.key(email), `(${since}`, '+inf', 'WITHSCORES'),
          LIMITS_REDIS_TIMEOUT_MS,
          'login failures',
        );
        times = scores.filter((_value, i) => i % 2 === 1).map(Number);
      } catch (error) {
        this.warn(error as Error);
        return 0;
      }
    } else {
      // Stryker disable next-line ArrayDeclaration: the filter drops whatever a mutant puts in the empty list
      times = (this.local.get(email) ?? []).filter((time) => time > since);
    }
    if (times.length < this.max) return 0;
    // Unlocked once enough of the oldest failures have left the window.
    const freeing = times[times.length - this.max] ?? now;
    return Math.max(1, Math.ceil((freeing + LOGIN_FAILURE_WINDOW_MS - now) / 1000));
  }

  async record(email: string): Promise<void> {
    const now = this.ctx.clock();
    const since = now - LOGIN_FAILURE_WINDOW_MS;
    if (this.redis) {
      const key = this.key(email);
      try {
        await bounded(
          this.redis,
          this.redis
            .multi()
            .zadd(key, now, `${now}:${randomBytes(6).toString('hex')}`)
            .zremrangebyscore(key, '-inf', since)
            .pexpire(key, LOGIN_FAILURE_WINDOW_MS)
            .exec(),
          LIMITS_REDIS_TIMEOUT_MS,
          'login failures',
        );
      } catch (error) {
        this.warn(error as Error);
      }
      return;
    }
    // Stryker disable next-line ArrayDeclaration,MethodExpression,ConditionalExpression,EqualityOperator: only prunes; lockedFor filters by the window again
    const times = (this.local.get(email) ?? []).filter((time) => time > since);
    times.push(now);
    this.local.delete(email); // re-inserted last: the map's order is least recently failed first
    this.local.set(email, times);
    if (this.local.size > LOCAL_EMAILS) {
      const oldest = this.local.keys().next().value;
      if (oldest !== undefined) this.local.delete(oldest);
    }
  }

  /** After a password reset: the email starts again with no failures. Never throws. */
  async clear(email: string): Promise<void> {
    this.local.delete(email);
    if (!this.redis) return;
    try {
      await bounded(this.redis, this.redis.del(this.key(email)), LIMITS_REDIS_TIMEOUT_MS, 'login failures');
    } catch (error) {
      this.warn(error as Error);
    }
  }
}
