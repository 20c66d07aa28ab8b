import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_WEBHOOKS_PER_USER } from '../../src/modules/webhooks/webhooks.schemas.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import type { OpenApiDocument } from '../helpers/contract.js';
import { createUser, login, PASSWORD, personalProjectId, signedIn } from '../helpers/factories.js';
import { parseRaw, rawRequest } from '../helpers/http.js';
import { createProject } from '../helpers/projects.js';
import { until } from '../helpers/wait.js';
import { deliveriesOf, insertWebhook, record, taskChange } from '../helpers/webhooks.js';

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
  takesBody: boolean;
  /** The first media type its request body is documented in (JSON, or the token endpoint's form). */
  bodyType: string | undefined;
  /** Whether the operation asks for credentials (a non-empty `security`, its own or the document's). */
  secured: boolean;
}

interface OperationObject {
  requestBody?: { content?: Record<string, unknown> };
  responses?: Record<string, unknown>;
  security?: Record<string, string[]>[];
}

let operationsRead: Promise<Operation[]> | undefined;

/** Every operation of both documents, with the statuses it lists (the documents read once). */
function documentedOperations(): Promise<Operation[]> {
  operationsRead ??= readOperations();
  return operationsRead;
}

async function readOperations(): Promise<Operation[]> {
  const operations: Operation[] = [];
  for (const version of ['v1', 'v2']) {
    const doc = (
      await t.app.inject({ method: 'GET', url: `/openapi/${version}.json` })
    ).json() as OpenApiDocument & { security?: Record<string, string[]>[] };
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      for (const [method, op] of Object.entries(item as Record<string, OperationObject>)) {
        if (!op?.responses) continue;
        const security = op.security ?? doc.security ?? [];
        operations.push({
          method: method.toUpperCase(),
          path,
          statuses: Object.keys(op.responses),
          takesBody: op.requestBody !== undefined,
          bodyType: Object.keys(op.requestBody?.content ?? {})[0],
          // `{}` in the list is "no credentials needed".
          secured:
            security.length > 0 && security.every((requirement) => Object.keys(requirement).length > 0),
        });
      }
    }
  }
  return operations;
}

/** The path with each {param} replaced by a random UUID: the body is read before any lookup. */
function concrete(path: string): string {
  return path.replace(/\{[^}]+\}/g, () => randomUUID());
}

type BodyMethod = 'POST' | 'PATCH' | 'PUT' | 'DELETE';
const BODY_METHODS = ['POST', 'PATCH', 'PUT', 'DELETE'];

describe('the statuses of reading a body, on every operation that lists them', () => {
  it('an over-limit JSON body → 413 payload_too_large; a text/plain body → 415 unsupported_media_type', async () => {
    const operations = (await documentedOperations()).filter((op) => BODY_METHODS.includes(op.method));
    const big = JSON.stringify({ name: 'x'.repeat(1_100_000) });
    const seen: string[] = [];
    for (const op of operations) {
      const method = op.method as BodyMethod;
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

  it('a JSON body cut short → 400 malformed_json, before any lookup', async () => {
    const operations = (await documentedOperations()).filter(
      (op) => op.takesBody && op.statuses.includes('400'),
    );
    for (const op of operations) {
      const res = await t.app.inject({
        method: op.method as BodyMethod,
        url: concrete(op.path),
        headers: { ...admin.headers, 'content-type': 'application/json' },
        payload: '{"name":',
      });
      expect([op.method, op.path, res.statusCode, res.json().code]).toEqual([
        op.method,
        op.path,
        400,
        'malformed_json',
      ]);
    }
    expect(operations.length).toBeGreaterThan(20);
  });
});

describe('every operation that lists 422 or 404', () => {
  it('a query parameter it does not take → 422 validation_failed, before any lookup', async () => {
    const operations = (await documentedOperations()).filter((op) => op.statuses.includes('422'));
    for (const op of operations) {
      const res = await t.app.inject({
        method: op.method as BodyMethod | 'GET',
        url: `${concrete(op.path)}?unknown=1`,
        ...(op.takesBody
          ? {
              headers: { ...admin.headers, 'content-type': op.bodyType ?? 'application/json' },
              payload: op.bodyType === 'application/json' ? '{}' : '',
            }
          : { headers: admin.headers }),
      });
      // The token endpoint answers bad input with 400, as RFC 6749 §5.2 has it.
      const status = op.path.endsWith('/auth/token') ? 400 : 422;
      expect([op.method, op.path, res.statusCode, res.json().code]).toEqual([
        op.method,
        op.path,
        status,
        'validation_failed',
      ]);
    }
    expect(operations.length).toBeGreaterThan(80);
  });

  it('ids that name nothing → 404 not_found on the ones that take no body', async () => {
    const operations = (await documentedOperations()).filter(
      (op) => op.statuses.includes('404') && !op.takesBody && op.path.includes('{'),
    );
    for (const op of operations) {
      const res = await t.app.inject({
        method: op.method as BodyMethod | 'GET',
        url: concrete(op.path),
        headers: admin.headers,
      });
      expect([op.method, op.path, res.statusCode, res.json().code]).toEqual([
        op.method,
        op.path,
        404,
        'not_found',
      ]);
    }
    expect(operations.length).toBeGreaterThan(30);
  });
});

describe('every operation that asks for credentials', () => {
  it('answers 401 unauthorized to a request without any', async () => {
    const operations = (await documentedOperations()).filter((op) => op.secured);
    for (const op of operations) {
      expect(op.statuses, `${op.method} ${op.path}`).toContain('401');
      const res = await t.app.inject({
        method: op.method as BodyMethod | 'GET',
        url: concrete(op.path),
        ...(op.takesBody ? { headers: { 'content-type': 'application/json' }, payload: '{}' } : {}),
      });
      expect([op.method, op.path, res.statusCode, res.json().code]).toEqual([
        op.method,
        op.path,
        401,
        'unauthorized',
      ]);
    }
    expect(operations.length).toBeGreaterThan(80);
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

describe.each(VERSIONS)('malformed input on %s', (version) => {
  it('a query parameter the DELETEs do not take → 422, before the lookup', async () => {
    const a = await signedIn(t.app);
    const projectId = await personalProjectId(t.app, a.user.id);
    for (const url of [
      `/comments/${randomUUID()}?unknown=1`,
      `/projects/${randomUUID()}?unknown=1`,
      `/projects/${projectId}/members/${randomUUID()}?unknown=1`,
      `/tasks/${randomUUID()}?unknown=1`,
    ]) {
      const res = await send(version, 'DELETE', url, a.headers);
      expect([url, res.statusCode, (res.json() as { code: string }).code]).toEqual([
        url,
        422,
        'validation_failed',
      ]);
    }
  });

  it('PATCH /users/{id} and /projects/{id} with an invalid field → 422', async () => {
    const a = await signedIn(t.app);
    const projectId = await personalProjectId(t.app, a.user.id);
    expectProblem(
      await send(version, 'PATCH', `/users/${a.user.id}`, admin.headers, { role: 5 }),
      422,
      'validation_failed',
    );
    expectProblem(
      await send(version, 'PATCH', `/projects/${projectId}`, a.headers, { name: 5 }),
      422,
      'validation_failed',
    );
  });
});

describe.each(VERSIONS)('users and comments on %s', (version) => {
  it('GET /users/{id} → 200; PATCH /users/me → 200; GET /users with a size of 0 → 422', async () => {
    const a = await signedIn(t.app);
    const one = await send(version, 'GET', `/users/${a.user.id}`, admin.headers);
    expect([one.statusCode, (one.json() as { id: string }).id]).toEqual([200, a.user.id]);
    const renamed = await send(version, 'PATCH', '/users/me', a.headers, { name: 'Renamed' });
    expect([renamed.statusCode, (renamed.json() as { name: string }).name]).toEqual([200, 'Renamed']);
    expectProblem(await send(version, 'GET', '/users?size=0', admin.headers), 422, 'validation_failed');
  });

  it('POST /auth/logout-all → 204; PATCH /webhooks/{id} of no webhook → 404', async () => {
    const a = await signedIn(t.app);
    expect((await send(version, 'POST', '/auth/logout-all', a.headers)).statusCode).toBe(204);
    expect((await send(version, 'GET', '/users/me', a.headers)).statusCode).toBe(401);
    const b = await signedIn(t.app);
    expectProblem(
      await send(version, 'PATCH', `/webhooks/${randomUUID()}`, b.headers, { active: false }),
      404,
      'not_found',
    );
  });

  it('PATCH /comments/{id} with a body of the wrong type → 422', async () => {
    const a = await signedIn(t.app);
    const projectId = await personalProjectId(t.app, a.user.id);
    const task = await send(version, 'POST', '/tasks', a.headers, { projectId, title: 'T' });
    const taskId = (task.json() as { id: string }).id;
    const comment = await send(version, 'POST', `/tasks/${taskId}/comments`, a.headers, { body: 'first' });
    expect(comment.statusCode).toBe(201);
    const commentId = (comment.json() as { id: string }).id;
    expectProblem(
      await send(version, 'PATCH', `/comments/${commentId}`, a.headers, { body: 5 }),
      422,
      'validation_failed',
    );
  });
});

describe('GET / with the ETag it sent', () => {
  it('→ 304 without a body', async () => {
    const first = await t.app.inject({ method: 'GET', url: '/' });
    const tag = first.headers.etag as string;
    expect(tag).toMatch(/^(W\/)?"/);
    const again = await t.app.inject({ method: 'GET', url: '/', headers: { 'if-none-match': tag } });
    expect([again.statusCode, again.body]).toEqual([304, '']);
  });
});

describe('GET /api/v2/users with a cursor that is not one', () => {
  it('→ 400 invalid_cursor', async () => {
    expectProblem(await send('v2', 'GET', '/users?cursor=nonsense', admin.headers), 400, 'invalid_cursor');
  });
});

describe.each(VERSIONS)('webhooks on %s', (version) => {
  it('ping → 202; inactive: ping and redeliver → 409; an event gone → 410; DELETE → 204; the 21st → 409', async () => {
    const a = await signedIn(t.app);
    const projectId = await createProject(t.app, a.user.id);
    const url = 'http://127.0.0.1:9/hook';
    const hook = await insertWebhook(t.app, { userId: a.user.id, url });
    expect((await send(version, 'POST', `/webhooks/${hook.id}/ping`, a.headers)).statusCode).toBe(202);

    await record(t.app, taskChange(projectId));
    const eventDelivery = async () =>
      (await deliveriesOf(t.db.handle, hook.id)).find((d) => d.type !== 'ping');
    await until(async () => (await eventDelivery()) !== undefined);
    const delivery = await eventDelivery();
    expect(delivery).toBeDefined();
    await t.db.handle.db.deleteFrom('events').where('position', '=', Number(delivery?.position)).execute();
    await t.db.handle.db
      .updateTable('event_log')
      .set({ pruned_through: Number(delivery?.position) })
      .execute();
    expectProblem(
      await send(version, 'POST', `/webhooks/${hook.id}/deliveries/${delivery?.id}/redeliver`, a.headers),
      410,
      'events_expired',
    );

    // Set inactive: a ping and a redelivery of its ping → 409.
    const ping = (await deliveriesOf(t.db.handle, hook.id)).find((d) => d.type === 'ping');
    await t.db.handle.db.updateTable('webhooks').set({ active: 0 }).where('id', '=', hook.id).execute();
    expectProblem(await send(version, 'POST', `/webhooks/${hook.id}/ping`, a.headers), 409, 'conflict');
    expectProblem(
      await send(version, 'POST', `/webhooks/${hook.id}/deliveries/${ping?.id}/redeliver`, a.headers),
      409,
      'conflict',
    );
    expect((await send(version, 'DELETE', `/webhooks/${hook.id}`, a.headers)).statusCode).toBe(204);

    for (let i = 0; i < MAX_WEBHOOKS_PER_USER; i += 1) await insertWebhook(t.app, { userId: a.user.id, url });
    expectProblem(
      await send(version, 'POST', '/webhooks', a.headers, {
        url: 'https://93.184.215.14/hook',
        events: ['task.created'],
      }),
      409,
      'conflict',
    );
  });

  it('the 101st API key → 409', async () => {
    const a = await signedIn(t.app);
    for (let i = 0; i < 100; i += 1)
      await t.app.ctx.services.apiKeys.create(a.user.id, 'user', { name: `k${i}`, scopes: ['tasks:read'] });
    expectProblem(
      await send(version, 'POST', '/api-keys', a.headers, { name: 'one more', scopes: ['tasks:read'] }),
      409,
      'conflict',
    );
  });
});

describe('an app with REGISTRATION=closed', () => {
  let closed: TestApp;
  beforeAll(async () => {
    closed = await buildTestApp({ env: { REGISTRATION: 'closed' } });
  });
  afterAll(() => closed.close());

  it.each(VERSIONS)('POST /api/%s/auth/register → 403 registration_closed', async (version) => {
    const res = await closed.app.inject({
      method: 'POST',
      url: `/api/${version}/auth/register`,
      payload: { email: 'closed@example.com', password: 'a passphrase nobody guesses 7', name: 'N' },
    });
    expectProblem(res, 403, 'registration_closed');
  });
});

describe('GET /metrics over HTTP/1.1 without a Host header', () => {
  it('→ 400 malformed_json, like every route', async () => {
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as AddressInfo;
    const res = parseRaw(await rawRequest(port, 'GET /metrics HTTP/1.1\r\n\r\n'));
    expect([res.status, (JSON.parse(res.body) as { code: string }).code]).toEqual([400, 'malformed_json']);
  });
});
