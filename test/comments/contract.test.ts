import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueKey, xApiKey } from '../api-keys/helpers.js';
import { apiCaller, fieldItems, type Headers } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { addMember, createProject, createTaskIn, setArchived } from '../helpers/comment-fixtures.js';
import { personalProjectId, signedIn } from '../helpers/factories.js';

/**
 * Comments against API.md §7 and the general rules of §1–§4, as a client sees them: status,
 * code, pointer, headers and the exact shape of each reply, in both versions.
 */

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const call = apiCaller(() => t.app);
const raw = (method: 'POST' | 'PATCH', url: string, headers: Headers, payload: string) =>
  t.app.inject({ method, url: `/api/v1${url}`, headers, payload });

function expectProblem(
  res: {
    statusCode: number;
    body: string;
    headers: Record<string, unknown>;
    json(): Record<string, unknown>;
  },
  status: number,
  code: string,
) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json().code).toBe(code);
}

function expectPrivate(res: { headers: Record<string, unknown> }) {
  expect(res.headers['cache-control']).toBe('private, no-cache');
  expect(String(res.headers.vary)).toMatch(/Authorization, X-API-Key/);
}

/** JSON as clients that escape every non-ASCII character send it (Python's json.dumps default). */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

async function scene() {
  const owner = await signedIn(t.app);
  const projectId = await createProject(t.app, owner.user.id);
  const taskId = await createTaskIn(t.app, projectId, owner.user.id);
  return { owner, projectId, taskId };
}

describe('the comment reply', () => {
  it('has exactly the documented fields, in both versions, with Location of its own version', async () => {
    const { owner, taskId } = await scene();
    const res = await call('POST', `/tasks/${taskId}/comments`, owner.headers, { body: 'Hello' });
    expect(res.statusCode).toBe(201);
    expectPrivate(res);
    const comment = res.json();
    expect(comment).toEqual({
      id: expect.any(String),
      taskId,
      authorId: owner.user.id,
      body: 'Hello',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updatedAt: comment.createdAt,
      edited: false,
    });
    expect(res.headers.location).toBe(`/api/v1/comments/${comment.id}`);
    const v2 = await t.app.inject({
      method: 'POST',
      url: `/api/v2/tasks/${taskId}/comments`,
      headers: owner.headers,
      payload: { body: 'Two' },
    });
    expect(v2.statusCode).toBe(201);
    expect(v2.headers.location).toBe(`/api/v2/comments/${v2.json().id}`);
    const got = await t.app.inject({
      method: 'GET',
      url: `/api/v2/comments/${comment.id}`,
      headers: owner.headers,
    });
    expect(got.json()).toEqual(comment);
    expectPrivate(got);
    expect(got.headers['ratelimit-limit']).toBeDefined();
  });
});

describe('bodies', () => {
  it('a valid body of 10,000 code points passes however the JSON escapes it (not 413)', async () => {
    const { owner, taskId } = await scene();
    const body = '😀'.repeat(10_000);
    const res = await raw(
      'POST',
      `/tasks/${taskId}/comments`,
      { ...owner.headers, 'content-type': 'application/json' },
      asciiJson({ body }),
    );
    expect(res.statusCode, res.body.slice(0, 200)).toBe(201);
    expect(res.json().body).toBe(body);
    const patched = await raw(
      'PATCH',
      `/comments/${res.json().id}`,
      { ...owner.headers, 'content-type': 'application/json' },
      asciiJson({ body: `${'é'.repeat(9_999)}!` }),
    );
    expect(patched.statusCode, patched.body.slice(0, 200)).toBe(200);
  });

  it('over BODY_LIMIT_BYTES → 413; a long body within it → 422 too_long on /body', async () => {
    const { owner, taskId } = await scene();
    const tooLong = await call('POST', `/tasks/${taskId}/comments`, owner.headers, {
      body: 'x'.repeat(70_000),
    });
    expectProblem(tooLong, 422, 'validation_failed');
    expect(fieldItems(tooLong)).toEqual([['/body', 'too_long']]);
    const huge = await call('POST', `/tasks/${taskId}/comments`, owner.headers, {
      body: 'x'.repeat(1_100_000),
    });
    expectProblem(huge, 413, 'payload_too_large');
  });

  it('empty or broken JSON → 400 malformed_json; text/plain → 415; body null or a number → 422 type', async () => {
    const { owner, taskId } = await scene();
    const json = { ...owner.headers, 'content-type': 'application/json' };
    expectProblem(await raw('POST', `/tasks/${taskId}/comments`, json, ''), 400, 'malformed_json');
    expectProblem(await raw('POST', `/tasks/${taskId}/comments`, json, '{"body":'), 400, 'malformed_json');
    expectProblem(
      await raw(
        'POST',
        `/tasks/${taskId}/comments`,
        { ...owner.headers, 'content-type': 'text/plain' },
        'hi',
      ),
      415,
      'unsupported_media_type',
    );
    const isNull = await call('POST', `/tasks/${taskId}/comments`, owner.headers, { body: null });
    expect(fieldItems(isNull)).toEqual([['/body', 'type']]);
    const missing = await call('POST', `/tasks/${taskId}/comments`, owner.headers, {});
    expect(fieldItems(missing)).toEqual([['/body', 'required']]);
    const control = await call('POST', `/tasks/${taskId}/comments`, owner.headers, { body: 'a\u0000b' });
    expect(fieldItems(control)).toEqual([['/body', 'pattern']]);
    const { id } = (await call('POST', `/tasks/${taskId}/comments`, owner.headers, { body: 'x' })).json();
    const patchNull = await call('PATCH', `/comments/${id}`, owner.headers, { body: null });
    expect(fieldItems(patchNull)).toEqual([['/body', 'type']]);
    const readOnly = await call('PATCH', `/comments/${id}`, owner.headers, { body: 'y', taskId, id });
    expect(fieldItems(readOnly).sort()).toEqual([
      ['/id', 'read_only'],
      ['/taskId', 'read_only'],
    ]);
  });
});

describe('tasks that are gone or hidden', () => {
  it('a comment on a deleted task → 404; its comments are 404 too', async () => {
    const { owner, taskId } = await scene();
    const { id } = (await call('POST', `/tasks/${taskId}/comments`, owner.headers, { body: 'x' })).json();
    expect((await call('DELETE', `/tasks/${taskId}`, owner.headers)).statusCode).toBe(204);
    expectProblem(
      await call('POST', `/tasks/${taskId}/comments`, owner.headers, { body: 'y' }),
      404,
      'not_found',
    );
    expectProblem(await call('GET', `/tasks/${taskId}/comments`, owner.headers), 404, 'not_found');
    expectProblem(await call('GET', `/comments/${id}`, owner.headers), 404, 'not_found');
    expectProblem(await call('PATCH', `/comments/${id}`, owner.headers, { body: 'z' }), 404, 'not_found');
    expectProblem(await call('DELETE', `/comments/${id}`, owner.headers), 404, 'not_found');
  });

  it('malformed ids → 404 problem+json, private', async () => {
    const { owner } = await scene();
    for (const [method, url, body] of [
      ['GET', '/tasks/nope/comments'],
      ['POST', '/tasks/nope/comments', { body: 'x' }],
      ['GET', '/comments/nope'],
      ['PATCH', '/comments/nope', { body: 'x' }],
      ['DELETE', '/comments/nope'],
      ['GET', `/comments/${'9'.repeat(300)}`],
    ] as const) {
      const res = await call(method, url, owner.headers, body);
      expectProblem(res, 404, 'not_found');
      expectPrivate(res);
    }
  });
});

describe('lists', () => {
  it('v1: page/size with a total; v2: limit with nextCursor and Link rel=next; bad parameters → 422', async () => {
    const { owner, taskId } = await scene();
    for (const body of ['a', 'b', 'c']) {
      await call('POST', `/tasks/${taskId}/comments`, owner.headers, { body });
    }
    const v1 = await call('GET', `/tasks/${taskId}/comments?page=2&size=2`, owner.headers);
    expect(v1.statusCode).toBe(200);
    expectPrivate(v1);
    expect(v1.json()).toMatchObject({ page: 2, size: 2, total: 3 });
    expect(v1.json().items.map((c: { body: string }) => c.body)).toEqual(['c']);
    const v2 = await t.app.inject({
      method: 'GET',
      url: `/api/v2/tasks/${taskId}/comments?limit=2`,
      headers: owner.headers,
    });
    expect(v2.statusCode).toBe(200);
    expectPrivate(v2);
    expect(v2.json().items.map((c: { body: string }) => c.body)).toEqual(['a', 'b']);
    expect(typeof v2.json().nextCursor).toBe('string');
    expect(String(v2.headers.link)).toMatch(/rel="next"/);
    const bad = await call('GET', `/tasks/${taskId}/comments?size=0`, owner.headers);
    expect(fieldItems(bad).map(([p]) => p)).toEqual(['/query/size']);
    const badCursor = await t.app.inject({
      method: 'GET',
      url: `/api/v2/tasks/${taskId}/comments?cursor=zzz`,
      headers: owner.headers,
    });
    expectProblem(badCursor, 400, 'invalid_cursor');
  });
});

describe('roles, keys and guests', () => {
  it('a guest whose personal project caps it at commenter comments in its Inbox', async () => {
    const g = await signedIn(t.app, 'guest');
    const inbox = await personalProjectId(t.app, g.user.id);
    const taskId = await createTaskIn(t.app, inbox, g.user.id);
    const res = await call('POST', `/tasks/${taskId}/comments`, g.headers, { body: 'mine' });
    expect(res.statusCode).toBe(201);
  });

  it('a key with projects:read only may not read comments (403); tasks:read reads them', async () => {
    const { owner, taskId } = await scene();
    const projectsOnly = await issueKey(t.app, owner.headers, ['projects:read']);
    expectProblem(
      await call('GET', `/tasks/${taskId}/comments`, xApiKey(projectsOnly.key)),
      403,
      'forbidden',
    );
    const tasksRead = await issueKey(t.app, owner.headers, ['tasks:read']);
    expect((await call('GET', `/tasks/${taskId}/comments`, xApiKey(tasksRead.key))).statusCode).toBe(200);
    expectProblem(
      await call('POST', `/tasks/${taskId}/comments`, xApiKey(tasksRead.key), { body: 'x' }),
      403,
      'forbidden',
    );
  });

  it('archived: the owner deleting a comment → 409 project_archived; editing own → 409', async () => {
    const { owner, projectId, taskId } = await scene();
    const c = await signedIn(t.app);
    await addMember(t.app, projectId, c.user.id, 'commenter');
    const { id } = (await call('POST', `/tasks/${taskId}/comments`, c.headers, { body: 'x' })).json();
    await setArchived(t.app, projectId, true);
    expectProblem(await call('DELETE', `/comments/${id}`, owner.headers), 409, 'project_archived');
    expectProblem(await call('PATCH', `/comments/${id}`, c.headers, { body: 'y' }), 409, 'project_archived');
    expect((await call('GET', `/comments/${id}`, c.headers)).statusCode).toBe(200);
    expect((await call('GET', `/tasks/${taskId}/comments`, c.headers)).statusCode).toBe(200);
  });
});

describe('caching of replies refused by the route policy', () => {
  it("401 and a key-scope 403 under /comments and a task's /comments are private, no-cache and vary by credentials", async () => {
    const { owner, taskId } = await scene();
    const { id } = (await call('POST', `/tasks/${taskId}/comments`, owner.headers, { body: 'x' })).json();
    const projectsKey = await issueKey(t.app, owner.headers, ['projects:read']);
    const refused = [
      await call('GET', `/tasks/${taskId}/comments`, {}),
      await call('POST', `/tasks/${taskId}/comments`, { authorization: 'Bearer nope' }, { body: 'x' }),
      await call('GET', `/comments/${id}`, xApiKey(projectsKey.key)),
      await call('PATCH', `/comments/${id}`, xApiKey(projectsKey.key), { body: 'y' }),
      await call('DELETE', `/comments/${id}`, {}),
    ];
    for (const res of refused) {
      expect([401, 403]).toContain(res.statusCode);
      expectPrivate(res);
    }
  });
});
