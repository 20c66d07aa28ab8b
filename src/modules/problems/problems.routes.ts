import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import { ApiError, PROBLEMS, problemFromSlug, problemSlug } from '../../errors.js';
import { problemResponses } from '../../lib/common-schemas.js';
import type { RootOptions } from '../../lib/module.js';
import { MULTILINE_TEXT_PATTERN, SAFE_TEXT_PATTERN } from '../../lib/text.js';

const ProblemType = Type.Object(
  {
    type: Type.String({ format: 'uri', maxLength: 500 }),
    code: Type.String({ maxLength: 40, pattern: '^[a-z_]+$' }),
    status: Type.Integer({ minimum: 400, maximum: 599, format: 'int32' }),
    title: Type.String({ maxLength: 200, pattern: SAFE_TEXT_PATTERN }),
    description: Type.String({ maxLength: 1000, pattern: SAFE_TEXT_PATTERN }),
  },
  { $id: 'ProblemType', additionalProperties: false },
);

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function wantsJson(accept: string | undefined): boolean {
  if (!accept) return false;
  const json = /application\/(problem\+)?json/i.test(accept);
  return json && !/text\/html/i.test(accept.split(',')[0] ?? '');
}

/** GET /problems/{slug}: what a problem type means, as HTML for people or JSON for programs. */
export const problemsRoutes: FastifyPluginAsync<RootOptions> = async (fastify, { ctx }) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/problems/:slug',
    {
      schema: {
        tags: ['problems'],
        operationId: 'getProblemType',
        summary: 'Describe one problem type (HTML, or JSON with Accept: application/json)',
        description:
          'The `type` URI of every problem details body points here. `slug` is the problem `code` with dashes for underscores (`validation_failed` → `validation-failed`); an unknown slug answers 404 `not_found`.',
        // The links in error bodies must open without credentials.
        security: [],
        params: Type.Object({ slug: Type.String({ maxLength: 64, pattern: '^[a-z-]+$' }) }),
        response: {
          200: {
            description: 'The problem type',
            content: {
              'application/json': { schema: ProblemType },
              'text/html': { schema: Type.String({ maxLength: 10_000, pattern: MULTILINE_TEXT_PATTERN }) },
            },
          },
          ...problemResponses(404),
        },
      },
    },
    async (request, reply) => {
      const code = problemFromSlug(request.params.slug);
      if (!code) throw new ApiError('not_found');
      const { status, title, description } = PROBLEMS[code];
      const type = `${ctx.config.publicUrl}/problems/${problemSlug(code)}`;
      // Cacheable for an hour by anyone (cache-policy.ts); the body follows Accept.
      reply.header('vary', 'Accept');
      if (wantsJson(request.headers.accept)) {
        return reply.type('application/json').send({ type, code, status, title, description });
      }
      const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><h1>${escapeHtml(title)}</h1>
<p><code>${code}</code> · HTTP ${status}</p>
<p>${escapeHtml(description)}</p>
</body></html>
`;
      return reply.type('text/html; charset=utf-8').send(html);
    },
  );
};
