import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';

let t: TestApp;
let headers: Record<string, string>;
beforeAll(async () => {
  t = await buildTestApp();
  headers = (await signedIn(t.app)).headers;
});
afterAll(async () => t.close());

async function newTask() {
  return (
    await t.app.inject({ method: 'POST', url: '/api/v1/tasks', headers, payload: { title: 'x' } })
  ).json();
}
function patch(id: string, ifMatch: string | undefined, payload: object) {
  return t.app.inject({
    method: 'PATCH',
    url: `/api/v1/tasks/${id}`,
    headers: { ...headers, ...(ifMatch === undefined ? {} : { 'if-match': ifMatch }) },
    payload,
  });
}

describe('If-None-Match', () => {
  it('answers 304 with the same ETag and caching headers when the tag matches (weakly)', async () => {
    const task = await newTask();
    for (const value of ['"1"', 'W/"1"', '"7", "1"', '*']) {
      const res = await t.app.inject({
        method: 'GET',
        url: `/api/v1/tasks/${task.id}`,
        headers: { ...headers, 'if-none-match': value },
      });
      expect(res.statusCode, value).toBe(304);
      expect(res.body).toBe('');
      expect(res.headers.etag).toBe('"1"');
      expect(res.headers['cache-control']).toBe('private, no-cache');
      expect(res.headers.vary).toContain('Authorization');
    }
    const changed = await t.app.inject({
      method: 'GET',
      url: `/api/v1/tasks/${task.id}`,
      headers: { ...headers, 'if-none-match': '"2"' },
    });
    expect(changed.statusCode).toBe(200);
  });
});

describe('If-Match', () => {
  it('takes a strong match, *, or a list; refuses weak tags and mismatches with 412 and the current ETag', async () => {
    const task = await newTask();
    expect((await patch(task.id, '"1"', { title: 'a' })).statusCode).toBe(200);
    expect((await patch(task.id, '"9", "2"', { title: 'b' })).statusCode).toBe(200);
    expect((await patch(task.id, '*', { title: 'c' })).statusCode).toBe(200);
    // An unquoted 4 or a space inside the quotes is no entity tag at all: a 422 (test/http/every-reply.test.ts).
    for (const value of ['W/"4"', '"1"', '"5", W/"4"']) {
      const res = await patch(task.id, value, { title: 'd' });
      expect(res.statusCode, value).toBe(412);
      expect(res.json().code).toBe('precondition_failed');
      expect(res.headers.etag).toBe('"4"');
    }
  });

  it('DELETE honours If-Match', async () => {
    const task = await newTask();
    const stale = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/tasks/${task.id}`,
      headers: { ...headers, 'if-match': '"2"' },
    });
    expect(stale.statusCode).toBe(412);
    expect(stale.headers.etag).toBe('"1"');
    const ok = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/tasks/${task.id}`,
      headers: { ...headers, 'if-match': '"1"' },
    });
    expect(ok.statusCode).toBe(204);
  });

  it('20 concurrent PATCHes with the same If-Match: exactly one 200, the rest 412', async () => {
    const task = await newTask();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => patch(task.id, '"1"', { title: `writer ${i}` })),
    );
    const statuses = results.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(19);
    const final = (await t.app.inject({ method: 'GET', url: `/api/v1/tasks/${task.id}`, headers })).json();
    expect(final.version).toBe(2);
  });

  it('concurrent PATCHes without If-Match all apply, one version each', async () => {
    const task = await newTask();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => patch(task.id, undefined, { description: `edit ${i}` })),
    );
    expect(results.every((r) => r.statusCode === 200)).toBe(true);
    const final = (await t.app.inject({ method: 'GET', url: `/api/v1/tasks/${task.id}`, headers })).json();
    expect(final.version).toBe(11);
  });

  it('concurrent DELETEs: one 204, the rest 404', async () => {
    const task = await newTask();
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        t.app.inject({ method: 'DELETE', url: `/api/v1/tasks/${task.id}`, headers }),
      ),
    );
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([204, 404, 404, 404, 404, 404, 404, 404]);
  });
});
