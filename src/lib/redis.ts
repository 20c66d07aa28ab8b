import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
import { REDIS_COMMAND_BACKSTOP_MS, withTimeout } from './rate-limited-log.js';

/**
 * The shared Redis client. Commands fail fast while the link is down (no offline queue), so
 * callers can fall back or fail closed instead of hanging; errors are logged, never thrown.
 * A connection that stops answering (a partition: the socket stays open, nothing comes back)
 * is dropped after REDIS_COMMAND_BACKSTOP_MS of silence and opened again: kept, its replies
 * would pair with the wrong commands once it answered again (the lost ones never get one).
 * Duplicates (the rate limiter's, the subscribers) inherit it.
 */
export function createRedis(url: string, log: FastifyBaseLogger): Redis {
  const client = new Redis(url, {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    socketTimeout: REDIS_COMMAND_BACKSTOP_MS,
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

/**
 * One command of `client`, bounded like withTimeout. A command left without an answer also
 * drops the connection, which is opened again at once: Redis answers in order, so on a link
 * that lost the command (a stall that ended) the reply of every later command would go to the
 * one before it, for good. A fresh connection starts even.
 */
export async function bounded<T>(client: Redis, command: Promise<T>, ms: number, what: string): Promise<T> {
  let answered = false;
  const settled = command.finally(() => {
    answered = true;
  });
  try {
    return await withTimeout(settled, ms, what);
  } catch (error) {
    if (!answered && (client.status === 'ready' || client.status === 'connect')) client.disconnect(true);
    throw error;
  }
}

/**
 * Resolves once the client is connected; rejects on its first connection error or after
 * `timeoutMs`. For short-lived tools, which must not act on a change nobody would hear of.
 */
export function whenReady(client: Redis, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const settle = (error?: Error) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      if (error) reject(error);
      else resolve();
    };
    const onReady = () => settle();
    const onError = (error: Error) => settle(error);
    const timer = setTimeout(() => settle(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    client.on('ready', onReady);
    client.on('error', onError);
  });
}

/** How often a subscription asks its connection to answer (a PING, allowed while subscribed). */
export const SUBSCRIPTION_HEARTBEAT_MS = 500;
/**
 * A subscription whose connection has not answered a heartbeat sent this long ago is not live:
 * messages published since may be lost (a stalled link looks open and delivers nothing).
 */
export const SUBSCRIPTION_SILENCE_MS = 1500;

export interface Subscription {
  /**
   * Whether every message published on the channel until at most SUBSCRIPTION_SILENCE_MS ago has
   * been delivered: the connection is ready and answered a heartbeat sent within that time.
   */
  readonly live: boolean;
  close(): void;
}

export interface SubscriptionHandlers {
  message(text: string): void;
  /** The link was not live for a while and is again: messages may have been missed meanwhile. */
  resumed(): void;
}

/**
 * Listens on `channel` over a connection of its own. Pub/sub alone cannot tell a quiet channel
 * from a dead link, so a numbered PING goes out every SUBSCRIPTION_HEARTBEAT_MS: an answer in
 * order proves every earlier message arrived; no answer, or a wrong one (the link lost data),
 * makes the subscription not live and its connection is opened again (ioredis resubscribes).
 */
export function subscribe(redis: Redis, channel: string, handlers: SubscriptionHandlers): Subscription {
  const subscriber = redis.duplicate({ enableOfflineQueue: true });
  subscriber.on('error', () => {}); // the main client already reports connection problems
  subscriber.subscribe(channel).catch(() => {});
  subscriber.on('message', (from: string, text: string) => {
    if (from === channel) handlers.message(text);
  });
  /** When the newest answered heartbeat was sent (performance.now()); -Infinity: not since a gap. */
  let answeredSentAt = Number.NEGATIVE_INFINITY;
  let sequence = 0;
  let inFlight: { token: string; sentAt: number } | null = null;
  /** When the connection was opened (TCP), for a handshake that never finishes. */
  let connectedAt = Number.POSITIVE_INFINITY;
  let closed = false;
  const live = () =>
    subscriber.status === 'ready' && performance.now() - answeredSentAt < SUBSCRIPTION_SILENCE_MS;
  const reopen = () => {
    answeredSentAt = Number.NEGATIVE_INFINITY;
    inFlight = null;
    if (!closed) subscriber.disconnect(true);
  };
  const beat = () => {
    if (closed) return;
    const now = performance.now();
    if (inFlight) {
      // Judged one loop turn later: an answer that arrived while the loop was busy is read first.
      const sentAt = inFlight.sentAt;
      setImmediate(() => {
        if (inFlight && inFlight.sentAt === sentAt && now - sentAt >= SUBSCRIPTION_SILENCE_MS) reopen();
      });
      return;
    }
    // A connection that never finishes its handshake (a stalled link) is opened again too.
    if (subscriber.status === 'connect' && now - connectedAt >= SUBSCRIPTION_SILENCE_MS) reopen();
    if (subscriber.status !== 'ready') return;
    sequence += 1;
    const ping = { token: `taskforge-heartbeat-${sequence}`, sentAt: now };
    inFlight = ping;
    subscriber.ping(ping.token).then(
      (reply: unknown) => {
        if (inFlight !== ping) return;
        inFlight = null;
        const answer = Array.isArray(reply) ? String(reply[1]) : String(reply);
        if (answer !== ping.token) {
          reopen(); // an answer to an earlier command: the link lost data, and maybe messages
          return;
        }
        const wasLive = live();
        answeredSentAt = ping.sentAt;
        if (!wasLive) handlers.resumed();
      },
      () => {
        if (inFlight === ping) inFlight = null;
      },
    );
  };
  const timer = setInterval(beat, SUBSCRIPTION_HEARTBEAT_MS);
  timer.unref();
  // A new connection may have missed messages: not live until its first heartbeat answers.
  subscriber.on('ready', () => {
    answeredSentAt = Number.NEGATIVE_INFINITY;
    inFlight = null;
    beat();
  });
  subscriber.on('connect', () => {
    connectedAt = performance.now();
  });
  subscriber.on('close', () => {
    answeredSentAt = Number.NEGATIVE_INFINITY;
    connectedAt = Number.POSITIVE_INFINITY;
  });
  return {
    get live() {
      return live();
    },
    close() {
      closed = true;
      clearInterval(timer);
      subscriber.disconnect();
    },
  };
}
