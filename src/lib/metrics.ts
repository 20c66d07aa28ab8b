import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { withTimeout } from './rate-limited-log.js';

/**
 * The service's metrics (GET /metrics, contract §5), one registry per app: two apps in one process
 * (tests) never share a series nor register a name twice. Names follow Prometheus conventions
 * (base units in the name, `_total` counters) and, for HTTP and the database pool, the
 * OpenTelemetry semantic conventions as Prometheus spells them (dots become underscores). Every
 * label has a bounded set of values: route templates, job type names, codes of the error catalogue.
 * Modules and plugins reach the instruments through `ctx.metrics`; values that need a query (the
 * job queue) are read when scraped, bounded in time, never per request.
 */

/** The content type of the Prometheus text format (exposition format 0.0.4). */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** The longest a scrape waits for a query (the job queue's depth) before reporting it down. */
export const SCRAPE_QUERY_TIMEOUT_MS = 1000;

/** Seconds: OpenTelemetry's advised boundaries for http.server.request.duration. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Seconds: a webhook delivery is bounded by its 10 s timeout. */
const DELIVERY_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Process metrics (CPU, memory, handles, GC, event-loop lag) describe the process, not an app: they
 * are collected once per process on a registry of their own, which every app's output includes.
 * Each collection starts an event-loop delay monitor and a GC observer that nothing can stop, so one
 * per app would add a set of them for each app a test process builds.
 */
let processRegistry: Registry | null = null;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** The PostgreSQL pool at this moment (pg-pool's counts). */
export interface PoolStats {
  /** Connections open, in use or idle. */
  total: number;
  idle: number;
  /** Queries waiting for a connection. */
  waiting: number;
  max: number;
}

/** Waiting jobs of one type: queued (delayed retries included) and not yet started. */
export interface QueueDepth {
  job: string;
  waiting: number;
  /** Seconds since the earliest due job of the type became due (0: none is due). */
  oldestDueSeconds: number;
}

/** What the scrape reads from the rest of the app (set at the composition root and by modules). */
interface Sources {
  pool: (() => PoolStats | null) | null;
  database: string | null;
  jobQueue: (() => Promise<QueueDepth[]>) | null;
  statsCache: (() => { hits: number; misses: number }) | null;
  openStreams: (() => number) | null;
}

/** Why a request was refused 429: which budget it spent (bounded: these four). */
export type RateLimitScope = 'ip' | 'user' | 'credentials' | 'login';

/** How a webhook delivery attempt ended. */
export type DeliveryResult = 'success' | 'http_error' | 'no_response';

/** Methods OpenTelemetry names; any other is reported as `_OTHER` (http.request.method). */
const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'CONNECT',
]);

/** The label of requests no route matched: one series however many paths are tried. */
export const UNMATCHED_ROUTE = 'unmatched';

export class Metrics {
  readonly registry = new Registry();
  private readonly sources: Sources = {
    pool: null,
    database: null,
    jobQueue: null,
    statsCache: null,
    openStreams: null,
  };

  private readonly httpDuration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP server requests (its _count is the request count)',
    labelNames: ['http_request_method', 'http_route', 'http_response_status_code'] as const,
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });

  private readonly rateLimitRejections = new Counter({
    name: 'taskforge_rate_limit_rejections_total',
    help: 'Requests refused 429 by a rate limit, by the budget they spent',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });

  private readonly rateLimitFailOpens = new Counter({
    name: 'taskforge_rate_limit_fail_opens_total',
    help: 'Requests let through unlimited because the rate-limit counters did not answer',
    registers: [this.registry],
  });

  private readonly authFailures = new Counter({
    name: 'taskforge_auth_failures_total',
    help: 'Refused credentials, by problem code (invalid_credentials, token_expired, ...)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private readonly jobAttempts = new Counter({
    name: 'taskforge_job_attempts_total',
    help: 'Job attempts started in this process, by job type',
    labelNames: ['job'] as const,
    registers: [this.registry],
  });

  private readonly jobFailures = new Counter({
    name: 'taskforge_job_failures_total',
    help: 'Failed job attempts in this process, by job type and what follows (retry or dead)',
    labelNames: ['job', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly jobDuration = new Histogram({
    name: 'taskforge_job_duration_seconds',
    help: 'Duration of job attempts in this process, by job type',
    labelNames: ['job'] as const,
    registers: [this.registry],
  });

  private readonly webhookDuration = new Histogram({
    name: 'taskforge_webhook_delivery_duration_seconds',
    help: 'Duration of webhook delivery attempts, by result (its _count is the attempt count)',
    labelNames: ['result'] as const,
    buckets: DELIVERY_BUCKETS,
    registers: [this.registry],
  });

  // Read when scraped, by their `collect` hooks: whoever reads the registry (render, or prom-client
  // answering a cluster primary) gets current values. `aggregator` says how a cluster primary
  // combines the workers' values (counters and histograms are summed): the pool and the streams
  // are each worker's own (summed), the job queue is one table every worker reads (the largest).
  private readonly poolConnections = new Gauge({
    name: 'db_client_connection_count',
    help: 'Database pool connections, by state (used, idle); PostgreSQL only',
    labelNames: ['db_client_connection_state'] as const,
    registers: [this.registry],
    aggregator: 'sum',
    collect: () => this.readPool(),
  });
  private readonly poolPending = new Gauge({
    name: 'db_client_connection_pending_requests',
    help: 'Queries waiting for a database pool connection; PostgreSQL only',
    registers: [this.registry],
    aggregator: 'sum',
    collect: () => this.readPool(),
  });
  private readonly poolMax = new Gauge({
    name: 'db_client_connection_max',
    help: 'The most database connections the service opens (SQLite: one per process)',
    labelNames: ['db_system_name'] as const,
    registers: [this.registry],
    aggregator: 'sum',
    collect: () => this.readPool(),
  });
  private readonly queueUp = new Gauge({
    name: 'taskforge_job_queue_up',
    help: '1 when the job queue answered the scrape within its timeout, else 0 (its depth is then absent)',
    registers: [this.registry],
    aggregator: 'max',
    collect: () => this.readJobQueue(),
  });
  private readonly queueDepth = new Gauge({
    name: 'taskforge_job_queue_depth',
    help: 'Jobs waiting to run (delayed retries included), by job type',
    labelNames: ['job'] as const,
    registers: [this.registry],
    aggregator: 'max',
    collect: () => this.readJobQueue(),
  });
  private readonly queueOldest = new Gauge({
    name: 'taskforge_job_queue_oldest_age_seconds',
    help: 'How long the longest-waiting due job of each type has waited',
    labelNames: ['job'] as const,
    registers: [this.registry],
    aggregator: 'max',
    collect: () => this.readJobQueue(),
  });
  private readonly statsHits = new Counter({
    name: 'taskforge_stats_cache_hits_total',
    help: 'GET /tasks/stats lookups answered from the cache',
    registers: [this.registry],
    collect: () => this.readStatsCache(),
  });
  private readonly statsMisses = new Counter({
    name: 'taskforge_stats_cache_misses_total',
    help: 'GET /tasks/stats lookups that computed the aggregate',
    registers: [this.registry],
    collect: () => this.readStatsCache(),
  });
  private readonly openStreams = new Gauge({
    name: 'taskforge_event_streams_open',
    help: 'Event streams (GET /events/stream) open',
    registers: [this.registry],
    aggregator: 'sum',
    collect: () => {
      const count = this.sources.openStreams;
      if (count) this.openStreams.set(count());
    },
  });
  /** The job queue read of the scrape in progress: its three gauges share one query. */
  private queueRead: Promise<void> | null = null;

  /** One completed request: its method, route template (UNMATCHED_ROUTE when none), status, duration. */
  request(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe(
      {
        http_request_method: KNOWN_METHODS.has(method) ? method : '_OTHER',
        http_route: route,
        http_response_status_code: status,
      },
      seconds,
    );
  }

  rateLimited(scope: RateLimitScope): void {
    this.rateLimitRejections.inc({ scope });
  }

  rateLimitFailedOpen(): void {
    this.rateLimitFailOpens.inc();
  }

  /** `reason`: a problem code of the catalogue (a bounded set). */
  authFailed(reason: string): void {
    this.authFailures.inc({ reason });
  }

  /** Wraps a job handler: counts its attempts, failures and duration under the type's name. */
  timeJob<A extends unknown[]>(
    job: string,
    last: (...args: A) => boolean,
    handler: (...args: A) => Promise<void>,
  ): (...args: A) => Promise<void> {
    return async (...args: A) => {
      this.jobAttempts.inc({ job });
      const end = this.jobDuration.startTimer({ job });
      try {
        await handler(...args);
      } catch (error) {
        this.jobFailures.inc({ job, outcome: last(...args) ? 'dead' : 'retry' });
        throw error;
      } finally {
        end();
      }
    };
  }

  webhookDelivery(result: DeliveryResult, seconds: number): void {
    this.webhookDuration.observe({ result }, seconds);
  }

  /** The database the pool gauges describe (`sqlite`, `postgresql`) and, for PostgreSQL, its pool. */
  watchDatabase(system: 'sqlite' | 'postgresql', pool: (() => PoolStats | null) | null): void {
    this.sources.database = system;
    this.sources.pool = pool;
    // SQLite has no pool: better-sqlite3 runs each query to completion on the event loop, so at a
    // scrape no connection is in use and nothing waits (a wait shows as event-loop lag instead).
    if (!pool) this.registry.removeSingleMetric('db_client_connection_pending_requests');
  }

  watchJobQueue(depth: () => Promise<QueueDepth[]>): void {
    this.sources.jobQueue = depth;
  }

  watchStatsCache(counts: () => { hits: number; misses: number }): void {
    this.sources.statsCache = counts;
  }

  watchOpenStreams(count: () => number): void {
    this.sources.openStreams = count;
  }

  /** The registries of this process's metrics: the process's own, then this app's. */
  registries(): Registry[] {
    return [processMetrics(), this.registry];
  }

  /** The text format of every metric, the process's included; never throws for a source that fails. */
  async render(): Promise<string> {
    return `${await processMetrics().metrics()}\n${await this.registry.metrics()}`;
  }

  private readPool(): void {
    const { pool, database } = this.sources;
    if (!database) return;
    const stats = pool?.() ?? null;
    this.poolMax.reset();
    this.poolMax.set({ db_system_name: database }, stats ? stats.max : 1);
    if (stats) {
      this.poolConnections.set({ db_client_connection_state: 'used' }, stats.total - stats.idle);
      this.poolConnections.set({ db_client_connection_state: 'idle' }, stats.idle);
      this.poolPending.set(stats.waiting);
    }
  }

  private readStatsCache(): void {
    const statsCache = this.sources.statsCache;
    if (!statsCache) return;
    // The cache counts for itself; the counters mirror its totals (they only grow).
    const { hits, misses } = statsCache();
    this.statsHits.reset();
    this.statsHits.inc(hits);
    this.statsMisses.reset();
    this.statsMisses.inc(misses);
  }

  /** A registry read calls the three queue gauges' hooks in one turn: the first starts the query. */
  private readJobQueue(): Promise<void> {
    this.queueRead ??= this.queryJobQueue().finally(() => {
      this.queueRead = null;
    });
    return this.queueRead;
  }

  private async queryJobQueue(): Promise<void> {
    const source = this.sources.jobQueue;
    if (!source) return;
    try {
      const depths = await withTimeout(source(), SCRAPE_QUERY_TIMEOUT_MS, 'job queue depth');
      this.queueDepth.reset();
      this.queueOldest.reset();
      for (const { job, waiting, oldestDueSeconds } of depths) {
        this.queueDepth.set({ job }, waiting);
        this.queueOldest.set({ job }, oldestDueSeconds);
      }
      this.queueUp.set(1);
    } catch {
      // The database is down or slow: the scrape still answers, with the queue marked down.
      this.queueDepth.reset();
      this.queueOldest.reset();
      this.queueUp.set(0);
    }
  }
}
