import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { API_VERSIONS } from '../../lib/api-version.js';
import type { RootOptions } from '../../lib/module.js';
import { serviceVersion } from '../../lib/package-info.js';

const Link = (description: string) => Type.String({ format: 'uri', maxLength: 2000, description });

const ServiceInfo = Type.Object(
  {
    name: Type.String({ enum: ['Taskforge'] }),
    version: Type.String({ maxLength: 64, pattern: '^[0-9A-Za-z.+-]+$', description: 'the service version' }),
    docs: Link('Swagger UI: PUBLIC_URL/docs'),
    openapi: Link('the OpenAPI 3.1 document of every version: PUBLIC_URL/openapi.json'),
    versions: Type.Array(Link('the base URL of one API version'), { maxItems: 10 }),
  },
  {
    $id: 'ServiceInfo',
    additionalProperties: false,
    description: 'What answers here, and where its docs are',
  },
);

/** GET /: so a person who opens the base URL finds the docs. */
export const rootRoutes: FastifyPluginAsync<RootOptions> = async (app, { ctx }) => {
  const { publicUrl } = ctx.config;
  const body = {
    name: 'Taskforge' as const,
    version: serviceVersion(),
    docs: `${publicUrl}/docs`,
    openapi: `${publicUrl}/openapi.json`,
    versions: API_VERSIONS.map((version) => `${publicUrl}/api/${version}`),
  };
  app.get(
    '/',
    {
      schema: {
        tags: ['about'],
        operationId: 'getServiceInfo',
        summary: 'The service, its version, and links to its docs and API versions',
        description:
          'A starting point: the name and version of the service, and the addresses of its docs (Swagger UI), its OpenAPI document and each API version. Takes no credentials.',
        security: [],
        response: { 200: ServiceInfo },
      },
    },
    async () => body,
  );
};
