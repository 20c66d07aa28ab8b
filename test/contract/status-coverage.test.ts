import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import type { OpenApiDocument } from '../helpers/contract.js';
import { createUser, login, PASSWORD, signedIn } from '../helpers/factories.js';

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

const VERSIONS = ['v1', 'v2'] as const;
type Version = (typeof VERSIONS)[number];
type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

function send(
  version: Version,
  method: Method,
  url: string,
  headers: Record<string, string> = {},
  payload?: unknown,
) {
  return t.app.inject({
    method,
    url: `/api/${version}${url}`,
    headers,
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
}

function expectProblem(res: { statusCode: number; json(): unknown }, status: number, code: string): void {
  expect([res.statusCode, (res.json() as { code?: string }).code]).toEqual([status, code]);
}

describe.each(VERSIONS)('the same scenario on %s', (version) => {
  it('POST /api-keys → 201; GET /api-keys/{id} → 200; DELETE → 204', async () => {
    const a = await signedIn(t.app);
    const created = await send(version, 'POST', '/api-keys', a.headers, {
      name: 'k',
      scopes: ['tasks:read'],
    });
    expect(created.statusCode).toBe(201);
    const { id } = created.json() as { id: string };
    expect((await send(version, 'GET', `/api-keys/${id}`, a.headers)).statusCode).toBe(200);
    expect((await send(version, 'DELETE', `/api-keys/${id}`, a.headers)).statusCode).toBe(204);
    expectProblem(await send(version, 'GET', `/api-keys/${id}`, a.headers), 404, 'not_found');
  });

  it('DELETE /auth/sessions/{id} of another session → 204', async () => {
    const a = await signedIn(t.app);
    const second = await login(t.app, a.user.email);
    const list = (await send(version, 'GET', '/auth/sessions', a.headers)).json() as {
      items: { id: string; current: boolean }[];
    };
    const other = list.items.find((s) => !s.current);
    expect(other).toBeDefined();
    expect((await send(version, 'DELETE', `/auth/sessions/${other?.id}`, a.headers)).statusCode).toBe(204);
    expect(
      (await send(version, 'GET', '/users/me', { authorization: `Bearer ${second.accessToken}` })).statusCode,
    ).toBe(401);
  });

  it('GET /projects/{id} and /tasks/{id} with a matching If-None-Match → 304; PUT /tasks/{id} with a stale If-Match → 412', async () => {
    const a = await signedIn(t.app);
    const project = await send(version, 'POST', '/projects', a.headers, { name: 'P' });
    expect(project.statusCode).toBe(201);
    const projectId = (project.json() as { id: string }).id;
    const projectTag = (await send(version, 'GET', `/projects/${projectId}`, a.headers)).headers
      .etag as string;
    const notModified = await send(version, 'GET', `/projects/${projectId}`, {
      ...a.headers,
      'if-none-match': projectTag,
    });
    expect(notModified.statusCode).toBe(304);

    const task = await send(version, 'POST', '/tasks', a.headers, { projectId, title: 'T' });
    expect(task.statusCode).toBe(201);
    const taskId = (task.json() as { id: string }).id;
    const stale = task.headers.etag as string;
    expect(
      (await send(version, 'GET', `/tasks/${taskId}`, { ...a.headers, 'if-none-match': stale })).statusCode,
    ).toBe(304);
    expect((await send(version, 'PATCH', `/tasks/${taskId}`, a.headers, { title: 'T2' })).statusCode).toBe(
      200,
    );
    expectProblem(
      await send(
        version,
        'PUT',
        `/tasks/${taskId}`,
        { ...a.headers, 'if-match': stale },
        { projectId, title: 'T3' },
      ),
      412,
      'precondition_failed',
    );
  });

  it('login: a wrong password → 401, a disabled account → 403; register an email taken → 409', async () => {
    const user = await createUser(t.app);
    expectProblem(
      await send(
        version,
        'POST',
        '/auth/login',
        {},
        { email: user.email, password: 'not the password at all' },
      ),
      401,
      'invalid_credentials',
    );
    expectProblem(
      await send(version, 'POST', '/auth/register', {}, { email: user.email, password: PASSWORD, name: 'N' }),
      409,
      'email_taken',
    );
    const disabled = await createUser(t.app);
    const patched = await send(version, 'PATCH', `/users/${disabled.id}`, admin.headers, { disabled: true });
    expect(patched.statusCode).toBe(200);
    expectProblem(
      await send(version, 'POST', '/auth/login', {}, { email: disabled.email, password: PASSWORD }),
      403,
      'account_disabled',
    );
  });

  it('POST /users with an email taken → 409 email_taken; the only admin demoting or deleting itself → 409', async () => {
    const taken = await createUser(t.app);
    const created = await send(version, 'POST', '/users', admin.headers, {
      email: taken.email,
      password: 'a passphrase nobody guesses 7',
      name: 'N',
    });
    expectProblem(created, 409, 'email_taken');
    // The file's admin is the app's only one.
    expectProblem(
      await send(version, 'PATCH', `/users/${admin.user.id}`, admin.headers, { role: 'user' }),
      409,
      'last_admin',
    );
    expectProblem(await send(version, 'DELETE', `/users/${admin.user.id}`, admin.headers), 409, 'conflict');
  });

  it('POST /auth/token with the password grant → 200', async () => {
    const user = await createUser(t.app);
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/${version}/auth/token`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        grant_type: 'password',
        username: user.email,
        password: PASSWORD,
      }).toString(),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ token_type: 'Bearer' });
  });

  it('POST /users/me/password → 204', async () => {
    const a = await signedIn(t.app);
    const res = await send(version, 'POST', '/users/me/password', a.headers, {
      currentPassword: PASSWORD,
      newPassword: 'another long passphrase of mine',
    });
    expect(res.statusCode).toBe(204);
  });

  it('GET /events/stream with a Last-Event-ID newer than the head → 410 before the stream starts', async () => {
    const a = await signedIn(t.app);
    const { head } = (await send(version, 'GET', '/events/head', a.headers)).json() as { head: string };
    const tag = head.split('-')[0];
    expectProblem(
      await send(version, 'GET', '/events/stream', {
        ...a.headers,
        'last-event-id': `${tag}-9999999999999999`,
      }),
      410,
      'events_expired',
    );
  });
});
