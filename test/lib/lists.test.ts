import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSIONS } from '../../src/lib/api-version.js';
import { CursorPageOf, listRoute, PageOf } from '../../src/lib/lists.js';
import { defineModule } from '../../src/lib/module.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';

/** listRoute: one declaration, a v1 page route and a v2 cursor route, with path parameters and filters. */

const Item = Type.Object(
  { box: Type.String({ maxLength: 10 }), filters: Type.Array(Type.String({ maxLength: 10 })) },
  {
    $id: 'ListsTestItem',
    additionalProperties: false,
  },
);

const boxesModule = defineModule({
  name: 'boxes',
  tag: { name: 'boxes', description: 'A list under another resource, for the lists helper tests' },
  schemas: [Item, PageOf(Item, 'ListsTestItemPage'), CursorPageOf(Item, 'ListsTestItemCursorPage')],
  routes: async (app: FastifyInstance, { version }) => {
    const answer = (request: { params: unknown }, filters: object) => ({
      box: (request.params as { box: string }).box,
      filters: Object.keys(filters),
    });
    listRoute(app, version, {
      url: '/boxes/:box/items',
      operationId: 'listItems',
      tags: ['boxes'],
      security: [],
      config: {},
      what: 'items',
      summary: { v1: 'A page of items', v2: 'Items by cursor' },
      cursorBinding: 'nothing',
      params: Type.Object({ box: Type.String({ maxLength: 10, pattern: '^[a-z]+$' }) }),
      filters: {
        a: Type.Optional(Type.String({ maxLength: 5, pattern: '^[a-z]+$' })),
        b: Type.Optional(Type.String({ maxLength: 5, pattern: '^[a-z]+$' })),
      },
      pageSchema: PageOf(Item, 'ListsTestItemPage'),
      cursorPageSchema: CursorPageOf(Item, 'ListsTestItemCursorPage'),
      problems: [422, 500],
      page: async (request, filters, page) => ({
        items: [answer(request, filters)],
        total: 1,
        page: page.page,
        size: page.size,
        pages: 1,
      }),
      cursorPage: async (request, filters) => ({ items: [answer(request, filters)], nextCursor: null }),
    });
  },
});

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ modules: [boxesModule] });
});
afterAll(async () => t.close());

describe('listRoute', () => {
  it.each(API_VERSIONS)(
    '%s: takes the path parameters of a nested list, validated (a bad one names nothing: 404)',
    async (version) => {
      const ok = await t.app.inject({ method: 'GET', url: `/api/${version}/boxes/red/items` });
      expect(ok.statusCode).toBe(200);
      expect(ok.json().items).toEqual([{ box: 'red', filters: [] }]);
      const bad = await t.app.inject({ method: 'GET', url: `/api/${version}/boxes/RED1/items` });
      expect(bad.statusCode).toBe(404);
      const doc = (await t.app.inject({ method: 'GET', url: `/openapi/${version}.json` })).json() as {
        paths: Record<string, { get?: { parameters?: { in: string; name: string }[] } }>;
      };
      const parameters = doc.paths[`/api/${version}/boxes/{box}/items`]?.get?.parameters ?? [];
      expect(parameters).toContainEqual(expect.objectContaining({ in: 'path', name: 'box' }));
    },
  );

  it.each(API_VERSIONS)(
    '%s: hands the filters over in their declared order, whatever the query string’s',
    async (version) => {
      const res = await t.app.inject({ method: 'GET', url: `/api/${version}/boxes/red/items?b=x&a=y` });
      expect(res.statusCode).toBe(200);
      expect(res.json().items).toEqual([{ box: 'red', filters: ['a', 'b'] }]);
    },
  );
});
