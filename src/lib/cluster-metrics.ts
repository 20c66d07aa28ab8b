import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { ApiError } from '../errors.js';
import type { Metrics } from './metrics.js';
import { withTimeout } from './rate-limited-log.js';

/**
 * Metrics under WEB_CONCURRENCY: one scrape reports the whole service. Each worker hands its
 * registries to prom-client's AggregatorRegistry, which answers the primary over the cluster's IPC
 * channel; the primary adds the workers' counters and histograms and combines each gauge by its
 * `aggregator` (lib/metrics.ts). The primary serves the aggregate on METRICS_PORT; without it, the
 * worker a scrape reaches asks the primary for it (below).
 */

/** The longest a scrape waits for every worker's metrics before answering 503 `not_ready`. */
export const CLUSTER_SCRAPE_TIMEOUT_MS = 3000;

const REQUEST = 'taskforge:cluster-metrics-request';
const RESPONSE = 'taskforge:cluster-metrics-response';

interface ScrapeRequest {
  type: typeof REQUEST;
  id: number;
}
interface ScrapeResponse {
  type: typeof RESPONSE;
  id: number;
  text?: string;
}

function notReady(cause: unknown): ApiError {
  // Like every 503 (contract §4): when to scrape again.
  return new ApiError('not_ready', {
    detail: 'Not every worker answered the metrics scrape in time',
    headers: { 'retry-after': '5' },
    cause,
  });
}

/**
 * In the primary: the aggregate of every worker's metrics, and the answer to a worker that asks
 * for it. Rejects with `not_ready` when a worker does not answer within CLUSTER_SCRAPE_TIMEOUT_MS.
 */
export function aggregateWorkerMetrics(): () => Promise<string> {
  const aggregator = new AggregatorRegistry();
  const scrape = () =>
    withTimeout(aggregator.clusterMetrics(), CLUSTER_SCRAPE_TIMEOUT_MS, 'cluster metrics').catch(
      (error: unknown) => {
        throw notReady(error);
      },
    );
  cluster.on('message', (worker, message: Partial<ScrapeRequest> | null) => {
    if (message?.type !== REQUEST || typeof message.id !== 'number') return;
    const id = message.id;
    const reply = (text?: string) => {
      const response: ScrapeResponse =
        text === undefined ? { type: RESPONSE, id } : { type: RESPONSE, id, text };
      if (worker.isConnected()) worker.send(response);
    };
    scrape().then(reply, () => reply());
  });
  return scrape;
}

/**
 * In a worker, as early as it starts: it answers the primary's scrapes from the start (with nothing
 * until `share` hands it the app's metrics), so a worker still booting never holds a scrape up.
 */
export function answerPrimaryScrapes(): { share: (metrics: Metrics) => void } {
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([]);
  return { share: (metrics) => AggregatorRegistry.setRegistries(metrics.registries()) };
}

/** The IPC channel to the primary (process, in a worker; tests pass their own). */
export interface PrimaryChannel {
  send?: ((message: ScrapeRequest) => boolean) | undefined;
  /** False once the primary is gone (sending then would raise an error event). */
  connected?: boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

/**
 * In a worker: GET /metrics on the public port asks the primary for the aggregate. Rejects with
 * `not_ready` when no answer comes within `timeoutMs`, or the primary could not gather it.
 */
export function askPrimaryForMetrics(
  channel: PrimaryChannel = process,
  timeoutMs = CLUSTER_SCRAPE_TIMEOUT_MS + 500,
): () => Promise<string> {
  let next = 0;
  return () => {
    const id = next++;
    let listener: ((message: unknown) => void) | undefined;
    const answer = new Promise<string>((resolve, reject) => {
      listener = (message) => {
        const response = message as Partial<ScrapeResponse> | null;
        if (response?.type !== RESPONSE || response.id !== id) return;
        if (typeof response.text === 'string') resolve(response.text);
        else reject(new Error('the primary could not gather the metrics'));
      };
      channel.on('message', listener);
      if (!channel.send || channel.connected === false) reject(new Error('no IPC channel to the primary'));
      else channel.send({ type: REQUEST, id });
    });
    return withTimeout(answer, timeoutMs, 'cluster metrics')
      .catch((error: unknown) => {
        throw notReady(error);
      })
      .finally(() => {
        if (listener) channel.off('message', listener);
      });
  };
}
