import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { PROBLEM_CODES } from '../errors.js';

/**
 * The OpenAPI 3.1 document, generated from the route schemas, and the two pages that render it.
 * Everything is served from installed packages: no page requests anything from another host.
 */

export const API_VERSIONS = ['v1', 'v2'] as const;

interface OpenApiDocument {
  paths?: Record<string, unknown>;
  [key: string]: unknown;
}

/** One version's document: its own paths, the shared components. */
export function documentForVersion(full: OpenApiDocument, version: string): OpenApiDocument {
  const prefix = `/api/${version}/`;
  const paths = Object.fromEntries(
    Object.entries(full.paths ?? {}).filter(([path]) => path.startsWith(prefix)),
  );
  return { ...full, info: { ...(full.info as object), version: `${version}` }, paths };
}

const DESCRIPTION = `Taskforge: a task-management REST API.

Errors are RFC 9457 problem details (\`application/problem+json\`) with a stable \`code\`; each code's
description is at \`/problems/{code with dashes}\`. Codes: ${PROBLEM_CODES.map((c) => `\`${c}\``).join(', ')}.`;

const REDOC_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Taskforge API reference</title>
<link rel="icon" href="data:,">
</head>
<body>
<redoc spec-url="/openapi.json"></redoc>
<script src="/redoc/redoc.standalone.js"></script>
</body>
</html>
`;

// ReDoc's bundle loads its logo from a CDN; a blank inline image keeps every request on this host.
const BLANK_SVG = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E";

async function loadRedocBundle(): Promise<string> {
  const require = createRequire(import.meta.url);
  const path = require.resolve('redoc/bundles/redoc.standalone.js');
  const source = await readFile(path, 'utf8');
  return source.replaceAll('https://cdn.redoc.ly/redoc/logo-mini.svg', BLANK_SVG);
}

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Taskforge API', version: '1.0.0', description: DESCRIPTION },
      servers: [{ url: app.config.publicUrl }],
      components: {},
    },
    refResolver: {
      // Name shared schemas by their $id instead of def-N.
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
  });
}

/** Registered after every route, so the document lists them all. */
export async function registerDocsRoutes(app: FastifyInstance): Promise<void> {
  const hidden = { schema: { hide: true }, config: { docs: true } } as const;
  app.get('/openapi.json', hidden, async () => app.swagger());
  for (const version of API_VERSIONS) {
    app.get(`/openapi/${version}.json`, hidden, async () =>
      documentForVersion(app.swagger() as OpenApiDocument, version),
    );
  }

  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: {
      urls: API_VERSIONS.map((v) => ({ url: `/openapi/${v}.json`, name: v })),
      deepLinking: true,
      persistAuthorization: false,
      displayRequestDuration: true,
    },
    validatorUrl: false, // rendered as null: no call to the public validator
    staticCSP: false,
    theme: { title: 'Taskforge API docs' },
  });

  const bundle = await loadRedocBundle();
  app.get('/redoc', hidden, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(REDOC_HTML),
  );
  app.get('/redoc/redoc.standalone.js', hidden, async (_request, reply) =>
    reply
      .type('application/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .send(bundle),
  );
}
