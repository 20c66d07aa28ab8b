import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { recordedBy } from './log.js';

/** A deleted account's traces (design §2): every one an event by the system, read before it goes. */

let t: TestApp;
let admin: Awaited<ReturnType<typeof signedIn>>;
beforeAll(async () => {
  t = await buildTestApp();
  admin = await signedIn(t.app, 'admin');
});
afterAll(async () => t.close());

const call = apiCaller(() => t.app);
const SYSTEM = { type: 'system', id: null };

describe('deleting a user', () => {
  it('records its projects, memberships, unassignments, ownerId and authorId', async () => {
    const owner = await signedIn(t.app);
    const leaving = await signedIn(t.app);
    const shared = (await call('POST', '/projects', owner.headers, { name: 'Shared' })).json().id;
    await call('POST', `/projects/${shared}/members`, owner.headers, {
      email: leaving.user.email,
      role: 'editor',
    });
    const solo = (await call('POST', '/projects', leaving.headers, { name: 'Solo' })).json().id;
    const inbox = await t.app.ctx.services.projects.personalProjectId(leaving.user.id);
    await call('POST', '/tasks', leaving.headers, {
      title: 'in solo',
      projectId: solo,
      assigneeId: leaving.user.id,
    });
    const ownedAndAssigned = (
      await call('POST', '/tasks', leaving.headers, {
        title: 'mine',
        projectId: shared,
        assigneeId: leaving.user.id,
      })
    ).json();
    const owned = (
      await call('POST', '/tasks', leaving.headers, { title: 'owned', projectId: shared })
    ).json();
    const assigned = (
      await call('POST', '/tasks', owner.headers, {
        title: 'theirs',
        projectId: shared,
        assigneeId: leaving.user.id,
      })
    ).json();
    const comment = (
      await call('POST', `/tasks/${assigned.id}/comments`, leaving.headers, { body: 'bye' })
    ).json();

    const events = await recordedBy(t.app, async () => {
      expect((await call('DELETE', `/users/${leaving.user.id}`, admin.headers)).statusCode).toBe(204);
    });
    for (const event of events) expect(event.actor).toEqual(SYSTEM);
    const byType = (type: string) => events.filter((e) => e.type === type);
    expect(
      byType('project.deleted')
        .map((e) => e.subject.id)
        .sort(),
    ).toEqual([solo, inbox].sort());
    for (const e of byType('project.deleted')) expect(e.viewers).toEqual([leaving.user.id]);
    expect(byType('member.removed')).toEqual([
      expect.objectContaining({
        projectId: shared,
        subject: { type: 'member', id: leaving.user.id },
        data: expect.objectContaining({ userId: leaving.user.id, role: 'editor', projectId: shared }),
        viewers: [leaving.user.id],
      }),
    ]);
    const updates = new Map(byType('task.updated').map((e) => [e.subject.id, e]));
    expect([...updates.keys()].sort()).toEqual([ownedAndAssigned.id, owned.id, assigned.id].sort());
    expect(updates.get(ownedAndAssigned.id)?.changes).toEqual({
      ownerId: { from: leaving.user.id, to: null },
      assigneeId: { from: leaving.user.id, to: null },
    });
    expect(updates.get(owned.id)?.changes).toEqual({ ownerId: { from: leaving.user.id, to: null } });
    expect(updates.get(assigned.id)?.changes).toEqual({ assigneeId: { from: leaving.user.id, to: null } });
    // The data is the task as it now stands.
    for (const [id, event] of updates) {
      expect(event.data).toEqual((await call('GET', `/tasks/${id}`, owner.headers)).json());
    }
    expect(byType('comment.updated')).toEqual([
      expect.objectContaining({
        projectId: shared,
        taskId: assigned.id,
        subject: { type: 'comment', id: comment.id },
        changes: { authorId: { from: leaving.user.id, to: null } },
        data: { ...comment, authorId: null },
      }),
    ]);
    // Nothing about the solo project's task: it went with its project.
    expect(events.filter((e) => e.projectId === solo).map((e) => e.type)).toEqual(['project.deleted']);
  });

  it('a refused deletion (409 last_owner) records nothing', async () => {
    const owner = await signedIn(t.app);
    const member = await signedIn(t.app);
    const shared = (await call('POST', '/projects', owner.headers, { name: 'Kept' })).json().id;
    await call('POST', `/projects/${shared}/members`, owner.headers, {
      email: member.user.email,
      role: 'viewer',
    });
    const events = await recordedBy(t.app, async () => {
      const res = await call('DELETE', `/users/${owner.user.id}`, admin.headers);
      expect(res.statusCode).toBe(409);
    });
    expect(events).toEqual([]);
  });
});
