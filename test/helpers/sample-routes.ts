import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { MULTILINE_TEXT_PATTERN, SAFE_TEXT_PATTERN } from '../../src/lib/text.js';

/** A small resource that exercises the validation and error machinery the real resources use. */
const SampleBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200, pattern: SAFE_TEXT_PATTERN, 'x-trim': true }),
    description: Type.Optional(Type.String({ maxLength: 10_000, pattern: MULTILINE_TEXT_PATTERN })),
    status: Type.Optional(Type.String({ enum: ['todo', 'in_progress', 'done'] })),
    dueAt: Type.Optional(Type.Union([Type.String({ format: 'date-time', maxLength: 40 }), Type.Null()])),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 32 }), { maxItems: 20 })),
    count: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
  },
  { additionalProperties: false, 'x-read-only': ['id', 'version'] },
);

const SampleQuery = Type.Object(
  {
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
    status: Type.Optional(
      Type.Array(Type.String({ enum: ['todo', 'in_progress', 'done'] }), { maxItems: 3 }),
    ),
    q: Type.Optional(Type.String({ maxLength: 200, pattern: SAFE_TEXT_PATTERN })),
  },
  { additionalProperties: false },
);

export async function sampleRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.post('/samples', { schema: { body: SampleBody }, bodyLimit: 65_536 }, async (request, reply) =>
    reply.code(201).send(request.body),
  );
  app.patch(
    '/samples/:id',
    {
      schema: {
        body: Type.Partial(SampleBody),
        params: Type.Object({ id: Type.String({ pattern: '^[0-9]+$' }) }),
      },
    },
    async (request) => ({ id: request.params.id, ...request.body }),
  );
  app.get('/samples', { schema: { querystring: SampleQuery } }, async (request) => ({
    query: request.query,
  }));
  app.delete('/samples/:id', async (_request, reply) => reply.code(204).send());
  app.get('/boom', async () => {
    throw new Error('database password=hunter2 at /srv/app/secret.ts:42');
  });
}
