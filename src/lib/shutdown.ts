import type { FastifyInstance } from 'fastify';

export interface ShutdownOptions {
  /** How long readiness answers 503 before the server stops accepting connections. */
  drainDelayMs: number;
  /** After this, a close that has not finished is reported through `onTimeout`. */
  timeoutMs: number;
  onTimeout: () => void;
  /** Runs once the app has closed, within the timeout (tracing sends its last spans). */
  afterClose?: () => Promise<void>;
}

/**
 * Graceful shutdown: readiness turns 503 at once, so load balancers stop sending; after the
 * drain delay the server stops accepting connections, in-flight requests finish, resources close,
 * then `afterClose` runs.
 */
export async function shutDown(app: FastifyInstance, options: ShutdownOptions): Promise<void> {
  app.ctx.lifecycle.draining = true;
  const timer = setTimeout(options.onTimeout, options.drainDelayMs + options.timeoutMs);
  timer.unref();
  try {
    if (options.drainDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, options.drainDelayMs));
    await app.close();
    await options.afterClose?.();
  } finally {
    clearTimeout(timer);
  }
}
