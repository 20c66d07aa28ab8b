import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { addMember, createProject, removeMember } from '../helpers/projects.js';
import { change, follow, headOf, markOf, record } from './feed-helpers.js';

/**
 * Who sees an event in the feed (contract §8): the members of its project at the time of the
 * read, the users its viewers name (a member.* event's user, a deleted project's members, a
 * move's old project's members, a task's assignees), and admins. The events are recorded as the
 * write paths record them (design §2); each reader follows the feed from the head before them.
 */

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

type Person = Awaited<ReturnType<typeof signedIn>>;

/** The marks of the events `who` is served after `after`, of the marks given. */
async function seen(who: Person, after: string, among: { data: { mark: string } }[]): Promise<string[]> {
  const ours = new Set(among.map((c) => c.data.mark));
  const { events } = await follow(t.app, who.headers, after);
  return events.map(markOf).filter((mark): mark is string => mark !== undefined && ours.has(mark));
}
const marks = (changes: { data: { mark: string } }[]) => changes.map((c) => c.data.mark);

describe('the feed serves', () => {
  it("a member its projects' events, a non-member none of them, an admin all", async () => {
    const owner = await signedIn(t.app);
    const member = await signedIn(t.app);
    const outsider = await signedIn(t.app);
    const admin = await signedIn(t.app, 'admin');
    const p = await createProject(t.app, owner.user.id);
    const q = await createProject(t.app, outsider.user.id);
    await addMember(t.app, p, member.user.id, 'viewer');
    const h0 = await headOf(t.app, owner.headers);
    const inP = [change(p, { type: 'task.created' }), change(p), change(p, { type: 'project.updated' })];
    const inQ = [change(q)];
    await record(
      t.app,
      [inP[0], inQ[0]].filter((c) => c !== undefined),
    );
    await record(t.app, inP.slice(1));
    const all = [...inP, ...inQ];
    expect(await seen(owner, h0, all)).toEqual(marks(inP));
    expect(await seen(member, h0, all)).toEqual(marks(inP));
    expect(await seen(outsider, h0, all)).toEqual(marks(inQ));
    const stranger = await signedIn(t.app);
    expect(await seen(stranger, h0, all)).toEqual([]);
    expect((await seen(admin, h0, all)).sort()).toEqual(marks(all).sort());
  });

  it('a removed member no longer its old project’s events, earlier ones included, but its own member.removed', async () => {
    const owner = await signedIn(t.app);
    const member = await signedIn(t.app);
    const p = await createProject(t.app, owner.user.id);
    const h0 = await headOf(t.app, member.headers);
    await addMember(t.app, p, member.user.id, 'editor');
    const about = { type: 'member' as const, id: member.user.id };
    const added = change(p, {
      type: 'member.added',
      subject: about,
      taskId: null,
      viewers: [member.user.id],
    });
    const before = change(p, { type: 'task.created' });
    await record(t.app, [added, before]);
    // While a member: both.
    expect(await seen(member, h0, [added, before])).toEqual(marks([added, before]));

    await removeMember(t.app, p, member.user.id);
    const removed = change(p, {
      type: 'member.removed',
      subject: about,
      taskId: null,
      viewers: [member.user.id],
    });
    const after = change(p);
    await record(t.app, [removed, after]);
    const all = [added, before, removed, after];
    expect(await seen(member, h0, all)).toEqual(marks([added, removed]));
    expect(await seen(owner, h0, all)).toEqual(marks(all));
  });

  it("a deleted project's members its project.deleted, nobody else", async () => {
    const owner = await signedIn(t.app);
    const member = await signedIn(t.app);
    const outsider = await signedIn(t.app);
    const p = await createProject(t.app, owner.user.id);
    await addMember(t.app, p, member.user.id, 'viewer');
    const h0 = await headOf(t.app, owner.headers);
    const deleted = change(p, {
      type: 'project.deleted',
      subject: { type: 'project', id: p },
      taskId: null,
      viewers: [owner.user.id, member.user.id],
    });
    await record(t.app, [deleted]);
    // The project goes with its memberships.
    await t.app.ctx.database.db.deleteFrom('project_members').where('project_id', '=', p).execute();
    await t.app.ctx.database.db.deleteFrom('projects').where('id', '=', p).execute();
    expect(await seen(owner, h0, [deleted])).toEqual(marks([deleted]));
    expect(await seen(member, h0, [deleted])).toEqual(marks([deleted]));
    expect(await seen(outsider, h0, [deleted])).toEqual([]);
  });

  it("the old project's members a move, the new project's members every event of the moved task", async () => {
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const from = await createProject(t.app, a.user.id);
    const to = await createProject(t.app, b.user.id);
    const h0 = await headOf(t.app, a.headers);
    const taskId = '0193a1b2-0000-7000-8000-00000000bbbb';
    const created = change(from, { type: 'task.created', taskId });
    const moved = change(to, {
      taskId,
      changes: { projectId: { from, to } },
      viewers: [a.user.id],
    });
    const later = change(to, { taskId });
    await record(t.app, [created]);
    await record(t.app, [moved, later]);
    const all = [created, moved, later];
    expect(await seen(a, h0, all)).toEqual(marks([created, moved]));
    expect(await seen(b, h0, all)).toEqual(marks([moved, later]));
  });

  it("a task's assignee that task's events, not the project's others", async () => {
    const owner = await signedIn(t.app);
    const assignee = await signedIn(t.app);
    const p = await createProject(t.app, owner.user.id);
    const h0 = await headOf(t.app, owner.headers);
    const taskId = '0193a1b2-0000-7000-8000-00000000cccc';
    const assigned = change(p, { taskId, viewers: [assignee.user.id] });
    const comment = change(p, {
      type: 'comment.created',
      subject: { type: 'comment', id: '0193a1b2-0000-7000-8000-00000000dddd' },
      taskId,
      viewers: [assignee.user.id],
    });
    const otherTask = change(p);
    // Unassigned: the assignee before the change still sees it.
    const unassigned = change(p, {
      taskId,
      changes: { assigneeId: { from: assignee.user.id, to: null } },
      viewers: [assignee.user.id],
    });
    const afterwards = change(p, { taskId });
    await record(t.app, [assigned, comment, otherTask, unassigned, afterwards]);
    const all = [assigned, comment, otherTask, unassigned, afterwards];
    expect(await seen(assignee, h0, all)).toEqual(marks([assigned, comment, unassigned]));
    expect(await seen(owner, h0, all)).toEqual(marks(all));
  });

  it('an event naming a viewer in a project it belongs to, once', async () => {
    const owner = await signedIn(t.app);
    const p = await createProject(t.app, owner.user.id);
    const h0 = await headOf(t.app, owner.headers);
    const both = change(p, { viewers: [owner.user.id, owner.user.id] });
    await record(t.app, [both]);
    expect(await seen(owner, h0, [both])).toEqual(marks([both]));
  });
});
