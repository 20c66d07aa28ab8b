import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueKey } from '../api-keys/helpers.js';
import { apiCaller } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { eventsAfter, headOf, recordedBy } from './log.js';

/** Every write through the API records its events (design §2), exactly; failed writes none. */

let t: TestApp;
let owner: Awaited<ReturnType<typeof signedIn>>;
let editor: Awaited<ReturnType<typeof signedIn>>;
let other: Awaited<ReturnType<typeof signedIn>>;
let projectId: string;
beforeAll(async () => {
  t = await buildTestApp();
  owner = await signedIn(t.app);
  editor = await signedIn(t.app);
  other = await signedIn(t.app);
  const res = await call('POST', '/projects', owner.headers, { name: 'Shared', description: 'd' });
  projectId = res.json().id;
  await call('POST', `/projects/${projectId}/members`, owner.headers, {
    email: editor.user.email,
    role: 'editor',
  });
});
afterAll(async () => t.close());

const call = apiCaller(() => t.app);
const user = (u: { user: { id: string } }) => ({ type: 'user', id: u.user.id });

async function newTask(body: Record<string, unknown> = {}) {
  const res = await call('POST', '/tasks', owner.headers, { title: 'A task', projectId, ...body });
  expect(res.statusCode).toBe(201);
  return res.json() as Record<string, unknown> & { id: string; version: number };
}

describe('projects', () => {
  it('create: one project.created, without role, by the caller', async () => {
    let body: Record<string, unknown> = {};
    const events = await recordedBy(t.app, async () => {
      body = (await call('POST', '/projects', owner.headers, { name: 'New one' })).json();
    });
    const { role, ...data } = body;
    expect(role).toBe('owner');
    expect(events).toEqual([
      expect.objectContaining({
        type: 'project.created',
        at: body.createdAt,
        actor: user(owner),
        projectId: body.id,
        subject: { type: 'project', id: body.id },
        taskId: null,
        changes: null,
        data,
        viewers: [],
      }),
    ]);
  });

  it("a user's personal project: project.created by the system", async () => {
    const before = await headOf(t.app);
    const someone = await signedIn(t.app);
    const inbox = await t.app.ctx.services.projects.personalProjectId(someone.user.id);
    const events = (await eventsAfter(t.app, before)).filter((e) => e.projectId === inbox);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'project.created',
      actor: { type: 'system', id: null },
      subject: { type: 'project', id: inbox },
      data: { id: inbox, personal: true, ownerId: someone.user.id, name: 'Inbox' },
    });
    expect(events[0]?.data).not.toHaveProperty('role');
  });

  it('update: exactly the changed fields; nothing changed records nothing; 412 none', async () => {
    const id = (await call('POST', '/projects', owner.headers, { name: 'P1', description: 'x' })).json().id;
    const events = await recordedBy(t.app, () =>
      call('PATCH', `/projects/${id}`, owner.headers, { name: 'P2', description: 'x' }),
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'project.updated', changes: { name: { from: 'P1', to: 'P2' } } });
    expect(events[0]?.data).toMatchObject({ name: 'P2', version: 2 });
    expect(
      await recordedBy(t.app, () => call('PATCH', `/projects/${id}`, owner.headers, { name: 'P2' })),
    ).toEqual([]);
    const stale = await recordedBy(t.app, async () => {
      const res = await call(
        'PATCH',
        `/projects/${id}`,
        { ...owner.headers, 'if-match': '"1"' },
        { name: 'P3' },
      );
      expect(res.statusCode).toBe(412);
    });
    expect(stale).toEqual([]);
    const archived = await recordedBy(t.app, () =>
      call('PATCH', `/projects/${id}`, owner.headers, { archived: true }),
    );
    expect(archived[0]?.changes).toEqual({ archived: { from: false, to: true } });
  });

  it('delete: one project.deleted, seen by its members at deletion; its tasks record nothing', async () => {
    const id = (await call('POST', '/projects', owner.headers, { name: 'Doomed' })).json().id;
    await call('POST', `/projects/${id}/members`, owner.headers, { email: other.user.email, role: 'viewer' });
    await call('POST', '/tasks', owner.headers, { title: 'goes along', projectId: id });
    const before = (await call('GET', `/projects/${id}`, owner.headers)).json();
    const events = await recordedBy(t.app, async () => {
      expect((await call('DELETE', `/projects/${id}`, owner.headers)).statusCode).toBe(204);
    });
    const { role: _role, ...data } = before;
    expect(events).toEqual([
      expect.objectContaining({
        type: 'project.deleted',
        actor: user(owner),
        projectId: id,
        changes: null,
        data,
        viewers: [owner.user.id, other.user.id].sort(),
      }),
    ]);
  });
});

describe('members', () => {
  it('add, change role, remove: the user sees each; removal unassigns with task.updated', async () => {
    const id = (await call('POST', '/projects', owner.headers, { name: 'Team' })).json().id;
    const added = await recordedBy(t.app, () =>
      call('POST', `/projects/${id}/members`, owner.headers, { email: other.user.email, role: 'editor' }),
    );
    expect(added).toEqual([
      expect.objectContaining({
        type: 'member.added',
        projectId: id,
        subject: { type: 'member', id: other.user.id },
        taskId: null,
        changes: null,
        data: expect.objectContaining({
          userId: other.user.id,
          role: 'editor',
          projectId: id,
          email: other.user.email,
        }),
        viewers: [other.user.id],
      }),
    ]);
    const changed = await recordedBy(t.app, () =>
      call('PATCH', `/projects/${id}/members/${other.user.id}`, owner.headers, { role: 'viewer' }),
    );
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatchObject({
      type: 'member.changed',
      changes: { role: { from: 'editor', to: 'viewer' } },
      data: { role: 'viewer', projectId: id },
      viewers: [other.user.id],
    });
    expect(
      await recordedBy(t.app, () =>
        call('PATCH', `/projects/${id}/members/${other.user.id}`, owner.headers, { role: 'viewer' }),
      ),
    ).toEqual([]);
    const task = (
      await call('POST', '/tasks', owner.headers, {
        title: 'theirs',
        projectId: id,
        assigneeId: other.user.id,
      })
    ).json();
    const removed = await recordedBy(t.app, () =>
      call('DELETE', `/projects/${id}/members/${other.user.id}`, other.headers),
    );
    expect(removed.map((e) => e.type)).toEqual(['member.removed', 'task.updated']);
    expect(removed[0]).toMatchObject({ actor: user(other), data: { userId: other.user.id, role: 'viewer' } });
    expect(removed[1]).toMatchObject({
      actor: user(other),
      subject: { type: 'task', id: task.id },
      taskId: task.id,
      changes: { assigneeId: { from: other.user.id, to: null } },
      data: { id: task.id, assigneeId: null, version: task.version + 1 },
      viewers: [other.user.id],
    });
  });

  it('a refused add (422) records nothing', async () => {
    const events = await recordedBy(t.app, async () => {
      const res = await call('POST', `/projects/${projectId}/members`, owner.headers, {
        email: 'nobody-here@example.com',
        role: 'editor',
      });
      expect(res.statusCode).toBe(422);
    });
    expect(events).toEqual([]);
  });
});

describe('tasks', () => {
  it('create: task.created with the task, the assignee a viewer; by an API key: actor api_key', async () => {
    const key = await issueKey(t.app, owner.headers, ['tasks:write']);
    let body: Record<string, unknown> = {};
    const events = await recordedBy(t.app, async () => {
      const res = await call(
        'POST',
        '/tasks',
        { 'x-api-key': key.key },
        { title: 'By key', projectId, assigneeId: editor.user.id, tags: ['b', 'a'] },
      );
      expect(res.statusCode).toBe(201);
      body = res.json();
    });
    expect(events).toEqual([
      expect.objectContaining({
        type: 'task.created',
        at: body.createdAt,
        actor: { type: 'api_key', id: key.id },
        projectId,
        subject: { type: 'task', id: body.id },
        taskId: body.id,
        changes: null,
        data: body,
        viewers: [editor.user.id],
      }),
    ]);
  });

  it('update: exactly what changed (completedAt derived, tags by value); nothing changed: none', async () => {
    const task = await newTask({ tags: ['x', 'y'] });
    let after: Record<string, unknown> = {};
    const events = await recordedBy(t.app, async () => {
      after = (
        await call('PATCH', `/tasks/${task.id}`, owner.headers, {
          status: 'done',
          tags: ['x', 'y'],
          assigneeId: editor.user.id,
        })
      ).json();
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'task.updated',
      at: after.updatedAt,
      actor: user(owner),
      data: after,
    });
    expect(events[0]?.changes).toEqual({
      status: { from: 'todo', to: 'done' },
      completedAt: { from: null, to: after.completedAt },
      assigneeId: { from: null, to: editor.user.id },
    });
    expect(events[0]?.viewers).toEqual([editor.user.id]);
    expect(
      await recordedBy(t.app, () => call('PATCH', `/tasks/${task.id}`, owner.headers, { status: 'done' })),
    ).toEqual([]);
    const tags = await recordedBy(t.app, () =>
      call('PATCH', `/tasks/${task.id}`, owner.headers, { tags: ['y', 'x'] }),
    );
    expect(tags[0]?.changes).toEqual({ tags: { from: ['x', 'y'], to: ['y', 'x'] } });
    // The assignee before and after both see a reassignment.
    const reassigned = await recordedBy(t.app, () =>
      call('PATCH', `/tasks/${task.id}`, owner.headers, { assigneeId: owner.user.id }),
    );
    expect(reassigned[0]?.viewers).toEqual([editor.user.id, owner.user.id].sort());
  });

  it('PUT records what the replacement changed', async () => {
    const task = await newTask({ description: 'keep?', priority: 'high' });
    const events = await recordedBy(t.app, () =>
      call('PUT', `/tasks/${task.id}`, owner.headers, { title: 'A task' }),
    );
    expect(events[0]?.changes).toEqual({
      description: { from: 'keep?', to: '' },
      priority: { from: 'high', to: 'medium' },
    });
  });

  it('a failed write (412, 422, 404) records nothing', async () => {
    const task = await newTask();
    const events = await recordedBy(t.app, async () => {
      const stale = await call(
        'PATCH',
        `/tasks/${task.id}`,
        { ...owner.headers, 'if-match': '"99"' },
        { title: 'x' },
      );
      expect(stale.statusCode).toBe(412);
      const invalid = await call('PATCH', `/tasks/${task.id}`, owner.headers, { assigneeId: other.user.id });
      expect(invalid.statusCode).toBe(422);
      const gone = await call('DELETE', `/tasks/${task.id}`, { ...owner.headers, 'if-match': '"99"' });
      expect(gone.statusCode).toBe(412);
    });
    expect(events).toEqual([]);
  });

  it('delete: task.deleted for the subtasks, deepest first, then the task; no comment events', async () => {
    const root = await newTask({ title: 'root', assigneeId: editor.user.id });
    const child = await newTask({ title: 'child', parentId: root.id });
    const grandchild = await newTask({ title: 'grandchild', parentId: child.id });
    await call('POST', `/tasks/${child.id}/comments`, owner.headers, { body: 'goes along' });
    const events = await recordedBy(t.app, async () => {
      expect((await call('DELETE', `/tasks/${root.id}`, owner.headers)).statusCode).toBe(204);
    });
    expect(events.map((e) => [e.type, e.subject.id])).toEqual([
      ['task.deleted', grandchild.id],
      ['task.deleted', child.id],
      ['task.deleted', root.id],
    ]);
    expect(events[2]).toMatchObject({
      actor: user(owner),
      data: root,
      taskId: root.id,
      changes: null,
      viewers: [editor.user.id],
    });
    expect(events[1]?.data).toEqual(child);
  });

  it('a move takes its subtasks: one task.updated each, the old members see them', async () => {
    const target = (await call('POST', '/projects', owner.headers, { name: 'Target' })).json().id;
    const root = await newTask({ title: 'mover' });
    const child = await newTask({ title: 'moved along', parentId: root.id, assigneeId: owner.user.id });
    const events = await recordedBy(t.app, async () => {
      const res = await call('PATCH', `/tasks/${root.id}`, owner.headers, { projectId: target });
      expect(res.statusCode).toBe(200);
    });
    expect(events.map((e) => [e.type, e.subject.id, e.projectId])).toEqual([
      ['task.updated', root.id, target],
      ['task.updated', child.id, target],
    ]);
    for (const event of events) {
      expect(event.changes).toEqual({ projectId: { from: projectId, to: target } });
      expect(event.viewers).toEqual([owner.user.id, editor.user.id].sort());
    }
    expect(events[1]?.data).toMatchObject({ id: child.id, projectId: target, version: child.version + 1 });
  });
});

describe('comments', () => {
  it('create, update (body, edited once), delete', async () => {
    const task = await newTask({ assigneeId: editor.user.id });
    let comment: Record<string, unknown> = {};
    const created = await recordedBy(t.app, async () => {
      comment = (await call('POST', `/tasks/${task.id}/comments`, owner.headers, { body: 'first' })).json();
    });
    expect(created).toEqual([
      expect.objectContaining({
        type: 'comment.created',
        at: comment.createdAt,
        actor: user(owner),
        projectId,
        subject: { type: 'comment', id: comment.id },
        taskId: task.id,
        changes: null,
        data: comment,
        viewers: [editor.user.id],
      }),
    ]);
    const edited = await recordedBy(t.app, () =>
      call('PATCH', `/comments/${comment.id}`, owner.headers, { body: 'second' }),
    );
    expect(edited[0]).toMatchObject({ type: 'comment.updated', data: { body: 'second', edited: true } });
    expect(edited[0]?.changes).toEqual({
      body: { from: 'first', to: 'second' },
      edited: { from: false, to: true },
    });
    const again = await recordedBy(t.app, () =>
      call('PATCH', `/comments/${comment.id}`, owner.headers, { body: 'third' }),
    );
    expect(again[0]?.changes).toEqual({ body: { from: 'second', to: 'third' } });
    expect(
      await recordedBy(t.app, () =>
        call('PATCH', `/comments/${comment.id}`, owner.headers, { body: 'third' }),
      ),
    ).toEqual([]);
    const refused = await recordedBy(t.app, async () => {
      expect(
        (await call('PATCH', `/comments/${comment.id}`, editor.headers, { body: 'not mine' })).statusCode,
      ).toBe(403);
    });
    expect(refused).toEqual([]);
    const deleted = await recordedBy(t.app, () => call('DELETE', `/comments/${comment.id}`, owner.headers));
    expect(deleted).toEqual([
      expect.objectContaining({
        type: 'comment.deleted',
        data: expect.objectContaining({ id: comment.id, body: 'third' }),
      }),
    ]);
  });
});

describe('transactions', () => {
  it('a rolled-back change-log transaction records nothing', async () => {
    const before = await headOf(t.app);
    const { changes } = t.app.ctx;
    await expect(
      changes.transaction(t.app.ctx.database.db, async (trx) => {
        changes.record(trx, {
          type: 'project.updated',
          at: new Date().toISOString(),
          actor: { type: 'system', id: null },
          projectId,
          subject: { type: 'project', id: projectId },
          taskId: null,
          changes: { name: { from: 'a', to: 'b' } },
          data: {},
          viewers: [owner.user.id],
        });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await headOf(t.app)).toBe(before);
    expect(await eventsAfter(t.app, before)).toEqual([]);
  });
});
