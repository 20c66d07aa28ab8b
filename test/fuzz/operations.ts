import type { FastifyInstance } from 'fastify';
import { defineModule, type Module } from '../../src/lib/module.js';

/**
 * The operations of the app as its own OpenAPI document lists them, so routes added later are
 * fuzzed without editing the tests, and a recorder of which route answered each request.
 */
export type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  enum?: unknown[];
  examples?: unknown[];
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  $ref?: string;
  'x-read-only'?: string[];
};

export interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  schema: Schema;
}

export interface Operation {
  method: string;
  /** The OpenAPI path, `{id}` style. */
  path: string;
  /** The Fastify route template, `:id` style (what the recorder sees). */
  route: string;
  parameters: Parameter[];
  /** Media type → schema of the request body; empty when the operation takes none. */
  bodies: Record<string, Schema>;
  secured: boolean;
  statuses: Set<number>;
}

type Document = {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Parameter[];
        requestBody?: { content?: Record<string, { schema: Schema }> };
        responses: Record<string, unknown>;
        security?: unknown[];
      }
    >
  >;
};

export async function operationsOf(app: FastifyInstance): Promise<Operation[]> {
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  if (res.statusCode !== 200) throw new Error(`GET /openapi.json answered ${res.statusCode}`);
  const document = res.json() as Document;
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      operations.push({
        method: method.toUpperCase(),
        path,
        route: path.replace(/\{(\w+)\}/g, ':$1'),
        parameters: operation.parameters ?? [],
        bodies: Object.fromEntries(
          Object.entries(operation.requestBody?.content ?? {}).map(([type, { schema }]) => [type, schema]),
        ),
        secured: (operation.security ?? []).length > 0,
        statuses: new Set(Object.keys(operation.responses).map(Number)),
      });
    }
  }
  return operations;
}

/** Marks a request so the recorder knows it: `{ [CASE_HEADER]: '<n>' }`. */
export const CASE_HEADER = 'x-fuzz-case';

/** The route (template) and method that took each marked request (the 404 handler has none). */
export interface RouteRecorder {
  module: Module;
  answeredBy(caseId: string): { method: string; route: string | undefined } | undefined;
}

export function routeRecorder(): RouteRecorder {
  const seen = new Map<string, { method: string; route: string | undefined }>();
  return {
    module: defineModule({
      name: 'fuzz-route-recorder',
      install: async (app) => {
        app.addHook('onRequest', async (request) => {
          const id = request.headers[CASE_HEADER];
          if (typeof id !== 'string') return;
          if (seen.size > 10_000) seen.clear();
          seen.set(id, { method: request.method, route: request.routeOptions.url });
        });
      },
    }),
    answeredBy: (caseId) => seen.get(caseId),
  };
}
