import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller, fieldItems, type Headers } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { personalProjectId, signedIn } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const call = apiCaller(() => t.app);
const items = fieldItems;

describe('POST /tasks', () => {
  it('creates with defaults, Location, a strong ETag and private caching', async () => {
    const { user, headers } = await signedIn(t.app);
    const res = await call('POST', '/tasks', headers, { title: '  Buy milk  ' });
    expect(res.statusCode).toBe(201);
    const task = res.json();
    expect(task).toEqual({
      id: expect.any(String),
      ownerId: user.id,
      projectId: await personalProjectId(t.app, user.id),
      parentId: null,
      assigneeId: null,
      title: 'Buy milk',
      description: '',
      status: 'todo',
      priority: 'medium',
      startAt: null,
      dueAt: null,
      tags: [],
      completedAt: null,
      version: 1,
      createdAt: expect.stringMatching(/Z$/),
      updatedAt: task.createdAt,
    });
    expect(res.headers.location).toBe(`/api/v1/tasks/${task.id}`);
    expect(res.headers.etag).toBe('"1"');
    expect(res.headers['cache-control']).toBe('private, no-cache');
    expect(res.headers.vary).toContain('Authorization, X-API-Key');
  });

  it('normalises date-times to UTC milliseconds and lower-cases tags', async () => {
    const { headers } = await signedIn(t.app);
    const res = await call('POST', '/tasks', headers, {
      title: 'Trip',
      startAt: '2031-01-01T10:00:00.123456+02:00',
      dueAt: '2031-01-02T00:00:00Z',
      tags: ['Home', 'WORK_1', 'a-b'],
      status: 'done',
      priority: 'high',
      description: 'line 1\nline 2',
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      startAt: '2031-01-01T08:00:00.123Z',
      dueAt: '2031-01-02T00:00:00.000Z',
      tags: ['home', 'work_1', 'a-b'],
      status: 'done',
      priority: 'high',
      completedAt: expect.stringMatching(/Z$/),
    });
  });

  it('refuses every invalid field at once', async () => {
    const { headers } = await signedIn(t.app);
    const res = await call('POST', '/tasks', headers, {
      title: '',
      description: 'x'.repeat(10_001),
      status: 'later',
      priority: 'urgent',
      dueAt: '2031-01-01',
      tags: ['ok', 'not ok', 'Dup', 'dup'],
      assigneeId: 42,
    });
    expect(res.statusCode).toBe(422);
    expect(items(res)).toEqual(
      expect.arrayContaining([
        ['/title', 'too_short'],
        ['/description', 'too_long'],
        ['/status', 'enum'],
        ['/priority', 'enum'],
        ['/dueAt', 'format'],
        ['/tags/1', 'pattern'],
        ['/assigneeId', 'type'],
      ]),
    );
  });

  it.each([
    [{ title: 'x', tags: ['a', 'A'] }, '/tags/1', 'duplicate'],
    [{ title: 'x', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, '/tags', 'too_long'],
    [{ title: 'x', tags: ['x'.repeat(33)] }, '/tags/0', 'too_long'],
    [{ title: 'x', tags: 'home' }, '/tags', 'type'],
    [{ title: 'x', tags: [1] }, '/tags/0', 'type'],
    [{ title: 'x'.repeat(201) }, '/title', 'too_long'],
    [
      { title: 'x', startAt: '2031-01-02T00:00:00Z', dueAt: '2031-01-01T00:00:00Z' },
      '/dueAt',
      'invalid_range',
    ],
    [{ title: 'x', assigneeId: 'no-such-user' }, '/assigneeId', 'not_found'],
    [{ title: 'x', description: null }, '/description', 'type'],
  ])('refuses %j on %s (%s)', async (payload, pointer, code) => {
    const { headers } = await signedIn(t.app);
    const res = await call('POST', '/tasks', headers, payload);
    expect(res.statusCode).toBe(422);
    expect(items(res)).toEqual([[pointer, code]]);
  });

  it('refuses read-only and unknown fields (no mass assignment)', async () => {
    const { headers } = await signedIn(t.app);
    const res = await call('POST', '/tasks', headers, {
      title: 'x',
      ownerId: 'someone',
      version: 7,
      id: 'x',
      completedAt: null,
      createdAt: 'x',
      updatedAt: 'x',
      colour: 'red',
    });
    expect(items(res)).toEqual(
      expect.arrayContaining([
        ['/ownerId', 'read_only'],
        ['/version', 'read_only'],
        ['/id', 'read_only'],
        ['/completedAt', 'read_only'],
        ['/createdAt', 'read_only'],
        ['/updatedAt', 'read_only'],
        ['/colour', 'unknown_field'],
      ]),
    );
  });

  it('accepts startAt equal to dueAt', async () => {
    const { headers } = await signedIn(t.app);
    const at = '2031-01-01T00:00:00.000Z';
    expect((await call('POST', '/tasks', headers, { title: 'x', startAt: at, dueAt: at })).statusCode).toBe(
      201,
    );
  });

  it('refuses a body over 64 KiB with 413', async () => {
    const { headers } = await signedIn(t.app);
    const res = await call('POST', '/tasks', headers, { title: 'x', description: 'é'.repeat(40_000) });
    expect(res.statusCode).toBe(413);
  });
});

describe('PATCH and PUT', () => {
  async function created(headers: Headers, body: object = {}) {
    return (await call('POST', '/tasks', headers, { title: 'Original', ...body })).json();
  }

  it('PATCH merges: absent keeps, null clears; version +1 only on a real change', async () => {
    const { headers } = await signedIn(t.app);
    const task = await created(headers, { dueAt: '2031-01-01T00:00:00Z', tags: ['a'] });
    const same = await call('PATCH', `/tasks/${task.id}`, headers, { title: 'Original', tags: ['A'] });
    expect(same.statusCode).toBe(200);
    expect(same.json()).toEqual(task);
    expect(same.headers.etag).toBe('"1"');
    const changed = await call('PATCH', `/tasks/${task.id}`, headers, { dueAt: null, priority: 'low' });
    expect(changed.json()).toMatchObject({
      version: 2,
      dueAt: null,
      priority: 'low',
      title: 'Original',
      tags: ['a'],
    });
    expect(changed.json().updatedAt > task.updatedAt || changed.json().updatedAt === task.updatedAt).toBe(
      true,
    );
    expect(changed.headers.etag).toBe('"2"');
  });

  it('takes application/merge-patch+json', async () => {
    const { headers } = await signedIn(t.app);
    const task = await created(headers);
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/tasks/${task.id}`,
      headers: { ...headers, 'content-type': 'application/merge-patch+json' },
      payload: JSON.stringify({ status: 'in_progress' }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().status).toBe('in_progress');
  });

  it('keeps completedAt while done, clears it when leaving done', async () => {
    const { headers } = await signedIn(t.app);
    const task = await created(headers);
    const done = (await call('PATCH', `/tasks/${task.id}`, headers, { status: 'done' })).json();
    expect(done.completedAt).not.toBeNull();
    const renamed = (await call('PATCH', `/tasks/${task.id}`, headers, { title: 'Renamed' })).json();
    expect(renamed.completedAt).toBe(done.completedAt);
    const reopened = (await call('PATCH', `/tasks/${task.id}`, headers, { status: 'todo' })).json();
    expect(reopened.completedAt).toBeNull();
  });

  it('checks startAt ≤ dueAt on the merged result', async () => {
    const { headers } = await signedIn(t.app);
    const task = await created(headers, { dueAt: '2031-01-01T00:00:00Z' });
    const res = await call('PATCH', `/tasks/${task.id}`, headers, { startAt: '2031-06-01T00:00:00Z' });
    expect(res.statusCode).toBe(422);
    expect(items(res)).toEqual([['/dueAt', 'invalid_range']]);
  });

  it('refuses read-only fields in PATCH and PUT', async () => {
    const { headers } = await signedIn(t.app);
    const task = await created(headers);
    for (const method of ['PATCH', 'PUT'] as const) {
      const res = await call(method, `/tasks/${task.id}`, headers, { title: 'x', ownerId: 'me', version: 9 });
      expect(items(res)).toEqual(
        expect.arrayContaining([
          ['/ownerId', 'read_only'],
          ['/version', 'read_only'],
        ]),
      );
    }
  });

  it('PUT replaces the writable state: omitted optional fields return to their defaults', async () => {
    const { headers } = await signedIn(t.app);
    const task = await created(headers, {
      description: 'd',
      priority: 'high',
      tags: ['x'],
      dueAt: '2031-01-01T00:00:00Z',
      status: 'done',
    });
    const res = await call('PUT', `/tasks/${task.id}`, headers, { title: 'Replaced' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      title: 'Replaced',
      description: '',
      priority: 'medium',
      tags: [],
      dueAt: null,
      status: 'todo',
      completedAt: null,
      version: 2,
    });
    const missing = await call('PUT', `/tasks/${task.id}`, headers, { description: 'no title' });
    expect(missing.statusCode).toBe(422);
    expect(items(missing)).toEqual([['/title', 'required']]);
  });

  it('a PUT that changes nothing keeps version and updatedAt', async () => {
    const { headers } = await signedIn(t.app);
    const task = await created(headers);
    const res = await call('PUT', `/tasks/${task.id}`, headers, { title: 'Original' });
    expect(res.json()).toEqual(task);
  });
});

describe('DELETE', () => {
  it('deletes, then the task is gone', async () => {
    const { headers } = await signedIn(t.app);
    const task = (await call('POST', '/tasks', headers, { title: 'x' })).json();
    const res = await call('DELETE', `/tasks/${task.id}`, headers);
    expect(res.statusCode).toBe(204);
    expect((await call('GET', `/tasks/${task.id}`, headers)).statusCode).toBe(404);
    expect((await call('DELETE', `/tasks/${task.id}`, headers)).statusCode).toBe(404);
  });

  it('answers a malformed id with 404', async () => {
    const { headers } = await signedIn(t.app);
    expect((await call('GET', '/tasks/%E2%9C%93', headers)).statusCode).toBe(404);
    expect((await call('DELETE', `/tasks/${'x'.repeat(300)}`, headers)).statusCode).toBe(404);
  });
});

describe('rules on the merged state', () => {
  it('lists a bad range and an unknown assignee together', async () => {
    const { headers } = await signedIn(t.app);
    const res = await call('POST', '/tasks', headers, {
      title: 'x',
      startAt: '2031-02-01T00:00:00Z',
      dueAt: '2031-01-01T00:00:00Z',
      assigneeId: 'nobody',
    });
    expect(res.statusCode).toBe(422);
    expect(items(res)).toEqual([
      ['/dueAt', 'invalid_range'],
      ['/assigneeId', 'not_found'],
    ]);
    expect(res.json().detail).toBe('2 fields are invalid');
  });
});
