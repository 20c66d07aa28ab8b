import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { uuidv7 } from 'uuidv7';
import { ApiError, type ProblemCode } from '../errors.js';
import { problemResponses } from '../lib/common-schemas.js';
import { METRICS_CONTENT_TYPE, type Metrics, UNMATCHED_ROUTE } from '../lib/metrics.js';
import type { AppContext } from '../lib/module.js';
import { problemBody } from './problem-details.js';
import { API_CSP } from './security-headers.js';

/**
 * GET /metrics (contract §5) and the HTTP instruments: every completed request is observed by its
 * method, route template (never the raw path: `/api/v1/tasks/:id` for every id) and status. Refused
 * credentials are counted by their problem code as they reach the error handler (401s, and the 403
 * of a disabled account's login). With METRICS_PORT the endpoint moves to a listener of its own on
 * that port (same host), started when the app is ready and closed with it; the public port then
 * answers /metrics 404 like any unknown path. In a cluster worker (WEB_CONCURRENCY > 1) the route
 * answers the whole service's metrics, which the primary aggregates (lib/cluster-metrics.ts), and
 * with METRICS_PORT the primary, not the worker, serves that port.
 */

/** The problem codes of refused credentials: the bounded `reason` of taskforge_auth_failures_total. */
const AUTH_FAILURES = new Set<ProblemCode>([
  'unauthorized',
  'invalid_token',
  'token_expired',
  'token_revoked',
  'account_disabled',
  'invalid_credentials',
  'refresh_token_reused',
  'refresh_token_expired',
]);

const DESCRIPTION =
  'Prometheus text format (exposition format 0.0.4): request counts and duration histograms by method, route template and status, process and event-loop metrics, the database pool, rate-limit rejections and fail-opens, auth failures by reason, the stats cache, the job queue, webhook deliveries and open event streams (README, Observability, lists every name). With `WEB_CONCURRENCY` above 1 it reports the whole service: counters and histograms summed over the workers (README, Observability, says how each gauge is combined); 503 `not_ready` when a worker does not answer within 3.5 s. **Security**: public by default, like the probes: it names routes and volumes but no user, id or secret. Set `METRICS_PORT` to serve it on a port of its own instead (same host), kept off the public network; this path then answers 404 here.';

export interface MetricsListener {
  /** The port it listens on (METRICS_PORT, or the one the system chose for 0). */
  port(): number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The METRICS_PORT listener once the app is ready; null without METRICS_PORT. */
    metricsListener: MetricsListener | null;
  }
}

/** A cluster worker's part in the service's metrics (server.ts). */
export interface ClusterMetrics {
  /** Hands this app's metrics to the primary's scrapes. */
  share: (metrics: Metrics) => void;
  /** The service's metrics, aggregated by the primary; rejects with `not_ready` in time. */
  scrape: () => Promise<string>;
}

export async function installMetrics(
  app: FastifyInstance,
  ctx: AppContext,
  clusterMetrics?: ClusterMetrics,
): Promise<void> {
  const { metrics, config } = ctx;
  app.addHook('onResponse', (request, reply, done) => {
    const template = request.is404 ? undefined : request.routeOptions.url;
    metrics.request(request.method, template ?? UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  app.addHook('onError', (_request, _reply, error, done) => {
    if (error instanceof ApiError && AUTH_FAILURES.has(error.code)) metrics.authFailed(error.code);
    done();
  });

  clusterMetrics?.share(metrics);
  if (config.metricsPort !== null && clusterMetrics) {
    // The primary serves METRICS_PORT for every worker.
    app.decorate('metricsListener', null);
    return;
  }
  if (config.metricsPort === null) {
    app.decorate('metricsListener', null);
    const render = clusterMetrics ? clusterMetrics.scrape : () => metrics.render();
    app.get(
      '/metrics',
      {
        // Scrapes go on under load: that is when they matter (like the probes).
        config: { loadShedding: 'exempt' },
        schema: {
          tags: ['health'],
          operationId: 'metrics',
          summary: 'Metrics of the service, in the Prometheus text format',
          description: DESCRIPTION,
          security: [],
          response: {
            200: {
              description: 'Every metric family with its HELP and TYPE lines',
              content: { 'text/plain; version=0.0.4': { schema: { type: 'string', maxLength: 10_000_000 } } },
            },
            ...problemResponses(503),
          },
        },
      },
      async (_request, reply) => {
        const text = await render();
        reply.type(METRICS_CONTENT_TYPE);
        return text;
      },
    );
    return;
  }

  let listener: OwnListener | null = null;
  app.decorate('metricsListener', { port: () => listener?.port() ?? 0 });
  app.addHook('onReady', async () => {
    listener = await listenForMetrics(() => metrics.render(), {
      host: config.host,
      port: config.metricsPort ?? 0,
      publicUrl: config.publicUrl,
    });
  });
  app.addHook('onClose', async () => listener?.close());
}

export interface OwnListener extends MetricsListener {
  /** Stops it: a scrape in flight finishes, an idle kept-alive connection closes now. */
  close(): Promise<void>;
}

/**
 * The METRICS_PORT listener of a process: the app's (above), `npm run worker`'s, whose job
 * metrics are counted where the jobs run, or a cluster primary's (every worker's, aggregated).
 * Rejects when the port cannot be taken (EADDRINUSE).
 */
export async function listenForMetrics(
  render: () => Promise<string>,
  options: { host: string; port: number; publicUrl: string },
): Promise<OwnListener> {
  const server = metricsServer(render, options.publicUrl);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: () => (server.address() as AddressInfo).port,
    async close() {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Prometheus keeps its connection open between scrapes.
      server.closeIdleConnections();
      await closed;
    },
  };
}

/** The METRICS_PORT listener: GET and HEAD /metrics, problem+json for anything else. */
function metricsServer(render: () => Promise<string>, publicUrl: string): Server {
  const problem = (res: ServerResponse, path: string, error: ApiError) => {
    const requestId = uuidv7();
    const body = JSON.stringify(problemBody(publicUrl, error, path, requestId));
    res.writeHead(error.status, {
      ...error.headers,
      'content-type': 'application/problem+json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': API_CSP,
      'x-request-id': requestId,
    });
    res.end(body);
  };
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path !== '/metrics') {
      problem(res, path, new ApiError('not_found'));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      problem(res, path, new ApiError('method_not_allowed', { headers: { allow: 'GET, HEAD' } }));
      return;
    }
    render().then(
      (text) => {
        res.writeHead(200, {
          'content-type': METRICS_CONTENT_TYPE,
          'content-length': Buffer.byteLength(text),
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
        });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      // A cluster primary whose workers did not all answer: 503 not_ready.
      (error: unknown) =>
        problem(res, path, error instanceof ApiError ? error : new ApiError('internal_error')),
    );
  });
}
