/**
 * How long the cluster primary waits before replacing a worker that exited. A worker that ran a
 * while (a crash under load, an out-of-memory kill) is replaced at once; one that dies soon after
 * it started, again and again (a crash loop: a database gone, a bad deploy), waits twice as long
 * each time, up to a ceiling, so the primary never spins forking processes that cannot live.
 */
export interface BackoffOptions {
  /** The first delay after a quick death, in milliseconds. */
  initialMs: number;
  /** The ceiling of the delay, in milliseconds. */
  maxMs: number;
  /** A worker that lived at least this long resets the backoff, in milliseconds. */
  healthyAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, healthyAfterMs: 10_000 };

export class RestartBackoff {
  private quickDeaths = 0;

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {}

  /** The delay before replacing a worker that lived `livedMs`. */
  next(livedMs: number): number {
    if (livedMs >= this.options.healthyAfterMs) {
      this.quickDeaths = 0;
      return 0;
    }
    const delay = Math.min(this.options.maxMs, this.options.initialMs * 2 ** this.quickDeaths);
    this.quickDeaths += 1;
    return delay;
  }
}
