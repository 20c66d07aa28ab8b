import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { operationsOf } from './operations.js';

/**
 * What the hostile-input campaign (hostile-input.test.ts) found, one regression test each, so a
 * finding stays fixed even when the generators no longer happen to produce it.
 */
let t: TestApp;
let auth: Record<string, string>;
beforeAll(async () => {
  t = await buildTestApp();
  auth = (await signedIn(t.app)).headers;
});
afterAll(async () => t.close());

describe('finding 1: a body sent to a route that takes none', () => {
  it('is parsed like any body (400, 413, 415), and those replies are documented', async () => {
    const task = (
      await t.app.inject({ method: 'POST', url: '/api/v1/tasks', headers: auth, payload: { title: 'x' } })
    ).json() as { id: string };
    const url = `/api/v1/tasks/${task.id}`;
    const send = (type: string, payload: string) =>
      t.app.inject({ method: 'DELETE', url, headers: { ...auth, 'content-type': type }, payload });
    expect((await send('text/plain', 'x')).json()).toMatchObject({
      status: 415,
      code: 'unsupported_media_type',
    });
    expect((await send('application/json', '{')).json()).toMatchObject({
      status: 400,
      code: 'malformed_json',
    });
    const big = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout-all',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: JSON.stringify({ pad: 'x'.repeat(20_000) }),
    });
    expect(big.json()).toMatchObject({ status: 413, code: 'payload_too_large' });
    // The task is still there: nothing was deleted by a refused request.
    expect((await t.app.inject({ method: 'GET', url, headers: auth })).statusCode).toBe(200);

    const operations = await operationsOf(t.app);
    const bodyMethods = operations.filter((o) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(o.method));
    expect(bodyMethods.map((o) => `${o.method} ${o.path}`)).toContain('DELETE /api/v1/tasks/{id}');
    for (const operation of bodyMethods) {
      for (const status of [400, 413, 415]) {
        expect(
          operation.statuses.has(status),
          `${operation.method} ${operation.path} documents ${status}`,
        ).toBe(true);
      }
    }
  });
});
