import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ApiError } from '../../errors.js';
import { problemResponses } from '../../lib/common-schemas.js';
import type { RootOptions } from '../../lib/module.js';

const Live = Type.Object(
  { status: Type.String({ enum: ['ok'] }) },
  { $id: 'HealthLive', description: 'The process runs' },
);
const Ready = Type.Object(
  {
    status: Type.String({ enum: ['ok', 'degraded'] }),
    checks: Type.Object({
      database: Type.String({ enum: ['ok', 'down'] }),
      schema: Type.String({
        enum: ['ok', 'ahead'],
        description:
          '`ok`: the schema this version expects; `ahead`: a newer version has migrated it (served as is, status stays `ok`, and logged), as during a rolling deploy',
      }),
      redis: Type.String({ enum: ['ok', 'down', 'absent'] }),
    }),
  },
  {
    $id: 'HealthReady',
    description:
      'The database answers with the expected schema or a newer one; a Redis that is down only degrades the service',
  },
);

export const healthRoutes: FastifyPluginAsync<RootOptions> = async (app, { ctx }) => {
  const { health } = ctx.services;
  app.get(
    '/health/live',
    {
      // Liveness answers while the process runs, however slow its event loop (docs: readiness).
      config: { loadShedding: 'exempt' },
      schema: {
        tags: ['health'],
        operationId: 'healthLive',
        summary: 'Liveness: 200 while the process runs',
        description:
          'For liveness probes: answers as long as the process can serve HTTP, without touching the database or Redis, and however loaded the process is (never 503 overloaded).',
        // Probes carry no credentials.
        security: [],
        response: { 200: Live },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    {
      // Readiness reports the database and the schema, not the load: taking an overloaded instance
      // out of rotation moves its load onto the others, and they fall in turn. The API routes
      // shed load themselves, request by request (503 overloaded).
      config: { loadShedding: 'exempt' },
      schema: {
        tags: ['health'],
        operationId: 'healthReady',
        summary:
          'Readiness: 200 while the database answers with a usable schema; 503 when it does not, when its schema is behind, or while shutting down',
        description:
          'For readiness probes and load balancers. `checks` reports each dependency; Redis being down only degrades the service (`status: degraded`). A schema migrated by a newer version is `schema: ahead` and still 200 with `status: ok` (a rolling deploy runs the previous version beside the new one). A database that does not answer, a schema behind the code (run `npm run migrate`; the service starts with `MIGRATE_ON_START=false` but is not ready), or a shutdown in progress gives 503 `not_ready` with Retry-After, its `detail` naming the failing check. It reports those, not the load: it is never refused with 503 `overloaded`.',
        security: [],
        response: { 200: Ready, ...problemResponses(503) },
      },
    },
    async () => {
      const report = await health.readiness();
      if (report.failing) {
        throw new ApiError('not_ready', { detail: report.failing, headers: { 'retry-after': '5' } });
      }
      return report.body;
    },
  );
};
