import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller, type Headers } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const call = apiCaller(() => t.app);

async function taskOf(headers: Headers, body: object = {}) {
  return (await call('POST', '/tasks', headers, { title: 'Private', ...body })).json();
}

describe('BOLA: another user cannot see or touch a task (404, never 403)', () => {
  it('read, change, replace, delete and list', async () => {
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const task = await taskOf(a.headers);
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { title: 'mine now' }],
      ['PUT', { title: 'mine now' }],
      ['DELETE', undefined],
    ] as const) {
      const res = await call(method, `/tasks/${task.id}`, b.headers, body);
      expect(res.statusCode, method).toBe(404);
      expect(res.json().code).toBe('not_found');
    }
    // Even a field B may never send is answered 404, not 403: existence is not revealed.
    expect((await call('PATCH', `/tasks/${task.id}`, b.headers, { status: 'done' })).statusCode).toBe(404);
    const list = (await call('GET', '/tasks', b.headers)).json();
    expect(list.items.map((x: { id: string }) => x.id)).not.toContain(task.id);
    expect((await call('GET', `/tasks?ownerId=${a.user.id}`, b.headers)).json().total).toBe(0);
    expect((await call('GET', `/tasks/${task.id}`, a.headers)).json().title).toBe('Private');
  });
});

describe('the assignee', () => {
  it('reads the task and changes its status, and nothing else (403 even with the current value)', async () => {
    const owner = await signedIn(t.app);
    const assignee = await signedIn(t.app);
    const task = await taskOf(owner.headers, { assigneeId: assignee.user.id });
    expect((await call('GET', `/tasks/${task.id}`, assignee.headers)).statusCode).toBe(200);
    const status = await call('PATCH', `/tasks/${task.id}`, assignee.headers, { status: 'in_progress' });
    expect(status.statusCode).toBe(200);
    expect(status.json().status).toBe('in_progress');
    for (const body of [{ title: 'x' }, { title: task.title }, { status: 'done', priority: 'high' }]) {
      const res = await call('PATCH', `/tasks/${task.id}`, assignee.headers, body);
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('forbidden');
    }
    expect((await call('PUT', `/tasks/${task.id}`, assignee.headers, { title: 'x' })).statusCode).toBe(403);
    expect((await call('DELETE', `/tasks/${task.id}`, assignee.headers)).statusCode).toBe(403);
    const list = (await call('GET', '/tasks', assignee.headers)).json();
    expect(list.items.map((x: { id: string }) => x.id)).toContain(task.id);
  });

  it('a 403 for a field comes before 412 and before the merged-result 422', async () => {
    const owner = await signedIn(t.app);
    const assignee = await signedIn(t.app);
    const task = await taskOf(owner.headers, { assigneeId: assignee.user.id });
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/tasks/${task.id}`,
      headers: { ...assignee.headers, 'if-match': '"99"' },
      payload: { title: 'x', startAt: '2040-01-01T00:00:00Z', dueAt: '2030-01-01T00:00:00Z' },
    });
    expect(res.statusCode).toBe(403);
  });

  it('a guest assignee reads but may not change the status', async () => {
    const owner = await signedIn(t.app);
    const guest = await signedIn(t.app, 'guest');
    const task = await taskOf(owner.headers, { assigneeId: guest.user.id });
    expect((await call('GET', `/tasks/${task.id}`, guest.headers)).statusCode).toBe(200);
    expect((await call('PATCH', `/tasks/${task.id}`, guest.headers, { status: 'done' })).statusCode).toBe(
      403,
    );
  });
});

describe('guests and admins', () => {
  it('a guest may read but not write: 403 before validation', async () => {
    const guest = await signedIn(t.app, 'guest');
    expect((await call('POST', '/tasks', guest.headers, { title: 'x' })).statusCode).toBe(403);
    expect((await call('POST', '/tasks', guest.headers, { nonsense: 1 })).statusCode).toBe(403);
    expect((await call('GET', '/tasks', guest.headers)).statusCode).toBe(200);
    expect((await call('GET', '/tasks/stats', guest.headers)).statusCode).toBe(200);
  });

  it('an admin reads, changes and deletes any task', async () => {
    const owner = await signedIn(t.app);
    const admin = await signedIn(t.app, 'admin');
    const task = await taskOf(owner.headers);
    expect((await call('GET', `/tasks/${task.id}`, admin.headers)).statusCode).toBe(200);
    const patched = await call('PATCH', `/tasks/${task.id}`, admin.headers, { title: 'By admin' });
    expect(patched.json()).toMatchObject({ title: 'By admin', ownerId: owner.user.id });
    const listed = (await call('GET', `/tasks?ownerId=${owner.user.id}`, admin.headers)).json();
    expect(listed.items.map((x: { id: string }) => x.id)).toEqual([task.id]);
    expect((await call('DELETE', `/tasks/${task.id}`, admin.headers)).statusCode).toBe(204);
  });

  it('without credentials: 401 before anything else', async () => {
    for (const [method, url] of [
      ['GET', '/tasks'],
      ['POST', '/tasks'],
      ['GET', '/tasks/stats'],
      ['GET', '/tasks/x'],
      ['PATCH', '/tasks/x'],
      ['DELETE', '/tasks/x'],
    ] as const) {
      const res = await call(
        method,
        url,
        {},
        method === 'POST' || method === 'PATCH' ? { bad: true } : undefined,
      );
      expect(res.statusCode, `${method} ${url}`).toBe(401);
    }
  });
});

describe('deleting a user', () => {
  it('removes its tasks and unassigns it elsewhere with a new version', async () => {
    const admin = await signedIn(t.app, 'admin');
    const owner = await signedIn(t.app);
    const leaving = await signedIn(t.app);
    const own = await taskOf(leaving.headers);
    const assigned = await taskOf(owner.headers, { assigneeId: leaving.user.id });
    expect((await call('DELETE', `/users/${leaving.user.id}`, admin.headers)).statusCode).toBe(204);
    expect((await call('GET', `/tasks/${own.id}`, admin.headers)).statusCode).toBe(404);
    const after = (await call('GET', `/tasks/${assigned.id}`, owner.headers)).json();
    expect(after).toMatchObject({ assigneeId: null, version: assigned.version + 1 });
  });
});
