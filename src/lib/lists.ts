import { type Static, type TObject, type TProperties, type TSchema, Type } from '@sinclair/typebox';
import type { FastifyContextConfig, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiVersion } from './api-version.js';
import { Count, problemResponses } from './common-schemas.js';

/**
 * Lists, the same in every resource: version 1 pages by number (`page`, `size`, a total), version
 * 2 by an opaque signed cursor (`limit`, `cursor`, `nextCursor` and a `Link` to the next page). One
 * declaration (`listRoute`) gives a resource both routes with the same filters.
 */

/** A version 1 page. */
export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  size: number;
  pages: number;
}

/** A version 2 page: `nextCursor` is null exactly when nothing follows. */
export interface CursorPage<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PageRequest {
  page: number;
  size: number;
}

export interface CursorRequest {
  limit: number;
  cursor: string | undefined;
}

export function pageOf<T>(items: T[], total: number, { page, size }: PageRequest): Page<T> {
  return { items, total, page, size, pages: Math.ceil(total / size) };
}

/** A v1 page of items: `{ items, total, page, size, pages }`. */
export function PageOf<T extends TSchema>(item: T, $id: string) {
  return Type.Object(
    {
      items: Type.Array(Type.Ref(item), { maxItems: 100 }),
      total: Count(),
      page: Type.Integer({ minimum: 1, maximum: 1_000_000, format: 'int32' }),
      size: Type.Integer({ minimum: 1, maximum: 100, format: 'int32' }),
      pages: Count({ description: 'ceil(total / size)' }),
    },
    { $id, additionalProperties: false },
  );
}

/** A version 2 page: the items, and the cursor of the next page (null exactly when none follows). */
export function CursorPageOf<T extends TSchema>(item: T, $id: string) {
  return Type.Object(
    {
      items: Type.Array(Type.Ref(item), { maxItems: 100 }),
      nextCursor: Type.Union([
        Type.String({ maxLength: 2000, description: 'opaque; pass as ?cursor=' }),
        Type.Null(),
      ]),
    },
    { $id, additionalProperties: false },
  );
}

/** Version 1 list parameters. */
export const PageParams = {
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1, format: 'int32' })),
  size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20, format: 'int32' })),
};

/** Version 2 list parameters. A cursor has no pattern: a malformed one is 400 invalid_cursor, not a 422. */
export const CursorParams = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20, format: 'int32' })),
  cursor: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 2000,
      description: 'nextCursor of the previous page (opaque, signed)',
    }),
  ),
};

/** A version 1 list's query: the paging parameters, then the list's own. */
export function pageQuery<F extends TProperties>(filters: F) {
  return Type.Object({ ...PageParams, ...filters }, { additionalProperties: false });
}

/** A version 2 list's query: the cursor parameters, then the list's own. */
export function cursorQuery<F extends TProperties>(filters: F) {
  return Type.Object({ ...CursorParams, ...filters }, { additionalProperties: false });
}

/** The 200 of a version 2 list: the page, and `Link` to the next one while there is one. */
export function cursorPageResponse(page: TSchema, what: string, headers: Record<string, TSchema> = {}) {
  return {
    description: `A page of ${what} and the cursor of the next one`,
    headers: {
      ...headers,
      Link: Type.String({
        maxLength: 4000,
        description: `RFC 8288: <PUBLIC_URL/api/v2/${what}?…&cursor=…>; rel="next"`,
      }),
    },
    content: { 'application/json': { schema: Type.Ref(page) } },
  };
}

/** A version 2 page for the reply: `Link` to the next page while there is one. */
export function withNextLink<T extends { nextCursor: string | null }>(reply: FastifyReply, page: T): T {
  const { request } = reply;
  if (page.nextCursor)
    reply.header('link', nextLink(request.server.config.publicUrl, request.url, page.nextCursor));
  return page;
}

/** RFC 8288 `Link` to the next page: the same request with the new cursor. */
function nextLink(publicUrl: string, url: string, cursor: string): string {
  const [path = '', query = ''] = url.split('?');
  const params = new URLSearchParams(query);
  params.set('cursor', cursor);
  return `<${publicUrl}${path}?${params.toString()}>; rel="next"`;
}

/** A resource's list, declared once for both versions. */
export interface ListRoute<F extends TProperties, T> {
  url: string;
  operationId: string;
  tags: string[];
  security: Record<string, string[]>[];
  config: FastifyContextConfig;
  /** The items, plural (`tasks`): the docs say "A page of tasks". */
  what: string;
  summary: Record<ApiVersion, string>;
  /** Both versions' description; version 2 adds how its cursors work. */
  description?: string;
  /** What a cursor is bound to besides its list (never the limit): "the caller and the filters". */
  cursorBinding: string;
  /** A sentence more for version 2 only. */
  cursorNote?: string;
  /** The query parameters besides the paging ones, the same in both versions. */
  filters: F;
  /** The path parameters of a list under another resource (`/tasks/:taskId/comments`). */
  params?: TSchema;
  pageSchema: TSchema;
  cursorPageSchema: TSchema;
  /** Headers of the 200 reply, in both versions. */
  headers?: Record<string, TSchema>;
  /** The problem statuses of both versions; version 2 adds 400 (invalid_cursor). */
  problems: number[];
  page(request: FastifyRequest, filters: Static<TObject<F>>, page: PageRequest): Promise<Page<T>>;
  cursorPage(
    request: FastifyRequest,
    filters: Static<TObject<F>>,
    cursor: CursorRequest,
  ): Promise<CursorPage<T>>;
}

/**
 * The filters a query gives, in the order the list declares them (not the order of the query
 * string), so a cursor's binding does not depend on how a client orders its parameters.
 */
function filtersOf<F extends TProperties>(declared: F, query: Record<string, unknown>): Static<TObject<F>> {
  const given = Object.keys(declared).filter((name) => query[name] !== undefined);
  // The query has passed the schema built from `declared`, so each value is of its declared type.
  return Object.fromEntries(given.map((name) => [name, query[name]])) as Static<TObject<F>>;
}

/** Registers the list of `spec` as `version` serves it: a numbered page (v1) or a cursor page (v2). */
export function listRoute<F extends TProperties, T>(
  app: FastifyInstance,
  version: ApiVersion,
  spec: ListRoute<F, T>,
): void {
  const common = {
    tags: spec.tags,
    operationId: spec.operationId,
    summary: spec.summary[version],
    security: spec.security,
  };
  if (version === 'v1') {
    app.get(
      spec.url,
      {
        config: spec.config,
        schema: {
          ...common,
          ...(spec.description ? { description: spec.description } : {}),
          ...(spec.params ? { params: spec.params } : {}),
          querystring: pageQuery(spec.filters),
          response: {
            200: {
              description: `A page of ${spec.what}`,
              ...(spec.headers ? { headers: spec.headers } : {}),
              content: { 'application/json': { schema: Type.Ref(spec.pageSchema) } },
            },
            ...problemResponses(...spec.problems),
          },
        },
      },
      async (request) => {
        // The schema above has validated the query (and filled in the defaults).
        const query = request.query as Record<string, unknown> & Partial<PageRequest>;
        const { page = 1, size = 20 } = query;
        return spec.page(request, filtersOf(spec.filters, query), { page, size });
      },
    );
    return;
  }
  const cursors = `\`nextCursor\` is null exactly when nothing follows; while it is not, \`Link: <…>; rel="next"\` names the next page. A cursor is bound to ${spec.cursorBinding} (not to \`limit\`): another one → 400 invalid_cursor.`;
  app.get(
    spec.url,
    {
      config: spec.config,
      schema: {
        ...common,
        description: [spec.description, cursors, spec.cursorNote].filter(Boolean).join(' '),
        ...(spec.params ? { params: spec.params } : {}),
        querystring: cursorQuery(spec.filters),
        response: {
          200: cursorPageResponse(spec.cursorPageSchema, spec.what, spec.headers),
          ...problemResponses(400, ...spec.problems),
        },
      },
    },
    async (request, reply) => {
      // The schema above has validated the query (and filled in the defaults).
      const query = request.query as Record<string, unknown> & { limit?: number; cursor?: string };
      const { limit = 20, cursor } = query;
      return withNextLink(
        reply,
        await spec.cursorPage(request, filtersOf(spec.filters, query), { limit, cursor }),
      );
    },
  );
}
