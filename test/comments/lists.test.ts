import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { addMember, createProject, createTaskIn } from '../helpers/comment-fixtures.js';
import { signedIn } from '../helpers/factories.js';

/** A task's comments, oldest first: pages in version 1, signed cursors in version 2. */

let t: TestApp;
let owner: Awaited<ReturnType<typeof signedIn>>;
let viewer: Awaited<ReturnType<typeof signedIn>>;
let taskId: string;
let otherTaskId: string;
let ids: string[];

beforeAll(async () => {
  t = await buildTestApp();
  owner = await signedIn(t.app);
  viewer = await signedIn(t.app);
  const projectId = await createProject(t.app, owner.user.id);
  await addMember(t.app, projectId, viewer.user.id, 'viewer');
  taskId = await createTaskIn(t.app, projectId, owner.user.id);
  otherTaskId = await createTaskIn(t.app, projectId, owner.user.id);
  ids = [];
  for (let i = 0; i < 5; i++) {
    const res = await call('POST', `/tasks/${taskId}/comments`, owner.headers, { body: `comment ${i}` });
    ids.push(res.json().id);
  }
  await call('POST', `/tasks/${otherTaskId}/comments`, owner.headers, { body: 'elsewhere' });
});
afterAll(async () => t.close());

const call = apiCaller(() => t.app);

function v2(url: string, headers = viewer.headers) {
  return t.app.inject({ method: 'GET', url: `/api/v2${url}`, headers });
}

describe('version 1: pages', () => {
  it("lists the task's comments only, oldest first, with a total", async () => {
    const res = await call('GET', `/tasks/${taskId}/comments`, viewer.headers);
    expect(res.statusCode).toBe(200);
    const page = res.json();
    expect(page).toMatchObject({ total: 5, page: 1, size: 20, pages: 1 });
    expect(page.items.map((c: { id: string }) => c.id)).toEqual(ids);
    expect(page.items.map((c: { body: string }) => c.body)).toEqual(
      [0, 1, 2, 3, 4].map((i) => `comment ${i}`),
    );
  });

  it('pages by page and size', async () => {
    const second = (await call('GET', `/tasks/${taskId}/comments?page=2&size=2`, viewer.headers)).json();
    expect(second).toMatchObject({ total: 5, page: 2, size: 2, pages: 3 });
    expect(second.items.map((c: { id: string }) => c.id)).toEqual(ids.slice(2, 4));
    const past = (await call('GET', `/tasks/${taskId}/comments?page=9&size=2`, viewer.headers)).json();
    expect(past.items).toEqual([]);
  });

  it('size out of range and unknown parameters → 422', async () => {
    for (const query of ['size=0', 'size=101', 'limit=2', 'q=x']) {
      const res = await call('GET', `/tasks/${taskId}/comments?${query}`, viewer.headers);
      expect(res.statusCode, query).toBe(422);
    }
  });
});

describe('version 2: cursors', () => {
  it('walks every comment once, oldest first, with Link to the next page', async () => {
    const seen: string[] = [];
    let url = `/tasks/${taskId}/comments?limit=2`;
    for (let pages = 0; pages < 10; pages++) {
      const res = await v2(url);
      expect(res.statusCode).toBe(200);
      const page = res.json();
      seen.push(...page.items.map((c: { id: string }) => c.id));
      if (page.nextCursor === null) {
        expect(res.headers.link).toBeUndefined();
        break;
      }
      expect(String(res.headers.link)).toContain('rel="next"');
      url = `/tasks/${taskId}/comments?limit=2&cursor=${encodeURIComponent(page.nextCursor)}`;
    }
    expect(seen).toEqual(ids);
  });

  it('a comment added during the walk is found at its end; none is repeated', async () => {
    const extraTask = await createTaskIn(
      t.app,
      (
        await t.app.ctx.database.db
          .selectFrom('tasks')
          .select('project_id')
          .where('id', '=', taskId)
          .executeTakeFirstOrThrow()
      ).project_id,
      owner.user.id,
    );
    const made: string[] = [];
    for (let i = 0; i < 3; i++)
      made.push(
        (await call('POST', `/tasks/${extraTask}/comments`, owner.headers, { body: `${i}` })).json().id,
      );
    const first = (await v2(`/tasks/${extraTask}/comments?limit=2`)).json();
    made.push(
      (await call('POST', `/tasks/${extraTask}/comments`, owner.headers, { body: 'late' })).json().id,
    );
    const second = (
      await v2(`/tasks/${extraTask}/comments?limit=2&cursor=${encodeURIComponent(first.nextCursor)}`)
    ).json();
    expect([...first.items, ...second.items].map((c: { id: string }) => c.id)).toEqual(made);
    expect(second.nextCursor).toBeNull();
  });

  it("a cursor is bound to the task and the caller: another's → 400 invalid_cursor", async () => {
    const first = (await v2(`/tasks/${taskId}/comments?limit=2`)).json();
    const cursor = encodeURIComponent(first.nextCursor);
    const otherTask = await v2(`/tasks/${otherTaskId}/comments?limit=2&cursor=${cursor}`);
    expect(otherTask.statusCode).toBe(400);
    expect(otherTask.json().code).toBe('invalid_cursor');
    const otherCaller = await v2(`/tasks/${taskId}/comments?limit=2&cursor=${cursor}`, owner.headers);
    expect(otherCaller.statusCode).toBe(400);
    const garbage = await v2(`/tasks/${taskId}/comments?cursor=not-a-cursor`);
    expect(garbage.json().code).toBe('invalid_cursor');
    // Not bound to the limit.
    expect((await v2(`/tasks/${taskId}/comments?limit=3&cursor=${cursor}`)).statusCode).toBe(200);
  });

  it('an invisible task is 404 before its cursor is looked at', async () => {
    const outsider = await signedIn(t.app);
    const res = await v2(`/tasks/${taskId}/comments?cursor=not-a-cursor`, outsider.headers);
    expect(res.statusCode).toBe(404);
  });
});
