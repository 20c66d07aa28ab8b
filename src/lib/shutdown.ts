import type { FastifyInstance } from 'fastify';

/**
 * Graceful shutdown: readiness turns 503 at once (load balancers stop sending), the server stops
 * accepting connections, in-flight requests finish, then resources close. A stuck close is cut
 * short after `timeoutMs`, reported through `onTimeout`.
 */
export async function shutDown(
  app: FastifyInstance,
  timeoutMs: number,
  onTimeout: () => void,
): Promise<void> {
  app.lifecycle.draining = true;
  const timer = setTimeout(onTimeout, timeoutMs);
  timer.unref();
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
}
