import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  COLLECTION_FILE,
  collectionOf,
  collectionText,
  METHODS,
  type OpenApiDocument,
} from '../../scripts/collection.js';
import { localOpenApiDocument } from '../../scripts/openapi-document.js';

/** The request collection in requests/: the Postman export is current, every .http request exists. */

const REQUESTS = join(process.cwd(), 'requests');
let doc: OpenApiDocument;

beforeAll(async () => {
  doc = await localOpenApiDocument();
});

/** The document's operations as [method, path pattern]; a `{param}` matches any one segment. */
function operations(): { method: string; pattern: RegExp; path: string }[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => m in item).map((m) => ({
      method: m.toUpperCase(),
      path,
      pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    })),
  );
}

function httpRequests(): { file: string; line: number; method: string; path: string }[] {
  const files = readdirSync(REQUESTS).filter((f) => f.endsWith('.http'));
  return files.flatMap((file) =>
    readFileSync(join(REQUESTS, file), 'utf8')
      .split('\n')
      .flatMap((text, i) => {
        const match = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+)/.exec(text);
        if (!match) return [];
        const url = match[2] ?? '';
        // {{baseUrl}} first; a variable inside the path stands for one segment.
        const path = url.replace(/^\{\{baseUrl\}\}/, '').split('?')[0] ?? '';
        return [{ file, line: i + 1, method: match[1] ?? '', path: path.replace(/\{\{[^}]+\}\}/g, 'x') }];
      }),
  );
}

describe('the request collection', () => {
  it('requests/taskforge.postman_collection.json is what npm run generate:collection makes now', () => {
    const committed = readFileSync(COLLECTION_FILE, 'utf8');
    const current = collectionText(collectionOf(doc));
    // Not toBe on 190 kB: say where it differs, and what to run.
    if (committed !== current) {
      const at = [...committed].findIndex((c, i) => c !== current[i]);
      expect.fail(
        `the committed collection is stale from character ${at} (…${current.slice(Math.max(0, at - 60), at + 60)}…): run npm run generate:collection`,
      );
    }
  });

  it('is a v2.1 collection: a folder per tag, every operation once, bearer auth, example bodies', () => {
    const collection = JSON.parse(readFileSync(COLLECTION_FILE, 'utf8')) as {
      info: { schema: string };
      auth: { type: string; bearer: { key: string; value: string }[] };
      variable: { key: string }[];
      item: {
        name: string;
        item: { name: string; request: { method: string; url: { raw: string }; body?: { raw?: string } } }[];
      }[];
    };
    expect(collection.info.schema).toBe(
      'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
    );
    expect(collection.auth).toEqual({
      type: 'bearer',
      bearer: [{ key: 'token', value: '{{accessToken}}', type: 'string' }],
    });
    expect(collection.variable.map((v) => v.key)).toEqual(expect.arrayContaining(['baseUrl', 'accessToken']));
    expect(collection.item.map((f) => f.name)).toEqual((doc.tags ?? []).map((t) => t.name));
    const requests = collection.item.flatMap((f) => f.item.map((i) => i.request));
    expect(requests).toHaveLength(operations().length);
    const create = requests.find((r) => r.method === 'POST' && r.url.raw === '{{baseUrl}}/api/v1/tasks');
    expect(JSON.parse(create?.body?.raw ?? '{}')).toMatchObject({ title: 'Buy milk' });
    const login = requests.find((r) => r.url.raw === '{{baseUrl}}/api/v1/auth/login');
    expect(JSON.parse(login?.body?.raw ?? '{}')).toEqual({
      email: 'ada@example.com',
      password: '{{password}}',
    });
  });

  it("every .http request's method and path is an operation of the OpenAPI document", () => {
    const ops = operations();
    const requests = httpRequests();
    expect(requests.length).toBeGreaterThan(30);
    const unknown = requests.filter(
      (r) => !ops.some((op) => op.method === r.method && op.pattern.test(r.path)),
    );
    expect(unknown).toEqual([]);
    // The flow the collection promises is there: If-Match writes, a v2 page, the feed, API keys.
    const texts = readdirSync(REQUESTS)
      .filter((f) => f.endsWith('.http'))
      .map((f) => readFileSync(join(REQUESTS, f), 'utf8'))
      .join('\n');
    for (const needle of [
      'If-Match:',
      '/api/v2/tasks?',
      '/api/v1/events',
      '/api/v1/api-keys',
      '/api/v1/projects',
      '/auth/register',
    ]) {
      expect(texts).toContain(needle);
    }
  });
});
