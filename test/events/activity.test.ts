import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueKey } from '../api-keys/helpers.js';
import { apiCaller } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';

/** GET /tasks/{id}/activity: a task's events and its comments', oldest first, for its readers. */

let t: TestApp;
let owner: Awaited<ReturnType<typeof signedIn>>;
let stranger: Awaited<ReturnType<typeof signedIn>>;
let assignee: Awaited<ReturnType<typeof signedIn>>;
let guest: Awaited<ReturnType<typeof signedIn>>;
let projectId: string;
let taskId: string;
let otherTaskId: string;
beforeAll(async () => {
  t = await buildTestApp();
  owner = await signedIn(t.app);
  stranger = await signedIn(t.app);
  assignee = await signedIn(t.app);
  guest = await signedIn(t.app, 'guest');
  projectId = (await call('POST', '/projects', owner.headers, { name: 'Activity' })).json().id;
  await call('POST', `/projects/${projectId}/members`, owner.headers, {
    email: guest.user.email,
    role: 'viewer',
  });
  taskId = (await call('POST', '/tasks', owner.headers, { title: 'Watched', projectId })).json().id;
  otherTaskId = (await call('POST', '/tasks', owner.headers, { title: 'Elsewhere', projectId })).json().id;
  // Interleaved with another task's events, which the activity leaves out.
  for (let n = 1; n <= 3; n += 1) {
    await call('PATCH', `/tasks/${taskId}`, owner.headers, { title: `Watched ${n}` });
    await call('PATCH', `/tasks/${otherTaskId}`, owner.headers, { title: `Elsewhere ${n}` });
  }
  const comment = (await call('POST', `/tasks/${taskId}/comments`, owner.headers, { body: 'note' })).json();
  await call('PATCH', `/comments/${comment.id}`, owner.headers, { body: 'note, edited' });
  await call('DELETE', `/comments/${comment.id}`, owner.headers);
  // The assignee is no member: in the owner's personal project.
  const inbox = await t.app.ctx.services.projects.personalProjectId(owner.user.id);
  assignedTaskId = (
    await call('POST', '/tasks', owner.headers, {
      title: 'Assigned',
      projectId: inbox,
      assigneeId: assignee.user.id,
    })
  ).json().id;
});
afterAll(async () => t.close());
let assignedTaskId: string;

const call = apiCaller(() => t.app);
const v2 = (url: string, headers: Record<string, string>) =>
  t.app.inject({ method: 'GET', url: `/api/v2${url}`, headers });

const EXPECTED = [
  'task.created',
  'task.updated',
  'task.updated',
  'task.updated',
  'comment.created',
  'comment.updated',
  'comment.deleted',
];

describe('version 1', () => {
  it("lists the task's events and its comments', oldest first, with total and pages", async () => {
    const res = await call('GET', `/tasks/${taskId}/activity?size=3`, owner.headers);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toContain('private');
    const first = res.json();
    expect(first).toMatchObject({ total: 7, page: 1, size: 3, pages: 3 });
    const all = [first.items];
    for (const page of [2, 3])
      all.push(
        (await call('GET', `/tasks/${taskId}/activity?size=3&page=${page}`, owner.headers)).json().items,
      );
    const items = all.flat();
    expect(items.map((e: { type: string }) => e.type)).toEqual(EXPECTED);
    const ids = items.map((e: { id: string }) => e.id);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(items[1]).toMatchObject({
      actor: { type: 'user', id: owner.user.id },
      projectId,
      subject: { type: 'task', id: taskId },
      changes: { title: { from: 'Watched', to: 'Watched 1' } },
    });
    expect(items[4].subject.type).toBe('comment');
  });
});

describe('version 2', () => {
  it('walks the same events with signed cursors bound to the task', async () => {
    const seen: string[] = [];
    let url = `/tasks/${taskId}/activity?limit=2`;
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await v2(url, owner.headers);
      expect(res.statusCode).toBe(200);
      const body = res.json();
      seen.push(...body.items.map((e: { type: string }) => e.type));
      cursor = body.nextCursor;
      if (cursor) expect(res.headers.link).toContain('rel="next"');
      url = `/tasks/${taskId}/activity?limit=2&cursor=${encodeURIComponent(cursor ?? '')}`;
      pages += 1;
    } while (cursor);
    expect(seen).toEqual(EXPECTED);
    expect(pages).toBe(4);
  });

  it('a cursor of another task, or a forged one → 400 invalid_cursor', async () => {
    const first = (await v2(`/tasks/${taskId}/activity?limit=1`, owner.headers)).json();
    const other = await v2(
      `/tasks/${otherTaskId}/activity?limit=1&cursor=${encodeURIComponent(first.nextCursor)}`,
      owner.headers,
    );
    expect(other.statusCode).toBe(400);
    expect(other.json().code).toBe('invalid_cursor');
    const forged = await v2(`/tasks/${taskId}/activity?cursor=not-a-cursor`, owner.headers);
    expect(forged.statusCode).toBe(400);
    expect(forged.json().code).toBe('invalid_cursor');
  });
});

describe('who may read it', () => {
  it('a non-member → 404; an unknown task → 404', async () => {
    expect((await call('GET', `/tasks/${taskId}/activity`, stranger.headers)).statusCode).toBe(404);
    expect((await v2(`/tasks/${taskId}/activity`, stranger.headers)).statusCode).toBe(404);
    const unknown = await call('GET', '/tasks/01935c1e-7a4f-7cc2-a0c3-0c8f4a9e1b2d/activity', owner.headers);
    expect(unknown.statusCode).toBe(404);
  });

  it('its assignee that is no member, and a guest viewer, may read it', async () => {
    const assigned = await call('GET', `/tasks/${assignedTaskId}/activity`, assignee.headers);
    expect(assigned.statusCode).toBe(200);
    expect(assigned.json().items.map((e: { type: string }) => e.type)).toEqual(['task.created']);
    const byGuest = await call('GET', `/tasks/${taskId}/activity`, guest.headers);
    expect(byGuest.statusCode).toBe(200);
    expect(byGuest.json().total).toBe(7);
  });

  it('an API key needs tasks:read', async () => {
    const reader = await issueKey(t.app, owner.headers, ['tasks:read']);
    const writer = await issueKey(t.app, owner.headers, ['comments:write']);
    expect((await call('GET', `/tasks/${taskId}/activity`, { 'x-api-key': reader.key })).statusCode).toBe(
      200,
    );
    const refused = await call('GET', `/tasks/${taskId}/activity`, { 'x-api-key': writer.key });
    expect(refused.statusCode).toBe(403);
  });
});
