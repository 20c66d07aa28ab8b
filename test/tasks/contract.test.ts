import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectRole, Role } from '../../src/lib/principal.js';
import { fieldItems, type Headers, type Method } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { personalProjectId, signedIn } from '../helpers/factories.js';
import { addMember, createProject, setArchived } from '../helpers/projects.js';

/** Tasks in projects probed against API.md §2, §3 and §7, in both versions. */

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

type Caller = Awaited<ReturnType<typeof signedIn>>;

for (const v of ['v1', 'v2'] as const) {
  const call = (method: Method, url: string, headers: Headers, payload?: unknown) =>
    t.app.inject({
      method,
      url: `/api/${v}${url}`,
      headers,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  const ids = (res: { json(): unknown }) =>
    (res.json() as { items: { id: string }[] }).items.map((x) => x.id).sort();

  async function team(roles: ProjectRole[] = [], global: Role = 'user') {
    const owner = await signedIn(t.app);
    const projectId = await createProject(t.app, owner.user.id);
    const members: Caller[] = [];
    for (const role of roles) {
      const member = await signedIn(t.app, global);
      await addMember(t.app, projectId, member.user.id, role);
      members.push(member);
    }
    return { owner, projectId, members };
  }
  async function created(headers: Headers, body: object) {
    const res = await call('POST', '/tasks', headers, { title: 'T', ...body });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string; version: number; projectId: string; parentId: string | null };
  }

  describe(`${v}: task replies and writes in projects`, () => {
    it('without projectId: the Inbox; projectId and parentId in every reply; PUT keeps them', async () => {
      const { owner, projectId } = await team();
      const inbox = await created(owner.headers, {});
      expect(inbox.projectId).toBe(await personalProjectId(t.app, owner.user.id));
      expect(inbox.parentId).toBeNull();
      const parent = await created(owner.headers, { projectId });
      const child = await created(owner.headers, { projectId, parentId: parent.id });
      const got = await call('GET', `/tasks/${child.id}`, owner.headers);
      expect(got.json()).toMatchObject({ projectId, parentId: parent.id });
      const list = await call('GET', `/tasks?projectId=${projectId}`, owner.headers);
      for (const item of list.json().items)
        expect(Object.keys(item)).toEqual(expect.arrayContaining(['projectId', 'parentId']));
      const put = await call('PUT', `/tasks/${child.id}`, owner.headers, { title: 'Replaced' });
      expect(put.statusCode, put.body).toBe(200);
      expect(put.json()).toMatchObject({ projectId, parentId: parent.id, title: 'Replaced', version: 2 });
      const same = await call('PUT', `/tasks/${child.id}`, owner.headers, { title: 'Replaced' });
      expect(same.json().version).toBe(2);
    });

    it('moves: editor in both; subtasks follow with new versions; invisible → 422; archived → 409', async () => {
      const { owner, projectId, members } = await team(['editor']);
      const [editor] = members as [Caller];
      const other = await createProject(t.app, owner.user.id);
      const parent = await created(owner.headers, { projectId });
      const child = await created(owner.headers, { projectId, parentId: parent.id });
      const grandchild = await created(owner.headers, { projectId, parentId: child.id });
      // The editor of the source only: 403 from the target, not 422.
      const refused = await call('PATCH', `/tasks/${parent.id}`, editor.headers, { projectId: other });
      expect(refused.statusCode).toBe(422);
      expect(fieldItems(refused)).toEqual([['/projectId', 'not_found']]);
      await addMember(t.app, other, editor.user.id, 'viewer');
      expect(
        (await call('PATCH', `/tasks/${parent.id}`, editor.headers, { projectId: other })).statusCode,
      ).toBe(403);
      const moved = await call('PATCH', `/tasks/${parent.id}`, owner.headers, { projectId: other });
      expect(moved.statusCode, moved.body).toBe(200);
      expect(moved.json()).toMatchObject({ projectId: other, parentId: null, version: 2 });
      for (const sub of [child, grandchild]) {
        const res = await call('GET', `/tasks/${sub.id}`, owner.headers);
        expect(res.json()).toMatchObject({ projectId: other, version: 2 });
        expect(res.headers.etag).toBe('"2"');
      }
      const archived = await createProject(t.app, owner.user.id, { archived: true });
      expect(
        (await call('PATCH', `/tasks/${parent.id}`, owner.headers, { projectId: archived })).statusCode,
      ).toBe(409);
      expect(
        (await call('PUT', `/tasks/${parent.id}`, owner.headers, { title: 'x', projectId: archived }))
          .statusCode,
      ).toBe(409);
      // A subtask whose parent stays behind.
      const stuck = await call('PATCH', `/tasks/${child.id}`, owner.headers, { projectId });
      expect(fieldItems(stuck)).toEqual([['/parentId', 'invalid_parent']]);
      const out = await call('PATCH', `/tasks/${child.id}`, owner.headers, { projectId, parentId: null });
      expect(out.statusCode, out.body).toBe(200);
    });

    it('assignee: personal any user; shared a member; removed member → unassigned with a new version', async () => {
      const { owner, projectId, members } = await team(['viewer']);
      const [viewer] = members as [Caller];
      const stranger = await signedIn(t.app);
      const mine = await created(owner.headers, { assigneeId: stranger.user.id });
      expect(mine).toMatchObject({ assigneeId: stranger.user.id });
      const bad = await call('POST', '/tasks', owner.headers, {
        title: 'x',
        projectId,
        assigneeId: stranger.user.id,
      });
      expect(fieldItems(bad)).toEqual([['/assigneeId', 'not_found']]);
      const shared = await created(owner.headers, { projectId, assigneeId: viewer.user.id });
      // Moving the personal task assigned to a stranger into the shared project → 422.
      const move = await call('PATCH', `/tasks/${mine.id}`, owner.headers, { projectId });
      expect(fieldItems(move)).toEqual([['/assigneeId', 'not_found']]);
      const leave = await call('DELETE', `/projects/${projectId}/members/${viewer.user.id}`, owner.headers);
      expect(leave.statusCode, leave.body).toBe(204);
      const after = await call('GET', `/tasks/${shared.id}`, owner.headers);
      expect(after.json()).toMatchObject({ assigneeId: null, version: 2 });
    });

    it('roles: viewer 403, commenter assignee status only, editor all, admin all', async () => {
      const { owner, projectId, members } = await team(['viewer', 'commenter', 'editor']);
      const [viewer, commenter, editor] = members as [Caller, Caller, Caller];
      const admin = await signedIn(t.app, 'admin');
      const task = await created(owner.headers, { projectId, assigneeId: commenter.user.id });
      expect((await call('PATCH', `/tasks/${task.id}`, viewer.headers, { status: 'done' })).statusCode).toBe(
        403,
      );
      expect((await call('DELETE', `/tasks/${task.id}`, viewer.headers)).statusCode).toBe(403);
      expect(
        (await call('PATCH', `/tasks/${task.id}`, commenter.headers, { status: 'in_progress' })).statusCode,
      ).toBe(200);
      expect((await call('PATCH', `/tasks/${task.id}`, commenter.headers, { title: 'T' })).statusCode).toBe(
        403,
      );
      expect(
        (await call('PUT', `/tasks/${task.id}`, commenter.headers, { title: 'T', status: 'done' }))
          .statusCode,
      ).toBe(403);
      expect((await call('DELETE', `/tasks/${task.id}`, commenter.headers)).statusCode).toBe(403);
      expect((await call('PATCH', `/tasks/${task.id}`, editor.headers, { title: 'E' })).statusCode).toBe(200);
      expect((await call('PATCH', `/tasks/${task.id}`, admin.headers, { title: 'A' })).statusCode).toBe(200);
      expect((await call('DELETE', `/tasks/${task.id}`, admin.headers)).statusCode).toBe(204);
    });

    it('guests: 403 whether or not the task is visible', async () => {
      const { owner, projectId, members } = await team(['commenter', 'viewer'], 'guest');
      const [gc, gv] = members as [Caller, Caller];
      const outsider = await signedIn(t.app, 'guest');
      const task = await created(owner.headers, { projectId, assigneeId: gc.user.id });
      expect((await call('PATCH', `/tasks/${task.id}`, gc.headers, { status: 'done' })).statusCode).toBe(200);
      for (const g of [gc, gv, outsider]) {
        for (const [m, body] of [
          ['PATCH', { title: 'x' }],
          ['PUT', { title: 'x' }],
          ['DELETE', undefined],
        ] as const) {
          const res = await call(m, `/tasks/${task.id}`, g.headers, body);
          expect(res.statusCode, `${m}`).toBe(403);
        }
      }
      expect(
        (await call('PATCH', `/tasks/${task.id}`, outsider.headers, { status: 'done' })).statusCode,
      ).toBe(403);
      expect(
        (
          await call('PATCH', '/tasks/0191d8a0-0000-7000-8000-000000000000', outsider.headers, {
            status: 'done',
          })
        ).statusCode,
      ).toBe(403);
      expect((await call('PATCH', `/tasks/${task.id}`, gv.headers, { status: 'done' })).statusCode).toBe(403);
    });

    it('v1 rule in the personal project: the assignee non-guest changes status only, others 404', async () => {
      const owner = await signedIn(t.app);
      const user = await signedIn(t.app);
      const guest = await signedIn(t.app, 'guest');
      const stranger = await signedIn(t.app);
      const a = await created(owner.headers, { assigneeId: user.user.id });
      const b = await created(owner.headers, { assigneeId: guest.user.id });
      expect((await call('PATCH', `/tasks/${a.id}`, user.headers, { status: 'done' })).statusCode).toBe(200);
      expect((await call('PATCH', `/tasks/${a.id}`, user.headers, { title: 'x' })).statusCode).toBe(403);
      expect((await call('DELETE', `/tasks/${a.id}`, user.headers)).statusCode).toBe(403);
      expect((await call('PATCH', `/tasks/${b.id}`, guest.headers, { status: 'done' })).statusCode).toBe(403);
      expect((await call('GET', `/tasks/${b.id}`, guest.headers)).statusCode).toBe(200);
      for (const [m, body] of [
        ['GET', undefined],
        ['PATCH', { status: 'done' }],
        ['PUT', { title: 'x' }],
        ['DELETE', undefined],
      ] as const) {
        expect((await call(m, `/tasks/${a.id}`, stranger.headers, body)).statusCode, m).toBe(404);
      }
    });

    it('a comment keeps the ETag', async () => {
      const owner = await signedIn(t.app);
      const task = await created(owner.headers, {});
      const before = await call('GET', `/tasks/${task.id}`, owner.headers);
      const c = await call('POST', `/tasks/${task.id}/comments`, owner.headers, { body: 'hi' });
      expect(c.statusCode, c.body).toBe(201);
      const after = await call('GET', `/tasks/${task.id}`, owner.headers, undefined);
      expect(after.headers.etag).toBe(before.headers.etag);
      expect(after.json()).toEqual(before.json());
    });

    it('parentId: same project, 5 levels, cycle, self, cascade', async () => {
      const { owner, projectId } = await team();
      const chain = [await created(owner.headers, { projectId })];
      for (let i = 1; i < 5; i += 1)
        chain.push(await created(owner.headers, { projectId, parentId: chain[i - 1]?.id }));
      const sixth = await call('POST', '/tasks', owner.headers, {
        title: 'x',
        projectId,
        parentId: chain[4]?.id,
      });
      expect(fieldItems(sixth)).toEqual([['/parentId', 'invalid_parent']]);
      const root = chain[0] as { id: string };
      const self = await call('PATCH', `/tasks/${root.id}`, owner.headers, { parentId: root.id });
      expect(fieldItems(self)).toEqual([['/parentId', 'invalid_parent']]);
      const cycle = await call('PATCH', `/tasks/${root.id}`, owner.headers, { parentId: chain[2]?.id });
      expect(fieldItems(cycle)).toEqual([['/parentId', 'invalid_parent']]);
      const inbox = await created(owner.headers, {});
      const cross = await call('PATCH', `/tasks/${inbox.id}`, owner.headers, { parentId: root.id });
      expect(fieldItems(cross)).toEqual([['/parentId', 'invalid_parent']]);
      const top = await call('GET', `/tasks?projectId=${projectId}&parentId=none`, owner.headers);
      expect(ids(top)).toEqual([root.id]);
      const kids = await call('GET', `/tasks?parentId=${root.id}`, owner.headers);
      expect(ids(kids)).toEqual([chain[1]?.id]);
      expect((await call('DELETE', `/tasks/${root.id}`, owner.headers)).statusCode).toBe(204);
      for (const x of chain)
        expect((await call('GET', `/tasks/${x.id}`, owner.headers)).statusCode).toBe(404);
    });
  });

  describe(`${v}: lists and stats`, () => {
    it('projectId lists; invisible → empty; archived included; default excludes archived, includes assigned', async () => {
      const { owner, projectId, members } = await team(['viewer']);
      const [viewer] = members as [Caller];
      const second = await createProject(t.app, owner.user.id);
      const archived = await createProject(t.app, owner.user.id);
      const a = await created(owner.headers, { projectId });
      const b = await created(owner.headers, { projectId: second });
      const c = await created(owner.headers, { projectId: archived });
      await setArchived(t.app, archived, true);
      const other = await signedIn(t.app);
      const assigned = await created(other.headers, { assigneeId: owner.user.id });
      const both = await call('GET', `/tasks?projectId=${projectId},${second}`, owner.headers);
      expect(ids(both)).toEqual([a.id, b.id].sort());
      const repeated = await call('GET', `/tasks?projectId=${projectId}&projectId=${second}`, owner.headers);
      expect(ids(repeated)).toEqual([a.id, b.id].sort());
      expect(ids(await call('GET', `/tasks?projectId=${archived}`, owner.headers))).toEqual([c.id]);
      const none = await call('GET', `/tasks?projectId=${second}`, viewer.headers);
      expect(none.statusCode).toBe(200);
      expect(ids(none)).toEqual([]);
      const all = ids(await call('GET', v === 'v1' ? '/tasks?size=100' : '/tasks?limit=100', owner.headers));
      expect(all).toEqual([a.id, b.id, assigned.id].sort());
      const stats = await call('GET', '/tasks/stats', owner.headers);
      expect(stats.json().total).toBe(3);
      const sp = await call('GET', `/tasks/stats?projectId=${archived},${projectId}`, owner.headers);
      expect(sp.json().total).toBe(2);
    });

    it('v2 cursors are bound to projectId and parentId', async () => {
      if (v === 'v1') return;
      const { owner, projectId } = await team();
      const second = await createProject(t.app, owner.user.id);
      for (let i = 0; i < 3; i += 1) await created(owner.headers, { projectId });
      await created(owner.headers, { projectId: second });
      const first = await call('GET', `/tasks?projectId=${projectId}&limit=1`, owner.headers);
      const cursor = encodeURIComponent(first.json().nextCursor);
      expect(
        (await call('GET', `/tasks?projectId=${second}&limit=1&cursor=${cursor}`, owner.headers)).statusCode,
      ).toBe(400);
      expect(
        (
          await call(
            'GET',
            `/tasks?projectId=${projectId}&parentId=none&limit=1&cursor=${cursor}`,
            owner.headers,
          )
        ).statusCode,
      ).toBe(400);
      expect(
        (await call('GET', `/tasks?projectId=${projectId}&limit=1&cursor=${cursor}`, owner.headers))
          .statusCode,
      ).toBe(200);
      // The same filters in another order are the same list: the cursor carries on.
      const two = await call('GET', `/tasks?projectId=${projectId},${second}&limit=1`, owner.headers);
      const next = encodeURIComponent(two.json().nextCursor);
      const swapped = await call(
        'GET',
        `/tasks?projectId=${second},${projectId}&limit=1&cursor=${next}`,
        owner.headers,
      );
      expect(swapped.statusCode, swapped.body).toBe(200);
      const statuses = await call(
        'GET',
        `/tasks?status=todo,done&projectId=${projectId}&limit=1`,
        owner.headers,
      );
      const again = encodeURIComponent(statuses.json().nextCursor);
      expect(
        (
          await call(
            'GET',
            `/tasks?status=done,todo&projectId=${projectId}&limit=1&cursor=${again}`,
            owner.headers,
          )
        ).statusCode,
      ).toBe(200);
    });
  });

  describe(`${v}: more rules`, () => {
    it('an editor demoted to guest is capped at commenter at once', async () => {
      const { owner, projectId, members } = await team(['editor']);
      const [editor] = members as [Caller];
      const admin = await signedIn(t.app, 'admin');
      const task = await created(owner.headers, { projectId, assigneeId: editor.user.id });
      const demote = await call('PATCH', `/users/${editor.user.id}`, admin.headers, { role: 'guest' });
      expect(demote.statusCode, demote.body).toBe(200);
      expect((await call('PATCH', `/tasks/${task.id}`, editor.headers, { title: 'x' })).statusCode).toBe(403);
      expect((await call('PATCH', `/tasks/${task.id}`, editor.headers, { status: 'done' })).statusCode).toBe(
        200,
      );
      expect((await call('GET', `/tasks/${task.id}`, editor.headers)).statusCode).toBe(200);
    });

    it('archived project: 403 for the role first, then 409 for every write, no-op included', async () => {
      const { owner, projectId, members } = await team(['viewer']);
      const [viewer] = members as [Caller];
      const task = await created(owner.headers, { projectId, title: 'Same' });
      await setArchived(t.app, projectId, true);
      expect((await call('GET', `/tasks/${task.id}`, viewer.headers)).statusCode).toBe(200);
      expect((await call('PATCH', `/tasks/${task.id}`, viewer.headers, { title: 'x' })).statusCode).toBe(403);
      expect((await call('DELETE', `/tasks/${task.id}`, viewer.headers)).statusCode).toBe(403);
      for (const [m, body] of [
        ['PATCH', { title: 'Same' }],
        ['PUT', { title: 'Same' }],
        ['DELETE', undefined],
      ] as const) {
        const res = await call(m, `/tasks/${task.id}`, owner.headers, body);
        expect(res.statusCode, m).toBe(409);
        expect(res.json().code).toBe('project_archived');
      }
      const create = await call('POST', '/tasks', owner.headers, { title: 'x', projectId });
      expect(create.json().code).toBe('project_archived');
    });

    it('stats agree with the list for the same filters (user and admin)', async () => {
      const { owner, projectId, members } = await team(['editor']);
      const [editor] = members as [Caller];
      const admin = await signedIn(t.app, 'admin');
      const archived = await createProject(t.app, owner.user.id);
      const top = await created(owner.headers, { projectId, dueAt: '2001-01-01T00:00:00Z' });
      await created(owner.headers, { projectId, parentId: top.id, status: 'done' });
      await created(owner.headers, { projectId: archived, assigneeId: owner.user.id });
      await setArchived(t.app, archived, true);
      await created(editor.headers, {});
      for (const who of [owner, editor, admin]) {
        for (const q of [
          '',
          `projectId=${projectId}`,
          `projectId=${archived},${projectId}`,
          'parentId=none',
          `parentId=${top.id}`,
        ]) {
          const stats = await call('GET', `/tasks/stats?${q}`, who.headers);
          expect(stats.statusCode, stats.body).toBe(200);
          if (v === 'v1') {
            const list = await call('GET', `/tasks?${q}&size=1`, who.headers);
            expect(stats.json().total, q).toBe(list.json().total);
          } else if (who !== admin) {
            const list = await call('GET', `/tasks?${q}&limit=100`, who.headers);
            expect(stats.json().total, q).toBe(list.json().items.length);
          }
        }
      }
    });

    it('projectId: more than 50 ids → 422', async () => {
      const a = await signedIn(t.app);
      const many = Array.from(
        { length: 51 },
        (_, i) => `0191d8a0-0000-7000-8000-${String(i).padStart(12, '0')}`,
      );
      expect((await call('GET', `/tasks?projectId=${many.join(',')}`, a.headers)).statusCode).toBe(422);
      expect((await call('GET', `/tasks/stats?projectId=${many.join(',')}`, a.headers)).statusCode).toBe(422);
      expect((await call('GET', '/tasks?projectId=', a.headers)).statusCode).toBe(422);
    });
  });

  describe(`${v}: subtrees`, () => {
    it('a move may name a parent in the target; the moved height counts; 409 before 422', async () => {
      const { owner, projectId } = await team();
      const target = await createProject(t.app, owner.user.id);
      const created201 = await call('POST', '/tasks', owner.headers, { title: 'L', projectId: target });
      expect(created201.headers.location).toBe(`/api/${v}/tasks/${created201.json().id}`);
      expect(created201.headers.etag).toBe('"1"');
      const t1 = created201.json() as { id: string };
      const t2 = await created(owner.headers, { projectId: target, parentId: t1.id });
      const t3 = await created(owner.headers, { projectId: target, parentId: t2.id });
      const a = await created(owner.headers, { projectId });
      const b = await created(owner.headers, { projectId, parentId: a.id });
      const c = await created(owner.headers, { projectId, parentId: b.id });
      // a (height 3) under t3 (level 3) would make 6 levels.
      const deep = await call('PATCH', `/tasks/${a.id}`, owner.headers, {
        projectId: target,
        parentId: t3.id,
      });
      expect(fieldItems(deep)).toEqual([['/parentId', 'invalid_parent']]);
      const ok = await call('PATCH', `/tasks/${a.id}`, owner.headers, { projectId: target, parentId: t2.id });
      expect(ok.statusCode, ok.body).toBe(200);
      expect(ok.json()).toMatchObject({ projectId: target, parentId: t2.id });
      const cGot = await call('GET', `/tasks/${c.id}`, owner.headers);
      expect(cGot.json()).toMatchObject({ projectId: target, parentId: b.id, version: 2 });
      const under = await call('GET', `/tasks?parentId=${t2.id}`, owner.headers);
      expect(ids(under)).toEqual([t3.id, a.id].sort());
      await setArchived(t.app, target, true);
      const arch = await call('POST', '/tasks', owner.headers, {
        title: 'x',
        projectId: target,
        parentId: 'garbage',
      });
      expect(arch.statusCode).toBe(409);
    });

    it('the assignee of a personal task reads it and its subtasks filter, but changes nothing else', async () => {
      const owner = await signedIn(t.app);
      const helper = await signedIn(t.app);
      const parent = await created(owner.headers, {});
      const child = await created(owner.headers, { parentId: parent.id, assigneeId: helper.user.id });
      expect(ids(await call('GET', `/tasks?parentId=${parent.id}`, helper.headers))).toEqual([child.id]);
      expect((await call('GET', `/tasks/${parent.id}`, helper.headers)).statusCode).toBe(404);
      expect((await call('PATCH', `/tasks/${child.id}`, helper.headers, { parentId: null })).statusCode).toBe(
        403,
      );
      const del = await call('DELETE', `/users/${helper.user.id}`, (await signedIn(t.app, 'admin')).headers);
      expect(del.statusCode).toBe(204);
      expect((await call('GET', `/tasks/${child.id}`, owner.headers)).json()).toMatchObject({
        assigneeId: null,
        version: 2,
      });
    });
  });

  describe(`${v}: ids that name nothing`, () => {
    it('projectId or parentId of no task → 422 on that field, in bodies and filters alike', async () => {
      const { owner, projectId } = await team();
      const task = await created(owner.headers, { projectId });
      const p = await call('PATCH', `/tasks/${task.id}`, owner.headers, { projectId: 'garbage' });
      expect(fieldItems(p)).toEqual([['/projectId', 'not_found']]);
      const q = await call('PATCH', `/tasks/${task.id}`, owner.headers, { parentId: 'garbage' });
      expect(fieldItems(q)).toEqual([['/parentId', 'invalid_parent']]);
      const r = await call('PUT', `/tasks/${task.id}`, owner.headers, {
        title: 'x',
        projectId: 'garbage',
        parentId: 'garbage',
      });
      // Every invalid field: a parent cannot be of a project the caller cannot see.
      expect(fieldItems(r).sort()).toEqual([
        ['/parentId', 'invalid_parent'],
        ['/projectId', 'not_found'],
      ]);
      const c = await call('POST', '/tasks', owner.headers, {
        title: 'x',
        projectId: 'garbage',
        parentId: task.id,
      });
      expect(fieldItems(c).sort()).toEqual([
        ['/parentId', 'invalid_parent'],
        ['/projectId', 'not_found'],
      ]);
      const top = await call('POST', '/tasks', owner.headers, {
        title: 'x',
        projectId: 'garbage',
        parentId: null,
      });
      expect(fieldItems(top)).toEqual([['/projectId', 'not_found']]);
      const list = await call('GET', '/tasks?projectId=garbage', owner.headers);
      expect(list.statusCode).toBe(200);
      expect(ids(list)).toEqual([]);
    });
  });

  describe(`${v}: leaving and the Inbox by id`, () => {
    it('a member leaving is unassigned there (new version) and no longer sees the task', async () => {
      const { owner, projectId, members } = await team(['commenter']);
      const [commenter] = members as [Caller];
      const task = await created(owner.headers, { projectId, assigneeId: commenter.user.id });
      const inboxTask = await created(owner.headers, { assigneeId: commenter.user.id });
      const leave = await call(
        'DELETE',
        `/projects/${projectId}/members/${commenter.user.id}`,
        commenter.headers,
      );
      expect(leave.statusCode, leave.body).toBe(204);
      expect((await call('GET', `/tasks/${task.id}`, commenter.headers)).statusCode).toBe(404);
      expect((await call('GET', `/tasks/${task.id}`, owner.headers)).json()).toMatchObject({
        assigneeId: null,
        version: 2,
      });
      // Its assignment elsewhere stays.
      expect((await call('GET', `/tasks/${inboxTask.id}`, commenter.headers)).json()).toMatchObject({
        version: 1,
      });
    });

    it('projectId naming the caller’s own Inbox is the Inbox (any user may be assigned)', async () => {
      const owner = await signedIn(t.app);
      const stranger = await signedIn(t.app);
      const inbox = await personalProjectId(t.app, owner.user.id);
      const task = await created(owner.headers, { projectId: inbox, assigneeId: stranger.user.id });
      expect(task.projectId).toBe(inbox);
      const other = await personalProjectId(t.app, stranger.user.id);
      const res = await call('POST', '/tasks', owner.headers, { title: 'x', projectId: other });
      expect(fieldItems(res)).toEqual([['/projectId', 'not_found']]);
    });
  });

  describe(`${v}: a deleted creator`, () => {
    it('tasks stay with ownerId null, visible to members, editable by editors', async () => {
      const { owner, projectId, members } = await team(['editor', 'owner']);
      const [editor, coOwner] = members as [Caller, Caller];
      const admin = await signedIn(t.app, 'admin');
      const creator = await signedIn(t.app);
      await addMember(t.app, projectId, creator.user.id, 'editor');
      const task = await created(creator.headers, { projectId });
      const child = await created(creator.headers, { projectId, parentId: task.id });
      void owner;
      void coOwner;
      const del = await call('DELETE', `/users/${creator.user.id}`, admin.headers);
      expect(del.statusCode, del.body).toBe(204);
      const got = await call('GET', `/tasks/${task.id}`, editor.headers);
      expect(got.statusCode).toBe(200);
      expect(got.json().ownerId).toBeNull();
      const patched = await call('PATCH', `/tasks/${task.id}`, editor.headers, { title: 'Kept' });
      expect(patched.statusCode, patched.body).toBe(200);
      expect(patched.json().ownerId).toBeNull();
      const put = await call('PUT', `/tasks/${task.id}`, editor.headers, { title: 'Put' });
      expect(put.statusCode, put.body).toBe(200);
      expect(put.json()).toMatchObject({ ownerId: null, projectId, parentId: null });
      expect((await call('DELETE', `/tasks/${child.id}`, editor.headers)).statusCode).toBe(204);
      expect((await call('DELETE', `/tasks/${task.id}`, editor.headers)).statusCode).toBe(204);
    });
  });

  describe(`${v}: list filters`, () => {
    it('parentId that is neither none nor an id → 422 on /query/parentId', async () => {
      const a = await signedIn(t.app);
      for (const bad of ['garbage', 'null', 'None']) {
        const list = await call('GET', `/tasks?parentId=${bad}`, a.headers);
        expect(list.statusCode, bad).toBe(422);
        expect(fieldItems(list)).toContainEqual(['/query/parentId', expect.any(String)]);
        const stats = await call('GET', `/tasks/stats?parentId=${bad}`, a.headers);
        expect(stats.statusCode, bad).toBe(422);
      }
    });
  });
}
