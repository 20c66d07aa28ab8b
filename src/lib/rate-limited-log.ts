import type { FastifyBaseLogger } from 'fastify';

/**
 * How long a rate-limit counter in Redis may take before the request goes ahead unlimited (fail
 * open). A local Redis answers in a millisecond, but a reply is only read once the event loop gets
 * to it, and a timer that expires during a stalled loop fires first: a bound below the loop lag the
 * service otherwise tolerates (load shedding starts at 1 s, plugins/overload.ts) would switch the
 * limits off on a busy host. 200 ms did, under a loaded test run.
 */
export const LIMITS_REDIS_TIMEOUT_MS = 1000;

/**
 * How long a Redis connection may stay silent with a command waiting before it is dropped and
 * opened again (lib/redis.ts): the backstop behind the callers' own bounds, for commands nobody
 * bounds (publishes, lease refreshes). A multiple of the bound: its timer fires before the answer
 * that arrived during an event-loop stall is read.
 */
export const REDIS_COMMAND_BACKSTOP_MS = 5 * LIMITS_REDIS_TIMEOUT_MS;

/** How often a failure that repeats on every request is logged again: once a minute. */
export const REPEAT_LOG_INTERVAL_MS = 60_000;

/**
 * A warning for a failure that would otherwise be logged on every request (a Redis that does not
 * answer): the first one at once, then at most one line per interval, with how many were left out.
 */
export function rateLimitedWarning(
  log: FastifyBaseLogger,
  message: string,
  intervalMs = REPEAT_LOG_INTERVAL_MS,
): (error: Error) => void {
  let last = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (error) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed += 1;
      return;
    }
    last = now;
    log.warn({ err: { message: error.message }, suppressed }, message);
    suppressed = 0;
  };
}

/**
 * Settles like `promise`, or rejects once `ms` have passed without an answer: a dependency that
 * does not answer holds nothing. A timer that expires while the event loop was busy (a loaded host,
 * a long synchronous task) fires before the loop reads the I/O that arrived meanwhile, so the
 * rejection waits one turn of the loop (setImmediate runs after the poll phase): an answer already
 * waiting wins, and only a dependency that was really silent for `ms` times out.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let turn: NodeJS.Immediate | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      turn = setImmediate(() => reject(new Error(`${what}: no answer within ${ms} ms`)));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
    clearImmediate(turn);
  });
}
