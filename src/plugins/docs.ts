import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyContextConfig, FastifyInstance, FastifySchema } from 'fastify';
import { API_VERSIONS, type ApiVersion, LATEST_VERSION } from '../lib/api-version.js';
import { problemResponses } from '../lib/common-schemas.js';
import {
  IDEMPOTENCY_DESCRIPTION,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
} from '../lib/idempotency.js';
import { shedsLoad } from '../lib/load-shedding.js';
import { serviceVersion } from '../lib/package-info.js';
import { ICON_DATA_URL, ICON_SVG, LOGO_SVG } from './brand.js';
import { type CachePolicy, cacheControlFor, cachePolicyOf } from './cache-policy.js';

/**
 * The OpenAPI 3.1 document, generated from the route schemas, and the two pages that render it.
 * Everything is served from installed packages: no page requests anything from another host.
 */

interface OpenApiDocument {
  paths?: Record<string, unknown>;
  [key: string]: unknown;
}

const SCHEMA_REF = '#/components/schemas/';

function schemaRefs(value: unknown, found: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) schemaRefs(item, found);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === '$ref' && typeof item === 'string' && item.startsWith(SCHEMA_REF)) {
        found.add(item.slice(SCHEMA_REF.length));
      } else {
        schemaRefs(item, found);
      }
    }
  }
}

/**
 * One version's document: its own paths, and only the schemas and tags they use, so a reader of
 * v1 sees no v2 cursor pages and no empty sections for the unversioned routes.
 */
export function documentForVersion(full: OpenApiDocument, version: string): OpenApiDocument {
  const prefix = `/api/${version}/`;
  const paths = Object.fromEntries(
    Object.entries(full.paths ?? {}).filter(([path]) => path.startsWith(prefix)),
  );
  const components = (full.components ?? {}) as { schemas?: Record<string, unknown> };
  const allSchemas = components.schemas ?? {};
  const used = new Set<string>();
  schemaRefs(paths, used);
  // Schemas refer to schemas: follow the references until nothing new turns up.
  for (let size = -1; size !== used.size; ) {
    size = used.size;
    for (const name of [...used]) schemaRefs(allSchemas[name], used);
  }
  const schemas = Object.fromEntries(Object.entries(allSchemas).filter(([name]) => used.has(name)));
  const usedTags = new Set<string>();
  for (const item of Object.values(paths)) {
    for (const operation of Object.values(item as Record<string, { tags?: unknown }>)) {
      if (Array.isArray(operation?.tags)) for (const tag of operation.tags) usedTags.add(String(tag));
    }
  }
  const tags = (full.tags as { name: string }[] | undefined)?.filter((tag) => usedTags.has(tag.name));
  return {
    ...full,
    info: { ...(full.info as object), title: `Taskforge API ${version}` },
    ...(tags ? { tags } : {}),
    components: { ...components, schemas },
    paths,
  };
}

const VERSIONED_PATH = /^\/api\/(v\d+)\//;

export interface DocumentedSchema extends FastifySchema {
  operationId?: string;
  hide?: boolean;
}

/** Methods whose requests Fastify reads a body for, whether or not the route takes one. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The problem responses the framework itself can give on a route, whatever its handler does:
 * a request without a Host header is malformed (400), a path parameter that fails its schema names
 * nothing (404), a body can be malformed, too slow, too large or of the wrong type (also one sent
 * to a DELETE or a POST that takes none: Fastify parses it before the route sees it), a body or
 * query can fail validation, a rate limit can refuse it (every route under /api/), the process can
 * shed load, and anything can fail unexpectedly.
 */
export function impliedProblemStatuses(
  schema: DocumentedSchema,
  limited: boolean,
  route: RouteOfDocument | undefined,
): number[] {
  const methods = route?.method ? [route.method].flat() : [];
  // Any HTTP/1.1 request without a Host header is a 400 (RFC 9112 §3.2), whatever the route.
  const statuses: number[] = [400];
  // A route that takes API keys refuses one without its scope (403).
  const security = (schema as { security?: Record<string, string[]>[] }).security;
  if (security?.some((requirement) => 'apiKey' in requirement)) statuses.push(403);
  if (schema.params) statuses.push(404);
  // A body that does not arrive within REQUEST_TIMEOUT is cut with 408 (plugins/http-semantics.ts).
  if (schema.body) statuses.push(408);
  if (schema.body || methods.some((method) => BODY_METHODS.has(method))) statuses.push(413, 415);
  // An authenticated write that loses a race with a concurrent one (a deadlock, a row deleted
  // meanwhile) is a 409 conflict to retry (plugins/problem-details.ts).
  if (security !== undefined && methods.some((method) => BODY_METHODS.has(method))) statuses.push(409);
  if (schema.body || schema.querystring) statuses.push(422);
  // Idempotency-Key: another request with the key (422), the first still running (409).
  if (route?.config?.idempotency) statuses.push(409, 422);
  if (limited) statuses.push(429);
  statuses.push(500);
  // Under pressure (plugins/overload.ts) every route but the exempt ones answers 503 overloaded.
  if (shedsLoad(route?.config)) statuses.push(503);
  return statuses;
}

/** A whole number header: the RateLimit-* counts and seconds, and Retry-After's seconds. */
const WholeNumber = (description: string) => ({
  type: 'integer',
  minimum: 0,
  maximum: 2_147_483_647,
  format: 'int32',
  description,
});
/** What the document needs of a route beyond its schema. */
export interface RouteOfDocument {
  config?: FastifyContextConfig;
  method?: string | string[];
}

/** The headers of every reply of a limited operation (contract §4). */
const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': WholeNumber(
    'requests per window of the policy that applied (general, or credential routes)',
  ),
  'RateLimit-Remaining': WholeNumber('requests left in the current window'),
  'RateLimit-Reset': WholeNumber('whole seconds until the current window ends'),
};

const RETRY_AFTER = {
  'Retry-After': WholeNumber('whole seconds to wait before trying again'),
};

/**
 * Every 503 carries Retry-After: `overloaded` (load shedding), and `not_ready` while the database
 * does not answer or is locked (plugins/problem-details.ts) or while shutting down.
 */
function withRetryAfterOn503(responses: Record<string, unknown>): Record<string, unknown> {
  const response = responses[503] as { headers?: Record<string, unknown> } | undefined;
  if (!response) return responses;
  return { ...responses, 503: { ...response, headers: { ...response.headers, ...RETRY_AFTER } } };
}

/** Every route under /api/ is rate limited; the paths outside it are not (contract §4). */
function isLimited(url: string): boolean {
  return url.startsWith('/api/');
}

/** The RateLimit-* headers on every response of a limited operation, and Retry-After on its 429. */
function withRateLimitHeaders(responses: Record<string, unknown>, limited: boolean): Record<string, unknown> {
  if (!limited) return responses;
  return Object.fromEntries(
    Object.entries(responses).map(([status, response]) => {
      const r = response as { headers?: Record<string, unknown> };
      const headers = { ...r.headers, ...RATE_LIMIT_HEADERS, ...(status === '429' ? RETRY_AFTER : {}) };
      return [status, { ...r, headers }];
    }),
  );
}

/**
 * Documents each route as the framework serves it: the implied problem responses are added where
 * the route does not list them, and a route registered under several version prefixes gets an
 * operationId per version (`listTasks` → `v1ListTasks`), since operationIds must be unique.
 * Only the document changes: the route's own schema (and so its serializers) is left alone.
 */
export function documentRoute({
  schema,
  url,
  route,
}: {
  schema: FastifySchema | undefined;
  url: string;
  route?: RouteOfDocument;
}): {
  schema: FastifySchema;
  url: string;
} {
  const source = (schema ?? {}) as DocumentedSchema;
  if (source.hide) return { schema: source, url };
  const limited = isLimited(url);
  const declared = (source.response ?? {}) as Record<string, unknown>;
  const missing = impliedProblemStatuses(source, limited, route).filter(
    (status) => declared[status] === undefined,
  );
  const policy = cachePolicyOf(url);
  const revalidated = policy === 'public-revalidate';
  const responses = withRetryAfterOn503({
    ...(revalidated ? withRepresentationTag(declared) : declared),
    ...problemResponses(...missing),
  });
  const idempotent = route?.config?.idempotency !== undefined;
  const documented: DocumentedSchema = {
    ...source,
    ...(idempotent ? idempotencyOf(source) : {}),
    ...(revalidated ? withHeader(source, 'if-none-match', REPRESENTATION_IF_NONE_MATCH) : {}),
    response: withCorsHeader(
      withCacheControlHeader(
        withRateLimitHeaders(idempotent ? withReplayHeader(responses) : responses, limited),
        policy,
      ),
    ),
  };
  // Operations without a description of their own repeat their summary.
  if (!source.description && typeof (source as { summary?: unknown }).summary === 'string') {
    (documented as { description?: string }).description = (source as { summary: string }).summary;
  }
  if (idempotent) {
    const own = (documented as { description?: string }).description;
    (documented as { description?: string }).description = own
      ? `${own}\n\n${IDEMPOTENCY_DESCRIPTION}`
      : IDEMPOTENCY_DESCRIPTION;
  }
  const version = VERSIONED_PATH.exec(url)?.[1];
  const operationId = source.operationId;
  if (version && operationId && !operationId.startsWith(version)) {
    documented.operationId = `${version}${operationId.charAt(0).toUpperCase()}${operationId.slice(1)}`;
  }
  return { schema: documented, url };
}

function serverDescription(production: boolean): string {
  return production ? 'production (PUBLIC_URL)' : 'local development (PUBLIC_URL)';
}

/** How callers authenticate: access tokens (also through the OAuth2 password flow) and API keys. */
function securitySchemes(publicUrl: string) {
  return {
    bearerAuth: {
      type: 'http' as const,
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description:
        'A short-lived HS256 access token from POST /api/v1/auth/login, bound to a session (logout ends it at once), or an API key (`tf_…`, from POST /api/v1/api-keys) as the bearer value. Tokens follow the JWT best current practices of RFC8725 (RFC 8725): one fixed algorithm (HS256), typed claims, expiry always checked. One credential per request: Authorization and X-API-Key together are ambiguous and answered 401 invalid_token.',
    },
    oauth2: {
      type: 'oauth2' as const,
      description:
        'The OAuth2 password flow (RFC 6749 §4.3) on the form-encoded token endpoint, for the Authorize button: the username is the account email. Client credentials are not needed (they are ignored). The access tokens are the same JWTs as bearerAuth, following RFC8725.',
      flows: {
        password: {
          tokenUrl: `${publicUrl}/api/v1/auth/token`,
          refreshUrl: `${publicUrl}/api/v1/auth/token`,
          scopes: {},
        },
      },
    },
    apiKey: {
      type: 'apiKey' as const,
      in: 'header' as const,
      name: 'X-API-Key',
      description:
        "An API key (`tf_<prefix>_<secret>`) from POST /api/v1/api-keys, here or as `Authorization: Bearer`. This header carries API keys only: an access token or anything else in it → 401 invalid_token. A key may do what its scopes (tasks:read, tasks:write, users:read, users:write) and its owner's current role both allow; each operation names the scope it needs, and keys cannot call the account routes (API keys, sessions, logout, password, PATCH /users/me: 403 forbidden). Expired or revoked → 401 invalid_token; owner disabled → 401 account_disabled.",
    },
  };
}

/**
 * The Idempotency-Key request header of a route that declares `config.idempotency`, documented
 * only: the route's own schema does not validate it (a bad key is a 400, which the hook answers).
 */
function idempotencyOf(source: DocumentedSchema): Pick<FastifySchema, 'headers'> {
  return withHeader(source, 'idempotency-key', IDEMPOTENCY_KEY_HEADER);
}

/** The operation's request headers with one more, documented only (the route does not validate it). */
function withHeader(source: DocumentedSchema, name: string, header: unknown): Pick<FastifySchema, 'headers'> {
  const own = (source.headers ?? {}) as { properties?: Record<string, unknown>; required?: string[] };
  return { headers: { ...own, type: 'object', properties: { ...own.properties, [name]: header } } };
}

/** The ETag cache-policy.ts gives a `public-revalidate` reply: a digest of its bytes. */
const REPRESENTATION_ETAG = {
  ETag: {
    type: 'string',
    maxLength: 29,
    pattern: '^"[A-Za-z0-9_-]{27}"$',
    description: 'strong entity tag of these bytes; it changes when a deploy changes them',
  },
};

const REPRESENTATION_IF_NONE_MATCH = {
  type: 'string',
  maxLength: 1000,
  description: 'entity tags (or *); one that names the current ETag (weak comparison) → 304 without a body',
};

/** A `public-revalidate` operation: its 200 carries the ETag, and a conditional GET may get 304. */
function withRepresentationTag(responses: Record<string, unknown>): Record<string, unknown> {
  const ok = responses['200'] as { headers?: Record<string, unknown> } | undefined;
  return {
    ...responses,
    ...(ok ? { 200: { ...ok, headers: { ...ok.headers, ...REPRESENTATION_ETAG } } } : {}),
    304: {
      description: 'Not modified: no body, the same ETag and Cache-Control',
      headers: REPRESENTATION_ETAG,
      type: 'null',
    },
  };
}

/** A success of an idempotent route may be a replay: its responses name Idempotent-Replayed. */
function withReplayHeader(responses: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(responses).map(([status, response]) => {
      if (!status.startsWith('2')) return [status, response];
      const r = response as { headers?: Record<string, unknown> };
      return [status, { ...r, headers: { ...r.headers, ...IDEMPOTENT_REPLAYED_HEADER } }];
    }),
  );
}

/** What each policy of cache-policy.ts tells a reader of the document. */
const CACHE_POLICY_WORDS: Record<CachePolicy, string> = {
  'no-store': 'never stored by any cache',
  private:
    "the caller's own: kept only by the caller's cache, revalidated before each use (varies by Authorization, X-API-Key)",
  'public-revalidate': 'any cache may keep it, revalidating it with its ETag before each use',
  'public-static': 'any cache may keep it for an hour',
};

/**
 * Every response names the Cache-Control it carries: its route's policy (plugins/cache-policy.ts,
 * the one table the service answers from), `no-store` for the errors of a route that is not private.
 */
function withCacheControlHeader(
  responses: Record<string, unknown>,
  policy: CachePolicy,
): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(responses).map(([status, response]) => {
      const value = cacheControlFor(policy, Number(status));
      const effective = value === cacheControlFor(policy, 200) ? policy : 'no-store';
      const header = {
        'Cache-Control': {
          type: 'string',
          enum: [value],
          maxLength: 40,
          description: `${value}: ${CACHE_POLICY_WORDS[effective]}`,
        },
      };
      const r = response as { headers?: Record<string, unknown> };
      return [status, { ...r, headers: { ...r.headers, ...header } }];
    }),
  );
}

/** Browsers see this header only for origins in CORS_ORIGINS. */
const CORS_HEADER = {
  // Response headers are written as schemas; @fastify/swagger turns each into a header object.
  'Access-Control-Allow-Origin': {
    type: 'string',
    format: 'uri',
    maxLength: 200,
    description: 'the request Origin, when it is one of CORS_ORIGINS (never *)',
  },
};

/** Every response that documents headers also documents the CORS one. */
function withCorsHeader(responses: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(responses).map(([status, response]) => {
      const r = response as { headers?: Record<string, unknown> };
      return [
        status,
        r && typeof r === 'object' && r.headers
          ? { ...r, headers: { ...r.headers, ...CORS_HEADER } }
          : response,
      ];
    }),
  );
}

/**
 * Response headers a reply carries only sometimes: CORS for a listed Origin, the replay mark for a
 * replay, a v2 list's Link when there is a next page, and the RateLimit-* counts, which a reply
 * lacks while the counters fail open (Redis unreachable), and on a 503 of load shedding or a 400
 * answered before the rate limit ran (against contract §4: a known gap). Every other documented
 * header is on every reply of its response: the document marks it `required` (the contract tests
 * hold each reply to that).
 */
const CONDITIONAL_HEADERS = new Set([
  'Access-Control-Allow-Origin',
  'Idempotent-Replayed',
  'Link',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
]);

type HeaderObject = { required?: boolean };
type OperationObject = { responses?: Record<string, { headers?: Record<string, HeaderObject> }> };

/** @fastify/swagger writes no `required` on response headers: the finished document gets it here. */
function markRequiredHeaders(document: OpenApiDocument): void {
  for (const item of Object.values(document.paths ?? {}) as Record<string, OperationObject>[]) {
    for (const operation of Object.values(item)) {
      for (const response of Object.values(operation?.responses ?? {})) {
        for (const [name, header] of Object.entries(response.headers ?? {})) {
          if (!CONDITIONAL_HEADERS.has(name)) header.required = true;
        }
      }
    }
  }
}

/** Short, with links: the codes themselves are in the Problem schema and at /problems/{slug}. */
function description(publicUrl: string): string {
  return `A task-management REST API. Version 1 (\`/api/v1\`) pages its lists; version 2 (\`/api/v2\`) has the same routes with cursor-paged lists.

**Try it:** register (\`POST …/auth/register\`), then press **Authorize** and log in with that email and password (OAuth2 password flow), or paste the \`accessToken\` of \`POST …/auth/login\` under bearerAuth.

**Version 1's end:** with \`API_V1_SUNSET\` set, every v1 reply (errors too) carries \`Deprecation: @1795321756\` (v2's release), \`Sunset\` and \`Link\`s to its v2 successor (same path, no query) and the docs; v1 keeps answering after the date.

**Caching:** each response names its \`Cache-Control\`: on the API \`no-store\` or \`private, no-cache\`.

**Errors** are RFC 9457 problem details (\`application/problem+json\`) with a stable \`code\`: the \`Problem\` schema lists every code, and each one is described at \`/problems/{code with dashes}\`, for example [${publicUrl}/problems/validation-failed](${publicUrl}/problems/validation-failed).`;
}

/**
 * ReDoc shows one version at a time (the full document would list every operation twice, under
 * the same summary), with links to the other versions above it.
 */
function redocPage(version: ApiVersion): string {
  const links = API_VERSIONS.map((v) =>
    v === version ? `<strong>${v}</strong>` : `<a href="/redoc?version=${v}">${v}</a>`,
  ).join(' · ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Taskforge API reference (${version})</title>
<link rel="icon" type="image/svg+xml" href="${ICON_DATA_URL}">
<style>
  body { margin: 0; }
  .versions { font: 14px/1.5 system-ui, sans-serif; padding: 8px 20px; background: #1b1b1b; color: #fff; }
  .versions a { color: #fbbf24; }
</style>
</head>
<body>
<nav class="versions">Taskforge API reference · version ${links} · <a href="/docs">Swagger UI</a></nav>
<redoc spec-url="/openapi/${version}.json"></redoc>
<script src="/redoc/redoc.standalone.js"></script>
</body>
</html>
`;
}

// ReDoc's bundle loads its logo from a CDN; a blank inline image keeps every request on this host.
const BLANK_SVG = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E";

async function loadRedocBundle(): Promise<string> {
  const require = createRequire(import.meta.url);
  const path = require.resolve('redoc/bundles/redoc.standalone.js');
  const source = await readFile(path, 'utf8');
  return source.replaceAll('https://cdn.redoc.ly/redoc/logo-mini.svg', BLANK_SVG);
}

/** An OpenAPI tag: a section of the docs. */
export interface DocsTag {
  name: string;
  description: string;
}

/** `tags` are the document's sections, in the order the docs show them (the modules' order). */
export async function registerOpenApi(app: FastifyInstance, tags: readonly DocsTag[]): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Taskforge API',
        version: serviceVersion(),
        description: description(app.config.publicUrl),
      },
      servers: [
        // x-internal: false tells inventory tools this server is meant for outside clients.
        {
          url: app.config.publicUrl,
          description: serverDescription(app.config.production),
          'x-internal': false,
        } as {
          url: string;
        },
      ],
      tags: [...tags],
      components: { securitySchemes: securitySchemes(app.config.publicUrl) },
    },
    transform: documentRoute,
    transformObject: (documentObject) => {
      if (!('openapiObject' in documentObject)) return documentObject.swaggerObject;
      markRequiredHeaders(documentObject.openapiObject as OpenApiDocument);
      return documentObject.openapiObject;
    },
    refResolver: {
      // Name shared schemas by their $id instead of def-N.
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
  });
}

/**
 * The OAuth2 dialog asks for client credentials and where to send them; the token endpoint ignores
 * them, so those rows are hidden (Swagger UI has no option for it). The scheme's description says so.
 */
const SWAGGER_CSS = `.auth-container .wrapper:has(> label[for="password_type"]),
.auth-container .wrapper:has(> label[for^="client_id"]),
.auth-container .wrapper:has(> label[for^="client_secret"]) { display: none; }
`;

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
      // Open on the newest version; the option's name is missing from the plugin's types.
      ...({ 'urls.primaryName': LATEST_VERSION } as object),
      deepLinking: true,
      persistAuthorization: false,
      displayRequestDuration: true,
    },
    validatorUrl: false, // rendered as null: no call to the public validator
    staticCSP: false,
    logo: { type: 'image/svg+xml', content: Buffer.from(LOGO_SVG), href: '/docs', target: '_self' },
    theme: {
      title: 'Taskforge API docs',
      css: [{ filename: 'taskforge.css', content: SWAGGER_CSS }],
      favicon: [
        { filename: 'favicon.svg', rel: 'icon', sizes: 'any', type: 'image/svg+xml', content: ICON_SVG },
      ],
    },
  });

  const bundle = await loadRedocBundle();
  app.get(
    '/redoc',
    {
      ...hidden,
      schema: {
        ...hidden.schema,
        querystring: {
          type: 'object',
          properties: { version: { type: 'string', enum: [...API_VERSIONS] } },
        },
      },
    },
    async (request, reply) => {
      const { version = LATEST_VERSION } = request.query as { version?: ApiVersion };
      return reply.type('text/html; charset=utf-8').send(redocPage(version));
    },
  );
  app.get('/redoc/redoc.standalone.js', hidden, async (_request, reply) =>
    // Cacheable for an hour by anyone, like the other static files of the docs (cache-policy.ts).
    reply.type('application/javascript; charset=utf-8').send(bundle),
  );
}
