import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';

/**
 * The shared Redis client. Commands fail fast while the link is down (no offline queue), so
 * callers can fall back or fail closed instead of hanging; errors are logged, never thrown.
 */
export function createRedis(url: string, log: FastifyBaseLogger): Redis {
  const client = new Redis(url, {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  let reported = false;
  client.on('error', (error: Error) => {
    if (!reported) log.warn({ err: { message: error.message } }, 'redis connection problem');
    reported = true;
  });
  client.on('ready', () => {
    reported = false;
  });
  return client;
}
