import { getHeapStatistics } from 'node:v8';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.js';
import { shedsLoad } from '../lib/load-shedding.js';

/**
 * Load shedding with @fastify/under-pressure: while the event loop lags or the heap is nearly
 * full, every route but the exempt ones (the health probes) answers 503 `overloaded` with
 * Retry-After at once, before authentication or any database work, so the process spends what it
 * has on the requests it already accepted and recovers.
 */
export interface OverloadLimits {
  /**
   * Refuse while the mean event-loop delay of the last sample is above this: each turn of the
   * loop then takes that long, and every accepted request waits at least as much. 0: not checked.
   */
  maxEventLoopDelayMs: number;
  /** Refuse while the V8 heap in use is above this: nearer its limit, the process would crash. 0: not checked. */
  maxHeapUsedBytes: number;
  /** How often both are measured. */
  sampleIntervalMs: number;
}

export function defaultOverloadLimits(): OverloadLimits {
  return {
    maxEventLoopDelayMs: 1000,
    maxHeapUsedBytes: Math.floor(getHeapStatistics().heap_size_limit * 0.9),
    sampleIntervalMs: 1000,
  };
}

/** A sample lasts a second; a few of them let a burst pass before the client comes back. */
export const OVERLOAD_RETRY_AFTER_SECONDS = 5;

/**
 * Registered after the request-id, security-header and CORS hooks (so a 503 carries them, and a
 * browser can read it) and before the modules' hooks (authentication, rate limits).
 */
export async function installOverload(
  app: FastifyInstance,
  limits: OverloadLimits,
  clock: () => number = Date.now,
): Promise<void> {
  // One warning per sample while refusing, not one per refusal: a log flood is more load.
  let refused = 0;
  let warnedAt = Number.NEGATIVE_INFINITY;
  // The delay is measured from registration on, so the samples that cover the rest of start-up
  // (compiling schemas, registering routes: seconds of blocked loop) would refuse the first
  // requests. Delay readings count from the second full sample after the app is ready.
  let delayTrustedFrom = Number.POSITIVE_INFINITY;
  app.addHook('onReady', async () => {
    delayTrustedFrom = clock() + 2.5 * limits.sampleIntervalMs;
  });
  await app.register(underPressure, {
    maxEventLoopDelay: limits.maxEventLoopDelayMs,
    maxHeapUsedBytes: limits.maxHeapUsedBytes,
    sampleInterval: limits.sampleIntervalMs,
    // A rejection reaches the error handler (problem+json); resolving lets the request through.
    pressureHandler: async (request, _reply, type) => {
      if (!shedsLoad(request.routeOptions.config)) return;
      let pressure = type;
      if (type === underPressure.TYPE_EVENT_LOOP_DELAY && clock() < delayTrustedFrom) {
        // The plugin stops at the first threshold passed: the heap is still to be checked.
        const heapChecked = limits.maxHeapUsedBytes > 0;
        if (!heapChecked || app.memoryUsage().heapUsed <= limits.maxHeapUsedBytes) return;
        pressure = underPressure.TYPE_HEAP_USED_BYTES;
      }
      refused += 1;
      const now = performance.now();
      if (now - warnedAt >= limits.sampleIntervalMs) {
        request.log.warn({ pressure, refused }, 'overloaded: refusing requests (503)');
        warnedAt = now;
        refused = 0;
      }
      throw new ApiError('overloaded', {
        headers: { 'retry-after': String(OVERLOAD_RETRY_AFTER_SECONDS) },
      });
    },
  });
}
