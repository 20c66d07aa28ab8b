import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { isEntityTagList } from '../../src/lib/conditional.js';
import type { InspectedReply } from '../../src/plugins/reply-inspection.js';

/**
 * The contract check of one reply: the operation it answered (by route template and method, in
 * the document of its version), then its status, content type, required headers and body against
 * what that operation documents. Schemas are compiled on first use and kept for the worker.
 */

export interface HeaderObject {
  required?: boolean;
  schema?: Record<string, unknown>;
}
export interface ResponseObject {
  headers?: Record<string, HeaderObject>;
  content?: Record<string, { schema?: unknown }>;
}
export interface OperationObject {
  responses?: Record<string, ResponseObject>;
}
export interface OpenApiDocument {
  paths?: Record<string, Record<string, OperationObject>>;
  components?: Record<string, unknown>;
}

/** The documents by name: `v1`, `v2` (each /openapi/vN.json) and `unversioned` (the routes outside /api/). */
export type Documents = Record<string, OpenApiDocument>;

const VERSIONED = /^\/api\/(v\d+)\//;
const OPERATION_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

/** The document a route belongs to, and its path there (`/api/v1/tasks/:id` → `/api/v1/tasks/{id}`). */
export function documentOf(route: string): { name: string; path: string } {
  return { name: VERSIONED.exec(route)?.[1] ?? 'unversioned', path: route.replace(/:(\w+)/g, '{$1}') };
}

/** Every documented (method, path, status) of a document: what coverage counts. */
export function* documentedPairs(
  document: OpenApiDocument,
): Generator<{ method: string; path: string; status: string }> {
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(item)) {
      if (!OPERATION_METHODS.includes(method)) continue;
      for (const status of Object.keys(operation.responses ?? {})) yield { method, path, status };
    }
  }
}

function essence(mediaType: string): string {
  return mediaType.split(';')[0]?.trim().toLowerCase() ?? '';
}

function isJson(mediaType: string): boolean {
  return /^application\/(?:[\w.-]+\+)?json$/.test(essence(mediaType));
}

/** `#/components/…` in a schema taken out of the document, pointed at the document's id in Ajv. */
function anchored(schema: unknown, id: string): unknown {
  if (Array.isArray(schema)) return schema.map((item) => anchored(item, id));
  if (schema === null || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([key, value]) => [
      key,
      key === '$ref' && typeof value === 'string' && value.startsWith('#')
        ? `${id}${value}`
        : anchored(value, id),
    ]),
  );
}

function describeErrors(errors: ErrorObject[] | null | undefined): string {
  const listed = (errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`);
  const more = (errors?.length ?? 0) > 5 ? ` (and ${(errors?.length ?? 0) - 5} more)` : '';
  return `${listed.join('; ')}${more}`;
}

/** A header's value as its schema types it: headers are text, the document's numbers are integers. */
function headerValue(raw: string | number | string[], schema: Record<string, unknown>): unknown {
  const text = Array.isArray(raw) ? raw.join(', ') : String(raw);
  const type = schema.type;
  if ((type === 'integer' || type === 'number') && /^-?\d+(?:\.\d+)?$/.test(text)) return Number(text);
  return text;
}

export class ContractChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  private readonly validators = new Map<string, ValidateFunction>();
  /** The same lookup by the schema object itself: a reply's check does not serialize its schemas. */
  private readonly bySchema = new WeakMap<object, ValidateFunction>();

  constructor(private readonly documents: Documents) {
    addFormats.default(this.ajv);
    this.ajv.addFormat('entity-tags', { type: 'string', validate: isEntityTagList });
    for (const [name, document] of Object.entries(documents)) {
      // Only the components: the response schemas are compiled one by one, as replies need them.
      this.ajv.addSchema({ $id: this.idOf(name), components: document.components ?? {} });
    }
  }

  private idOf(name: string): string {
    return `urn:taskforge:openapi:${name}`;
  }

  /**
   * One compiled validator per distinct schema of a document: most headers and error bodies are
   * the same few `$ref`s, and each compile costs far more than a validation (every test file
   * builds its own checker).
   */
  private validator(schema: unknown, name: string): ValidateFunction {
    const object = typeof schema === 'object' && schema !== null ? schema : null;
    const known = object && this.bySchema.get(object);
    if (known) return known;
    const key = `${name} ${JSON.stringify(schema)}`;
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(anchored(schema, this.idOf(name)) as object);
      this.validators.set(key, validate);
    }
    if (object) this.bySchema.set(object, validate);
    return validate;
  }

  /** The operation a reply answered, or null when no document has it (sample routes, hidden docs routes). */
  operation(
    method: string,
    route: string,
  ): { name: string; path: string; operation: OperationObject } | null {
    const { name, path } = documentOf(route);
    const item = this.documents[name]?.paths?.[path];
    // Fastify answers HEAD with its GET route (RFC 9110 §9.3.2): same status and headers, no body.
    const operation = item?.[method.toLowerCase()] ?? (method === 'HEAD' ? item?.get : undefined);
    return operation ? { name, path, operation } : null;
  }

  /** What is wrong with a reply, one line each; empty when it keeps the contract or no document has its route. */
  check(reply: InspectedReply): string[] {
    if (!reply.route || reply.method === 'OPTIONS') return [];
    const found = this.operation(reply.method, reply.route);
    if (!found) return [];
    const { name, operation } = found;
    const status = String(reply.statusCode);
    const responses = operation.responses ?? {};
    const documentedAs = responses[status]
      ? status
      : responses[`${status[0]}XX`]
        ? `${status[0]}XX`
        : 'default';
    const response = responses[documentedAs];
    const where = `${reply.method} ${reply.route} → ${status}`;
    if (!response)
      return [`${where}: status not documented (the operation lists ${Object.keys(responses).join(', ')})`];
    const problems: string[] = [];

    for (const [header, object] of Object.entries(response.headers ?? {})) {
      const raw = reply.headers[header.toLowerCase()];
      if (raw === undefined) {
        if (object.required) problems.push(`${where}: required header ${header} missing`);
        continue;
      }
      const schema = object.schema ?? {};
      const validate = this.validator(schema, name);
      if (!validate(headerValue(raw, schema))) {
        problems.push(
          `${where}: header ${header}: ${JSON.stringify(raw)} ${describeErrors(validate.errors)}`,
        );
      }
    }

    // No body: HEAD (HTTP), 204 and 304 (RFC 9110 §15.3.5, §15.4.5); their headers are checked above.
    const bodiless = reply.method === 'HEAD' || reply.statusCode === 204 || reply.statusCode === 304;
    const content = response.content ?? {};
    const mediaTypes = Object.keys(content);
    const contentType = reply.headers['content-type'];
    const length = reply.payload === null ? 0 : Buffer.byteLength(reply.payload);
    if (mediaTypes.length === 0) {
      if (!bodiless && length > 0) problems.push(`${where}: a body where the document has none`);
      return problems;
    }
    if (contentType === undefined) {
      if (!bodiless) problems.push(`${where}: no Content-Type (documented: ${mediaTypes.join(', ')})`);
      return problems;
    }
    const mediaType = mediaTypes.find((type) => essence(type) === essence(String(contentType)));
    if (!mediaType) {
      problems.push(
        `${where}: Content-Type ${String(contentType)} is not documented (${mediaTypes.join(', ')})`,
      );
      return problems;
    }
    // A stream (the event feed) is checked by status, headers and type only.
    if (bodiless || reply.payload === null) return problems;
    const text = reply.payload.toString();
    let body: unknown = text;
    if (isJson(mediaType)) {
      try {
        body = JSON.parse(text);
      } catch {
        problems.push(`${where}: body is not JSON: ${text.slice(0, 200)}`);
        return problems;
      }
    }
    const schema = content[mediaType]?.schema;
    if (schema !== undefined) {
      const validate = this.validator(schema, name);
      if (!validate(body))
        problems.push(`${where}: body ${describeErrors(validate.errors)}: ${text.slice(0, 300)}`);
    }
    return problems;
  }
}
