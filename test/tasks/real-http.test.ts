import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';

/** The task flow over a real socket: headers as a client sees them. */
let t: TestApp;
let base: string;
let auth: Record<string, string>;
beforeAll(async () => {
  t = await buildTestApp();
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/api/v1`;
  auth = (await signedIn(t.app)).headers;
});
afterAll(async () => t.close());

describe('tasks over HTTP', () => {
  it('create, read with If-None-Match, update with If-Match, list, delete', async () => {
    const created = await fetch(`${base}/tasks`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Over the wire', tags: ['Net'] }),
    });
    expect(created.status).toBe(201);
    const task = (await created.json()) as { id: string; version: number };
    expect(created.headers.get('etag')).toBe('"1"');
    expect(created.headers.get('location')).toBe(`/api/v1/tasks/${task.id}`);

    const cached = await fetch(`${base}/tasks/${task.id}`, { headers: { ...auth, 'if-none-match': '"1"' } });
    expect(cached.status).toBe(304);
    expect(cached.headers.get('etag')).toBe('"1"');
    expect(cached.headers.get('cache-control')).toBe('private, no-cache');

    const patched = await fetch(`${base}/tasks/${task.id}`, {
      method: 'PATCH',
      headers: { ...auth, 'content-type': 'application/merge-patch+json', 'if-match': '"1"' },
      body: JSON.stringify({ status: 'done' }),
    });
    expect(patched.status).toBe(200);
    expect(patched.headers.get('etag')).toBe('"2"');
    const stale = await fetch(`${base}/tasks/${task.id}`, {
      method: 'PATCH',
      headers: { ...auth, 'content-type': 'application/json', 'if-match': '"1"' },
      body: JSON.stringify({ status: 'todo' }),
    });
    expect(stale.status).toBe(412);
    expect(stale.headers.get('etag')).toBe('"2"');
    expect(stale.headers.get('content-type')).toMatch(/^application\/problem\+json/);

    const list = await fetch(`${base}/tasks?tag=NET&status=done`, { headers: auth });
    expect(((await list.json()) as { total: number }).total).toBe(1);
    expect(list.headers.get('vary')).toContain('Authorization');

    const gone = await fetch(`${base}/tasks/${task.id}`, { method: 'DELETE', headers: auth });
    expect(gone.status).toBe(204);
    expect((await fetch(`${base}/tasks/${task.id}`, { headers: auth })).status).toBe(404);
  });
});
