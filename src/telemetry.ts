import { createRequire, syncBuiltinESMExports } from 'node:module';
import { context, trace } from '@opentelemetry/api';
import { getRPCMetadata, RPCType } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { tracedDialect } from './db/traced-dialect.js';
import { serviceVersion } from './lib/package-info.js';
import type { RequestTracing } from './lib/tracing.js';

/**
 * OpenTelemetry tracing, started by server.ts before it imports the app (OTEL_EXPORTER_OTLP_ENDPOINT
 * set): a span per request (instrumentation-http, named by the route template the app reports),
 * per SQL statement (db/traced-dialect.ts), per Redis command (instrumentation-ioredis) and per
 * outgoing HTTP request (webhook deliveries, which carry `traceparent`). Spans leave in batches
 * over OTLP/HTTP; the SDK's own OTEL_* variables (OTEL_BSP_*, OTEL_TRACES_SAMPLER,
 * OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES, …) apply.
 */
export interface Telemetry extends RequestTracing {
  /** Sends the spans still buffered, then stops (graceful shutdown). */
  shutdown(): Promise<void>;
}

const REDACTED = 'REDACTED';

/** A query string with every value replaced: the names help, the values may be secrets. */
export function redactQuery(search: string): string {
  const names = [...new URLSearchParams(search).keys()];
  return names.map((name) => `${encodeURIComponent(name)}=${REDACTED}`).join('&');
}

/** The OTLP exporter for OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL: the spec's default is http/protobuf. */
function exporterFor(env: Record<string, string | undefined>, url: string) {
  const protocol =
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf';
  if (protocol === 'http/protobuf') return new ProtobufTraceExporter({ url });
  if (protocol === 'http/json') return new JsonTraceExporter({ url });
  throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json, got "${protocol}"`);
}

/** The traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, else the endpoint + `/v1/traces`. */
export function tracesUrl(endpoint: string, env: Record<string, string | undefined>): string {
  return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

export function startTelemetry(endpoint: string, env: Record<string, string | undefined>): Telemetry {
  const resource = resourceFromAttributes({
    'service.name': 'taskforge',
    'service.version': serviceVersion(),
  }).merge(detectResources({ detectors: [envDetector] })); // OTEL_SERVICE_NAME wins
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(exporterFor(env, tracesUrl(endpoint, env)))],
  });
  provider.register(); // W3C traceparent/tracestate and baggage, AsyncLocalStorage context
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        // The query may carry secrets: its names are kept, never its values.
        startIncomingSpanHook: (request) => {
          const search = (request.url ?? '').split('?')[1];
          return search === undefined ? {} : { 'url.query': redactQuery(search) };
        },
        startOutgoingSpanHook: (options) => {
          const [path = '/', search] = (options.path ?? '/').split('?');
          const port = options.port ? `:${options.port}` : '';
          const query = search === undefined ? '' : `?${redactQuery(search)}`;
          return {
            'url.full': `${options.protocol ?? 'http:'}//${options.hostname ?? options.host}${port}${path}${query}`,
          };
        },
      }),
      // Commands only inside a span (a request's): the subscriptions' heartbeats stay out. The
      // statement is the command's name: keys hold ids and addresses, values hold anything.
      new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
    ],
  });
  // The instrumentations patch the CommonJS exports. ioredis is CommonJS, so loading it here patches
  // the prototype the app's `import` gets; `node:http`'s ESM named exports (`import { request }`)
  // follow the patched functions only once synced. Both before the app's modules are imported.
  const require = createRequire(import.meta.url);
  require('node:http');
  require('node:https');
  require('ioredis');
  syncBuiltinESMExports();

  const tracer = provider.getTracer('taskforge', serviceVersion());
  return {
    instrumentDialect: (dialect, system) => tracedDialect(dialect, tracer, system),
    setRoute(route) {
      const metadata = getRPCMetadata(context.active());
      if (metadata?.type === RPCType.HTTP) metadata.route = route;
    },
    currentIds() {
      const span = trace.getSpan(context.active());
      if (!span) return null;
      const { traceId, spanId } = span.spanContext();
      return { trace_id: traceId, span_id: spanId };
    },
    shutdown: () => provider.shutdown(),
  };
}
