import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import type { OpenApiDocument } from '../helpers/contract.js';
import { signedIn } from '../helpers/factories.js';

/**
 * Statuses the document lists that the rest of the suite does not produce (the "operation × status
 * coverage" of test/global-setup.ts): each is produced here, on both API versions where both list it.
 */

let t: TestApp;
let admin: Awaited<ReturnType<typeof signedIn>>;

beforeAll(async () => {
  t = await buildTestApp();
  admin = await signedIn(t.app, 'admin');
});
afterAll(() => t.close());

interface Operation {
  method: string;
  path: string;
  statuses: string[];
}

/** Operations of both documents that take a body, with the statuses they list. */
async function bodyOperations(): Promise<Operation[]> {
  const operations: Operation[] = [];
  for (const version of ['v1', 'v2']) {
    const doc = (
      await t.app.inject({ method: 'GET', url: `/openapi/${version}.json` })
    ).json() as OpenApiDocument;
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      for (const [method, op] of Object.entries(
        item as Record<string, { requestBody?: unknown; responses?: Record<string, unknown> }>,
      )) {
        if (!op?.requestBody || !op.responses) continue;
        operations.push({ method: method.toUpperCase(), path, statuses: Object.keys(op.responses) });
      }
    }
  }
  return operations;
}

/** The path with each {param} replaced by a random UUID: the body is read before any lookup. */
function concrete(path: string): string {
  return path.replace(/\{[^}]+\}/g, () => randomUUID());
}

describe('413 and 415 on every body-taking operation that lists them', () => {
  it('an over-limit JSON body → 413 payload_too_large; a text/plain body → 415 unsupported_media_type', async () => {
    const operations = await bodyOperations();
    const big = JSON.stringify({ name: 'x'.repeat(1_100_000) });
    const seen: string[] = [];
    for (const op of operations) {
      const method = op.method as 'POST' | 'PATCH' | 'PUT';
      if (op.statuses.includes('413')) {
        const res = await t.app.inject({
          method,
          url: concrete(op.path),
          headers: { ...admin.headers, 'content-type': 'application/json' },
          payload: big,
        });
        expect([op.method, op.path, res.statusCode, res.json().code]).toEqual([
          op.method,
          op.path,
          413,
          'payload_too_large',
        ]);
        seen.push(`${op.method} ${op.path} 413`);
      }
      if (op.statuses.includes('415')) {
        const res = await t.app.inject({
          method,
          url: concrete(op.path),
          headers: { ...admin.headers, 'content-type': 'text/plain' },
          payload: '{}',
        });
        expect([op.method, op.path, res.statusCode, res.json().code]).toEqual([
          op.method,
          op.path,
          415,
          'unsupported_media_type',
        ]);
        seen.push(`${op.method} ${op.path} 415`);
      }
    }
    // Both versions hold body-taking operations that list each status.
    expect(seen.filter((s) => s.endsWith('413')).length).toBeGreaterThan(20);
    expect(seen.filter((s) => s.endsWith('415')).length).toBeGreaterThan(20);
  });
});
