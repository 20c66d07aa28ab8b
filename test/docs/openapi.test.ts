import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBLEM_CODES } from '../../src/errors.js';
import { notesModule } from '../fixtures/notes-module/index.js';
import { widgetsModule } from '../fixtures/widgets-module.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';

const PACKAGE_VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

type Json = Record<string, unknown>;
interface Operation {
  operationId?: string;
  tags?: string[];
  security?: unknown[];
  parameters?: Json[];
  responses: Record<string, { description?: string; content?: Record<string, { schema?: Json }> }>;
}
interface OpenApi {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const DOCUMENTS = ['/openapi.json', '/openapi/v1.json', '/openapi/v2.json'] as const;

let t: TestApp;
const docs = new Map<string, OpenApi>();

beforeAll(async () => {
  t = await buildTestApp({ modules: [widgetsModule, notesModule] });
  for (const url of DOCUMENTS) {
    const res = await t.app.inject({ method: 'GET', url });
    docs.set(url, res.json() as OpenApi);
  }
});
afterAll(async () => t.close());

function doc(url: string): OpenApi {
  const found = docs.get(url);
  if (!found) throw new Error(`no document fetched from ${url}`);
  return found;
}

function operations(document: OpenApi): [string, string, Operation][] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]): [string, string, Operation] => [path, method, op]),
  );
}

function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const item of value) refsIn(item, found);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (key === '$ref' && typeof item === 'string') found.push(item);
      else refsIn(item, found);
    }
  }
  return found;
}

describe.each(DOCUMENTS)('GET %s', (url) => {
  it('answers 200 JSON', async () => {
    const res = await t.app.inject({ method: 'GET', url });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const document = doc(url);
    expect(document.openapi).toBe('3.1.0');
    // The validator keeps the document it was given: hand it a copy.
    const result = await new Validator().validate(structuredClone(document) as unknown as Json);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('names shared schemas by $id, and every $ref resolves', () => {
    const { schemas } = doc(url).components;
    expect(Object.keys(schemas)).toEqual(expect.arrayContaining(['Problem', 'FieldError']));
    expect(Object.keys(schemas).filter((name) => /^def-\d+$/.test(name))).toEqual([]);
    for (const ref of refsIn(doc(url))) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(schemas).toHaveProperty([ref.slice('#/components/schemas/'.length)]);
    }
  });

  it('gives every operation a unique operationId and problem+json error responses', () => {
    const ids = new Set<string>();
    for (const [path, method, op] of operations(doc(url))) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(op.operationId, where).toMatch(/^[A-Za-z][A-Za-z0-9]*$/);
      expect(ids.has(op.operationId ?? ''), `${where}: ${op.operationId} is used twice`).toBe(false);
      ids.add(op.operationId ?? '');
      const errors = Object.entries(op.responses).filter(([status]) => /^[45]/.test(status));
      expect(errors.length, where).toBeGreaterThan(0);
      expect(op.responses, where).toHaveProperty(['500']);
      for (const [status, response] of errors) {
        expect(Object.keys(response.content ?? {}), `${where} ${status}`).toEqual([
          'application/problem+json',
        ]);
        expect(response.content?.['application/problem+json']?.schema).toEqual({
          $ref: '#/components/schemas/Problem',
        });
        expect(response.description, `${where} ${status}`).toMatch(/\S/);
      }
    }
  });

  it('lists every problem code in the Problem schema', () => {
    const problem = doc(url).components.schemas.Problem as { properties: { code: { enum: string[] } } };
    expect([...problem.properties.code.enum].sort()).toEqual([...PROBLEM_CODES].sort());
  });

  it('carries the version of package.json and a short description that links the error catalogue', async () => {
    const { info } = doc(url);
    expect(info.version).toBe(PACKAGE_VERSION);
    const description = info.description ?? '';
    expect(description.length).toBeLessThan(1000);
    // The codes live in the Problem schema and at /problems/{slug}, not inlined here.
    const inlined = PROBLEM_CODES.filter((code) => description.includes(`\`${code}\``));
    expect(inlined.length).toBeLessThanOrEqual(1);
    const link = /\]\((http:\/\/127\.0\.0\.1:3000\/problems\/[a-z-]+)\)/.exec(description)?.[1];
    expect(link).toBeDefined();
    const res = await t.app.inject({ method: 'GET', url: new URL(link ?? '').pathname });
    expect(res.statusCode).toBe(200);
  });

  it('documents 429 and 503 with Retry-After, and the RateLimit-* headers on every reply, of every limited operation', () => {
    let limited = 0;
    for (const [path, method, op] of operations(doc(url))) {
      const isLimited = path.startsWith('/api/');
      if (isLimited) limited += 1;
      expect(Object.keys(op.responses).includes('429'), `${method} ${path}`).toBe(isLimited);
      for (const [status, response] of Object.entries(op.responses)) {
        const headers = Object.keys((response as { headers?: object }).headers ?? {});
        // A 503 (not ready: the database away or locked; overloaded) always says when to retry.
        const retryAfter = status === '429' || status === '503' ? ['Retry-After'] : [];
        const expected = isLimited
          ? ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', ...retryAfter]
          : retryAfter;
        expect(
          headers.filter((h) => /^(ratelimit-|retry-after)/i.test(h)).sort(),
          `${method} ${path} ${status}`,
        ).toEqual(expected.sort());
      }
    }
    expect(limited).toBeGreaterThan(0);
  });

  it('leaves the docs routes themselves out', () => {
    const paths = Object.keys(doc(url).paths);
    expect(paths.filter((p) => /^\/(openapi|docs|redoc)\b/.test(p))).toEqual([]);
  });
});

describe('the document of every version', () => {
  it('holds every route: both API versions, the health probes and the problem types', () => {
    const paths = doc('/openapi.json').paths;
    expect(Object.keys(paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/widgets',
        '/api/v1/widgets/{id}',
        '/api/v2/widgets',
        '/api/v2/widgets/{id}',
        '/health/live',
        '/health/ready',
        '/problems/{slug}',
      ]),
    );
    expect(doc('/openapi.json').info.title).toBe('Taskforge API');
  });

  it('documents the health probes as public, with the readiness 503', () => {
    const { paths } = doc('/openapi.json');
    const live = paths['/health/live']?.get;
    const ready = paths['/health/ready']?.get;
    expect(live?.operationId).toBe('healthLive');
    expect(ready?.operationId).toBe('healthReady');
    for (const op of [live, ready]) {
      expect(op?.tags).toEqual(['health']);
      expect(op?.security).toEqual([]);
      expect(op?.responses['200']?.content).toHaveProperty(['application/json']);
    }
    expect(ready?.responses).toHaveProperty(['503']);
  });

  it('documents GET /problems/{slug} with its parameter, both media types and its 404', () => {
    const op = doc('/openapi.json').paths['/problems/{slug}']?.get;
    expect(op?.operationId).toBe('getProblemType');
    expect(op?.security).toEqual([]);
    expect(op?.parameters).toEqual([expect.objectContaining({ in: 'path', name: 'slug', required: true })]);
    expect(Object.keys(op?.responses['200']?.content ?? {}).sort()).toEqual([
      'application/json',
      'text/html',
    ]);
    expect(op?.responses).toHaveProperty(['404']);
  });

  it('declares every tag the operations use', () => {
    const document = doc('/openapi.json') as OpenApi & { tags?: { name: string }[] };
    const declared = new Set((document.tags ?? []).map((tag) => tag.name));
    for (const [path, method, op] of operations(document)) {
      expect(op.tags?.length, `${method} ${path} has no tag`).toBeGreaterThan(0);
      for (const tag of op.tags ?? []) expect(declared.has(tag), `${method} ${path}: ${tag}`).toBe(true);
    }
  });

  it('adds the problem responses the framework can give, from the route schema', () => {
    const { paths } = doc('/openapi.json');
    const statuses = (op: Operation | undefined) => Object.keys(op?.responses ?? {}).sort();
    // A body: malformed, too slow (REQUEST_TIMEOUT), too large, wrong type, invalid; anything:
    // unexpected; under pressure, overloaded; under /api/, a rate limit can refuse anything (429).
    expect(statuses(paths['/api/v1/widgets']?.post)).toEqual([
      '201',
      '400',
      '408',
      '413',
      '415',
      '422',
      '429',
      '500',
      '503',
    ]);
    // A path parameter that fails its schema names nothing (404); a query can be invalid (422).
    expect(statuses(paths['/api/v1/widgets/{id}']?.get)).toEqual([
      '200',
      '400',
      '404',
      '422',
      '429',
      '500',
      '503',
    ]);
    // The probes are never refused for load (their config says loadShedding: 'exempt'); any
    // HTTP/1.1 request without Host is a 400.
    expect(statuses(paths['/health/live']?.get)).toEqual(['200', '400', '500']);
    expect(statuses(paths['/health/ready']?.get)).toEqual(['200', '400', '500', '503']);
  });

  it('gives a route registered under both versions an operationId per version', () => {
    const { paths } = doc('/openapi.json');
    expect(paths['/api/v1/widgets']?.post?.operationId).toBe('v1CreateWidget');
    expect(paths['/api/v2/widgets']?.post?.operationId).toBe('v2CreateWidget');
    expect(paths['/api/v1/widgets/{id}']?.get?.operationId).toBe('v1GetWidget');
    expect(paths['/api/v2/widgets/{id}']?.get?.operationId).toBe('v2GetWidget');
  });
});

describe.each(['v1', 'v2'])('the %s document', (version) => {
  it(`holds only /api/${version} paths, and all of them`, () => {
    const mine = Object.keys(doc(`/openapi/${version}.json`).paths).sort();
    const expected = Object.keys(doc('/openapi.json').paths)
      .filter((p) => p.startsWith(`/api/${version}/`))
      .sort();
    expect(mine.length).toBeGreaterThan(0);
    expect(mine).toEqual(expected);
    expect(doc(`/openapi/${version}.json`).info).toMatchObject({
      title: `Taskforge API ${version}`,
      version: PACKAGE_VERSION,
    });
  });

  it('holds exactly the schemas its paths use, and the tags its operations use', () => {
    const mine = doc(`/openapi/${version}.json`) as OpenApi & { tags?: { name: string }[] };
    const full = doc('/openapi.json').components.schemas;
    const names = Object.keys(mine.components.schemas);
    expect(names).toEqual(expect.arrayContaining(['Problem', 'FieldError']));
    for (const name of names) expect(mine.components.schemas[name], name).toEqual(full[name]);
    // Every schema is reached from the paths, directly or through another schema.
    const reached = new Set(refsIn(mine.paths));
    for (let size = -1; size !== reached.size; ) {
      size = reached.size;
      for (const ref of [...reached]) {
        for (const inner of refsIn(mine.components.schemas[ref.slice('#/components/schemas/'.length)])) {
          reached.add(inner);
        }
      }
    }
    expect(names.sort()).toEqual([...reached].map((ref) => ref.slice('#/components/schemas/'.length)).sort());
    const used = new Set(operations(mine).flatMap(([, , op]) => op.tags ?? []));
    // No empty sections: every tag the operations use shows, and no other.
    expect((mine.tags ?? []).map((tag) => tag.name).sort()).toEqual([...used].sort());
  });
});

describe('the Problem schema describes the bodies actually sent', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats.default(ajv);

  function validateProblem(body: unknown): unknown[] {
    const { schemas } = doc('/openapi.json').components;
    ajv.removeSchema('openapi');
    ajv.addSchema({ $id: 'openapi', components: { schemas } });
    const validate = ajv.getSchema('openapi#/components/schemas/Problem');
    if (!validate) throw new Error('no Problem schema');
    return validate(body) ? [] : (validate.errors ?? []);
  }

  it('accepts the example it documents', () => {
    const problem = doc('/openapi.json').components.schemas.Problem as { examples: unknown[] };
    for (const example of problem.examples) expect(validateProblem(example)).toEqual([]);
  });

  it.each([
    ['an unknown path', 404, { method: 'GET' as const, url: '/api/v1/no/such/{thing}|"' }],
    ['an unknown problem type', 404, { method: 'GET' as const, url: '/problems/no-such-problem' }],
    ['a method not allowed', 405, { method: 'PUT' as const, url: '/health/live' }],
    [
      'a body with invalid and unknown fields',
      422,
      {
        method: 'POST' as const,
        url: '/api/v2/widgets',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ name: '', 'a/b~c': 1, 'x\u0001': 2 }),
      },
    ],
    [
      'malformed JSON',
      400,
      {
        method: 'POST' as const,
        url: '/api/v1/widgets',
        headers: { 'content-type': 'application/json' },
        payload: '{"name":',
      },
    ],
    ['an invalid query', 422, { method: 'GET' as const, url: '/api/v1/widgets/abc?fields=X&other=1' }],
  ])('for %s', async (_name, status, request) => {
    const res = await t.app.inject(request);
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(validateProblem(res.json())).toEqual([]);
  });
});

describe('response headers and security', () => {
  it('documents the Cache-Control of every response of every operation, and the policy in the description', () => {
    const document = doc('/openapi.json');
    expect(document.info.description).toMatch(/\*\*Caching:\*\*.*`no-store`.*`private, no-cache`/);
    let seen = 0;
    for (const [path, method, op] of operations(document)) {
      for (const [status, response] of Object.entries(op.responses)) {
        const header = (response as { headers?: Record<string, { schema?: { enum?: string[] } }> }).headers?.[
          'Cache-Control'
        ];
        const values = header?.schema?.enum ?? [];
        expect(values, `${method} ${path} ${status}`).toHaveLength(1);
        const value = values[0] ?? '';
        // An error is never kept by a shared cache; only reads are public.
        if (Number(status) >= 400)
          expect(value, `${method} ${path} ${status}`).toMatch(/^(no-store|private, no-cache)$/);
        if (value.startsWith('public')) expect(method, `${method} ${path} ${status}`).toBe('get');
        seen += 1;
      }
    }
    expect(seen).toBeGreaterThan(500);
  });

  it('documents each response header as a header object with a flat schema', () => {
    let seen = 0;
    for (const [path, method, op] of operations(doc('/openapi.json'))) {
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        const headers =
          (response as { headers?: Record<string, { schema?: Record<string, unknown> }> }).headers ?? {};
        for (const [name, header] of Object.entries(headers)) {
          seen += 1;
          // Scalars: text, or a whole number (the RateLimit-* counts and seconds, Retry-After).
          expect(['string', 'integer'], `${method} ${path} ${status} ${name}`).toContain(header.schema?.type);
          expect(header.schema?.schema, `${method} ${path} ${status} ${name}`).toBeUndefined();
        }
      }
    }
    expect(seen).toBeGreaterThan(0);
  });

  it('declares security on every operation: none on the public ones, the schemes elsewhere', () => {
    const document = doc('/openapi.json') as OpenApi & {
      components: { securitySchemes?: Record<string, { type: string; flows?: unknown }> };
    };
    expect(Object.keys(document.components.securitySchemes ?? {}).sort()).toEqual([
      'apiKey',
      'bearerAuth',
      'oauth2',
    ]);
    expect(document.components.securitySchemes?.apiKey).toMatchObject({ in: 'header', name: 'X-API-Key' });
    const tasks = document.paths['/api/v1/tasks']?.get as { security?: unknown[] };
    expect(tasks.security).toEqual([{ bearerAuth: [] }, { oauth2: [] }, { apiKey: [] }]);
    // The routes closed to keys do not offer them.
    for (const closed of ['/api/v1/api-keys', '/api/v2/auth/sessions']) {
      const op = document.paths[closed]?.get as { security?: unknown[] };
      expect(op.security, closed).toEqual([{ bearerAuth: [] }, { oauth2: [] }]);
    }
    expect(document.components.securitySchemes?.oauth2?.flows).toMatchObject({
      password: {
        tokenUrl: expect.stringMatching(/\/api\/v1\/auth\/token$/),
        refreshUrl: expect.any(String),
      },
    });
    const login = document.paths['/api/v1/auth/login']?.post as { security?: unknown[] };
    expect(login.security).toEqual([]);
    const me = document.paths['/api/v1/users/me']?.get as { security?: unknown[] };
    expect(me.security).toEqual(expect.arrayContaining([{ bearerAuth: [] }, { oauth2: [] }]));
  });
});
