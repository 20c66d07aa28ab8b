import type { Dialect as KyselyDialect } from 'kysely';

/**
 * What the app needs of tracing (OTEL_EXPORTER_OTLP_ENDPOINT set): src/telemetry.ts builds it
 * once the SDK runs, and server.ts hands it to buildApp. Without it nothing of OpenTelemetry is
 * loaded, no hook is installed and the database is not wrapped: tracing off costs nothing.
 */
export interface RequestTracing {
  /** The dialect with a span per SQL statement (`system` is OpenTelemetry's `db.system.name`). */
  instrumentDialect(dialect: KyselyDialect, system: 'sqlite' | 'postgresql'): KyselyDialect;
  /** Gives the current request's span its route template: `GET /api/v1/tasks/:id`, `http.route`. */
  setRoute(route: string): void;
  /** The ids of the span the caller runs in, for log lines (`trace_id`, `span_id`); none outside one. */
  currentIds(): { trace_id: string; span_id: string } | null;
}
