/**
 * A Postman Collection v2.1 (importable by Postman and Insomnia) made from the OpenAPI document:
 * a folder per tag in the document's order, `{{baseUrl}}` and a bearer `{{accessToken}}` as
 * collection variables, path parameters as `:name`, query and header parameters listed (off
 * unless required), and example bodies built from the request schemas' own examples.
 * Deterministic: the same document gives the same bytes (the staleness test relies on it).
 */

import { join } from 'node:path';

/** Where the export is committed (npm run generate:collection writes it). */
export const COLLECTION_FILE = join(
  import.meta.dirname,
  '..',
  'requests',
  'taskforge.postman_collection.json',
);

/** The file's text: two-space JSON and a final newline. */
export function collectionText(collection: unknown): string {
  return `${JSON.stringify(collection, null, 2)}\n`;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = { [key: string]: Json };

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  description?: string;
  schema?: Schema;
}

interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  parameters?: Parameter[];
  security?: Json[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

export interface OpenApiDocument {
  info: { title: string; version: string; description?: string };
  servers?: { url: string }[];
  tags?: { name: string; description?: string }[];
  paths: Record<string, Record<string, Operation | Parameter[]>>;
  components?: { schemas?: Record<string, Schema> };
}

export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

const SCHEMA_URL = 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json';

function resolve(doc: OpenApiDocument, schema: Schema): Schema {
  const ref = schema.$ref;
  if (typeof ref !== 'string') return schema;
  const name = ref.replace('#/components/schemas/', '');
  return doc.components?.schemas?.[name] ?? {};
}

/** An example value of a schema: its own example first, then one built from its parts. */
export function exampleOf(doc: OpenApiDocument, given: Schema, depth = 0): Json {
  const schema = resolve(doc, given);
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0] ?? null;
  if (schema.example !== undefined) return schema.example;
  if (schema.format === 'password') return '{{password}}';
  if (schema.default !== undefined) return schema.default;
  if (Array.isArray(schema.enum)) return schema.enum[0] ?? null;
  if (depth > 5) return null;
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = schema[key];
    if (Array.isArray(options)) {
      const option = options.find(
        (o) => typeof o === 'object' && o !== null && !Array.isArray(o) && o.type !== 'null',
      );
      if (option && typeof option === 'object' && !Array.isArray(option))
        return exampleOf(doc, option, depth + 1);
    }
  }
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const required = Array.isArray(schema.required) ? schema.required : [];
      const body: { [key: string]: Json } = {};
      for (const [name, property] of Object.entries(properties)) {
        const resolved = resolve(doc, property);
        // Required fields always; optional ones when their schema shows an example.
        if (required.includes(name) || Array.isArray(resolved.examples) || resolved.format === 'password') {
          body[name] = exampleOf(doc, property, depth + 1);
        }
      }
      return body;
    }
    case 'array': {
      const items = schema.items;
      return items && typeof items === 'object' && !Array.isArray(items)
        ? [exampleOf(doc, items, depth + 1)]
        : [];
    }
    case 'string':
      return schema.format === 'email'
        ? 'ada@example.com'
        : schema.format === 'date-time'
          ? '2031-01-01T10:00:00Z'
          : 'string';
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 1;
    case 'boolean':
      return false;
    default:
      return null;
  }
}

function itemOf(doc: OpenApiDocument, method: string, path: string, op: Operation, shared: Parameter[]) {
  const parameters = [...shared, ...(op.parameters ?? [])];
  const segments = path
    .split('/')
    .filter(Boolean)
    .map((s) => s.replace(/^\{(.+)\}$/, ':$1'));
  const raw = `{{baseUrl}}/${segments.join('/')}`;
  const query = parameters
    .filter((p) => p.in === 'query')
    .map((p) => ({
      key: p.name,
      value: String(p.schema ? (exampleOf(doc, p.schema) ?? '') : ''),
      ...(p.description ? { description: p.description } : {}),
      disabled: !p.required,
    }));
  const header = parameters
    .filter((p) => p.in === 'header')
    .map((p) => ({
      key: p.name,
      value: p.name.toLowerCase() === 'if-match' ? '{{etag}}' : '',
      ...(p.description ? { description: p.description } : {}),
      disabled: !p.required,
    }));
  const content = op.requestBody?.content ?? {};
  const [type] = Object.keys(content);
  let body: Record<string, Json> | undefined;
  if (type) {
    const example = exampleOf(doc, content[type]?.schema ?? {});
    header.unshift({ key: 'Content-Type', value: type, disabled: false });
    if (
      type === 'application/x-www-form-urlencoded' &&
      example &&
      typeof example === 'object' &&
      !Array.isArray(example)
    ) {
      body = {
        mode: 'urlencoded',
        urlencoded: Object.entries(example).map(([key, value]) => ({
          key,
          value: String(value),
          type: 'text',
        })),
      };
    } else {
      body = { mode: 'raw', raw: JSON.stringify(example, null, 2), options: { raw: { language: 'json' } } };
    }
  }
  const request: Record<string, Json> = {
    method: method.toUpperCase(),
    header,
    url: {
      raw,
      host: ['{{baseUrl}}'],
      path: segments,
      ...(query.length ? { query } : {}),
      ...(segments.some((s) => s.startsWith(':'))
        ? {
            variable: parameters
              .filter((p) => p.in === 'path')
              .map((p) => ({
                key: p.name,
                value: '',
                ...(p.description ? { description: p.description } : {}),
              })),
          }
        : {}),
    },
    ...(body ? { body } : {}),
    // An empty security list: the route takes no credentials (the collection's bearer stays off).
    ...(Array.isArray(op.security) && op.security.length === 0 ? { auth: { type: 'noauth' } } : {}),
    ...(op.description ? { description: op.description } : {}),
  };
  return {
    name: `${op.summary ?? op.operationId ?? `${method.toUpperCase()} ${path}`} (${method.toUpperCase()} ${path})`,
    request,
  };
}

export function collectionOf(doc: OpenApiDocument): Record<string, Json> {
  const folders = new Map<string, Json[]>((doc.tags ?? []).map((t) => [t.name, []]));
  for (const [path, item] of Object.entries(doc.paths)) {
    const shared = (Array.isArray(item.parameters) ? item.parameters : []) as Parameter[];
    for (const method of METHODS) {
      const op = item[method] as Operation | undefined;
      if (!op) continue;
      const tag = op.tags?.[0] ?? 'other';
      if (!folders.has(tag)) folders.set(tag, []);
      folders.get(tag)?.push(itemOf(doc, method, path, op, shared));
    }
  }
  const descriptions = new Map((doc.tags ?? []).map((t) => [t.name, t.description ?? '']));
  return {
    info: {
      name: doc.info.title,
      description: `${doc.info.description ?? ''}\n\nGenerated from the OpenAPI document (version ${doc.info.version}) by npm run generate:collection.`,
      schema: SCHEMA_URL,
    },
    auth: { type: 'bearer', bearer: [{ key: 'token', value: '{{accessToken}}', type: 'string' }] },
    variable: [
      { key: 'baseUrl', value: doc.servers?.[0]?.url ?? 'http://127.0.0.1:3000' },
      { key: 'accessToken', value: '' },
      { key: 'refreshToken', value: '' },
      { key: 'password', value: '' },
      { key: 'etag', value: '' },
    ],
    item: [...folders]
      .filter(([, items]) => items.length > 0)
      .map(([name, items]) => ({ name, description: descriptions.get(name) ?? '', item: items })),
  };
}
