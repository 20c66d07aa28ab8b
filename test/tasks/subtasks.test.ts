import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller, fieldItems, type Headers } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { personalProjectId, signedIn } from '../helpers/factories.js';
import { addMember, createProject } from '../helpers/projects.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const call = apiCaller(() => t.app);

interface Task {
  id: string;
  projectId: string;
  parentId: string | null;
  version: number;
  updatedAt: string;
}

async function created(headers: Headers, body: object = {}): Promise<Task> {
  const res = await call('POST', '/tasks', headers, { title: 'Sub', ...body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as Task;
}

/** A chain of `levels` tasks, each the parent of the next; the top first. */
async function chain(headers: Headers, levels: number, body: object = {}): Promise<Task[]> {
  const tasks: Task[] = [];
  for (let i = 0; i < levels; i += 1) {
    tasks.push(
      await created(headers, { ...body, parentId: tasks.at(-1)?.id ?? null, title: `level ${i + 1}` }),
    );
  }
  return tasks;
}

const invalidParent = (res: { statusCode: number; json(): unknown }) => {
  expect(res.statusCode).toBe(422);
  expect(fieldItems(res)).toEqual([['/parentId', 'invalid_parent']]);
};

const ids = (res: { json(): unknown }) => (res.json() as { items: { id: string }[] }).items.map((x) => x.id);

describe('parentId', () => {
  it('a task of the same project takes subtasks, down to level 5', async () => {
    const me = await signedIn(t.app);
    const tasks = await chain(me.headers, 5);
    expect(tasks.map((x) => x.parentId)).toEqual([null, ...tasks.slice(0, 4).map((x) => x.id)]);
    // A task at level 5 takes no subtasks.
    invalidParent(await call('POST', '/tasks', me.headers, { title: 'sixth', parentId: tasks[4]?.id }));
    const other = await created(me.headers);
    invalidParent(await call('PATCH', `/tasks/${other.id}`, me.headers, { parentId: tasks[4]?.id }));
    expect(
      (await call('PATCH', `/tasks/${other.id}`, me.headers, { parentId: tasks[3]?.id })).statusCode,
    ).toBe(200);
  });

  it('another project’s task, a missing one and an invisible one answer alike', async () => {
    const me = await signedIn(t.app);
    const stranger = await signedIn(t.app);
    const shared = await createProject(t.app, me.user.id);
    const elsewhere = await created(me.headers, { projectId: shared });
    const invisible = await created(stranger.headers);
    for (const parentId of [elsewhere.id, invisible.id, '0191d8a0-0000-7000-8000-000000000000']) {
      const res = await call('POST', '/tasks', me.headers, { title: 'x', parentId });
      invalidParent(res);
      expect(res.json().errors[0].detail).toBe('must be null or a task of the same project');
    }
  });

  it('a cycle: the task itself or one of its subtasks → 422 invalid_parent', async () => {
    const me = await signedIn(t.app);
    const [top, middle, bottom] = (await chain(me.headers, 3)) as [Task, Task, Task];
    invalidParent(await call('PATCH', `/tasks/${top.id}`, me.headers, { parentId: top.id }));
    invalidParent(await call('PATCH', `/tasks/${top.id}`, me.headers, { parentId: bottom.id }));
    invalidParent(await call('PATCH', `/tasks/${middle.id}`, me.headers, { parentId: bottom.id }));
    const unchanged = await call('GET', `/tasks/${top.id}`, me.headers);
    expect(unchanged.json()).toMatchObject({ parentId: null, version: 1 });
  });

  it('depth counts the moved subtree: a 3-level subtree fits under level 2, not under level 3', async () => {
    const me = await signedIn(t.app);
    const host = await chain(me.headers, 3);
    const subtree = await chain(me.headers, 3);
    const root = subtree[0] as Task;
    invalidParent(await call('PATCH', `/tasks/${root.id}`, me.headers, { parentId: host[2]?.id }));
    const ok = await call('PATCH', `/tasks/${root.id}`, me.headers, { parentId: host[1]?.id });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ parentId: host[1]?.id, version: 2 });
    // Its subtasks keep their parents (and versions): only the moved task changed.
    const leaf = (await call('GET', `/tasks/${subtree[2]?.id}`, me.headers)).json();
    expect(leaf).toMatchObject({ parentId: subtree[1]?.id, version: 1 });
    // Back to the top level.
    expect(
      (await call('PATCH', `/tasks/${root.id}`, me.headers, { parentId: null })).json().parentId,
    ).toBeNull();
  });
});

describe('moving to another project', () => {
  it('moves every subtask too, each with a new version', async () => {
    const me = await signedIn(t.app);
    const target = await createProject(t.app, me.user.id);
    const [top, middle, bottom] = (await chain(me.headers, 3)) as [Task, Task, Task];
    const sibling = await created(me.headers, { parentId: top.id });
    const res = await call('PATCH', `/tasks/${top.id}`, me.headers, { projectId: target });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ projectId: target, parentId: null, version: 2 });
    for (const sub of [middle, bottom, sibling]) {
      const now = (await call('GET', `/tasks/${sub.id}`, me.headers)).json();
      expect(now).toMatchObject({ projectId: target, parentId: sub.parentId, version: 2 });
      expect(now.updatedAt).toBe(res.json().updatedAt);
    }
    const listed = ids(await call('GET', `/tasks?projectId=${target}&size=100`, me.headers));
    expect(listed.sort()).toEqual([top.id, middle.id, bottom.id, sibling.id].sort());
  });

  it('a subtask whose parent stays behind → 422 invalid_parent, unless parentId: null comes too', async () => {
    const me = await signedIn(t.app);
    const target = await createProject(t.app, me.user.id);
    const [, child] = (await chain(me.headers, 2)) as [Task, Task];
    invalidParent(await call('PATCH', `/tasks/${child.id}`, me.headers, { projectId: target }));
    const moved = await call('PATCH', `/tasks/${child.id}`, me.headers, {
      projectId: target,
      parentId: null,
    });
    expect(moved.json()).toMatchObject({ projectId: target, parentId: null });
  });

  it('into a parent of the target project, when the levels fit', async () => {
    const me = await signedIn(t.app);
    const target = await createProject(t.app, me.user.id);
    const host = await chain(me.headers, 4, { projectId: target });
    const pair = await chain(me.headers, 2);
    const root = pair[0] as Task;
    invalidParent(
      await call('PATCH', `/tasks/${root.id}`, me.headers, { projectId: target, parentId: host[3]?.id }),
    );
    const ok = await call('PATCH', `/tasks/${root.id}`, me.headers, {
      projectId: target,
      parentId: host[2]?.id,
    });
    expect(ok.json()).toMatchObject({ projectId: target, parentId: host[2]?.id });
    expect((await call('GET', `/tasks/${pair[1]?.id}`, me.headers)).json().projectId).toBe(target);
  });

  it('the subtasks’ assignees must be members of a shared target', async () => {
    const me = await signedIn(t.app);
    const friend = await signedIn(t.app);
    const target = await createProject(t.app, me.user.id);
    const top = await created(me.headers);
    await created(me.headers, { parentId: top.id, assigneeId: friend.user.id });
    const res = await call('PATCH', `/tasks/${top.id}`, me.headers, { projectId: target });
    expect(res.statusCode).toBe(422);
    expect(fieldItems(res)).toEqual([['/assigneeId', 'not_found']]);
    await addMember(t.app, target, friend.user.id, 'viewer');
    expect((await call('PATCH', `/tasks/${top.id}`, me.headers, { projectId: target })).statusCode).toBe(200);
  });
});

describe('deleting and listing', () => {
  it('deleting a task deletes its subtasks at every level', async () => {
    const me = await signedIn(t.app);
    const [top, middle, bottom] = (await chain(me.headers, 3)) as [Task, Task, Task];
    const kept = await created(me.headers);
    expect((await call('DELETE', `/tasks/${middle.id}`, me.headers)).statusCode).toBe(204);
    expect((await call('GET', `/tasks/${bottom.id}`, me.headers)).statusCode).toBe(404);
    expect((await call('GET', `/tasks/${top.id}`, me.headers)).statusCode).toBe(200);
    expect((await call('GET', `/tasks/${kept.id}`, me.headers)).statusCode).toBe(200);
  });

  it('parentId=<id> lists one task’s subtasks; parentId=none the top level; stats too', async () => {
    const me = await signedIn(t.app);
    const [top, child] = (await chain(me.headers, 2)) as [Task, Task];
    const second = await created(me.headers, { parentId: top.id, status: 'done' });
    const grandchild = await created(me.headers, { parentId: child.id });
    const loose = await created(me.headers);
    expect(ids(await call('GET', `/tasks?parentId=${top.id}`, me.headers)).sort()).toEqual(
      [child.id, second.id].sort(),
    );
    expect(ids(await call('GET', '/tasks?parentId=none', me.headers)).sort()).toEqual(
      [top.id, loose.id].sort(),
    );
    expect(ids(await call('GET', `/tasks?parentId=${grandchild.id}`, me.headers))).toEqual([]);
    const stats = (await call('GET', `/tasks/stats?parentId=${top.id}`, me.headers)).json();
    expect(stats).toMatchObject({ total: 2, byStatus: { done: 1, todo: 1 } });
    const inbox = await personalProjectId(t.app, me.user.id);
    expect(
      (await call('GET', `/tasks/stats?projectId=${inbox}&parentId=none`, me.headers)).json().total,
    ).toBe(2);
  });

  it('another user’s task as parentId filter shows nothing of it', async () => {
    const me = await signedIn(t.app);
    const stranger = await signedIn(t.app);
    const [top] = (await chain(stranger.headers, 2)) as [Task];
    expect(ids(await call('GET', `/tasks?parentId=${top.id}`, me.headers))).toEqual([]);
  });
});

describe('concurrent parent changes', () => {
  it('two tasks made each other’s parent at once: one wins, the other → 422, no cycle', async () => {
    const me = await signedIn(t.app);
    for (let round = 0; round < 5; round += 1) {
      const a = await created(me.headers);
      const b = await created(me.headers);
      const [ra, rb] = await Promise.all([
        call('PATCH', `/tasks/${a.id}`, me.headers, { parentId: b.id }),
        call('PATCH', `/tasks/${b.id}`, me.headers, { parentId: a.id }),
      ]);
      expect([ra.statusCode, rb.statusCode].sort()).toEqual([200, 422]);
      const after = await Promise.all(
        [a, b].map(async (x) => (await call('GET', `/tasks/${x.id}`, me.headers)).json()),
      );
      expect(after.filter((x) => x.parentId !== null)).toHaveLength(1);
    }
  });
});

describe('a move while a subtask changes parent', () => {
  it('never fails with a 500, and no subtask is left in another project than its parent', async () => {
    const me = await signedIn(t.app);
    const target = await createProject(t.app, me.user.id);
    for (let round = 0; round < 5; round += 1) {
      const a = await created(me.headers);
      const b = await created(me.headers, { parentId: a.id });
      const c = await created(me.headers);
      const [moveA, reparentB] = await Promise.all([
        call('PATCH', `/tasks/${a.id}`, me.headers, { projectId: target }),
        call('PATCH', `/tasks/${b.id}`, me.headers, { parentId: c.id }),
      ]);
      expect(moveA.statusCode, moveA.body).toBe(200);
      expect([200, 422], reparentB.body).toContain(reparentB.statusCode);
      const now = (await call('GET', `/tasks/${b.id}`, me.headers)).json();
      const parent = (await call('GET', `/tasks/${now.parentId}`, me.headers)).json();
      expect(parent.projectId).toBe(now.projectId);
    }
  });
});
