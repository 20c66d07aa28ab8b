import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectRole, Role } from '../../src/lib/principal.js';
import { apiCaller, fieldItems, type Headers } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { personalProjectId, signedIn } from '../helpers/factories.js';
import { addMember, createProject, removeMember, setArchived } from '../helpers/projects.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const call = apiCaller(() => t.app);
type Caller = Awaited<ReturnType<typeof signedIn>>;

/** A shared project of a fresh owner, with one member of each role given. */
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
  const res = await call('POST', '/tasks', headers, { title: 'Shared', ...body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

const ids = (res: { json(): unknown }) => (res.json() as { items: { id: string }[] }).items.map((x) => x.id);

describe('creating a task in a project', () => {
  it('without projectId: the personal project; with one: that project, for editors and owners', async () => {
    const { owner, projectId, members } = await team(['editor']);
    const [editor] = members as [Caller];
    const inbox = await created(owner.headers, {});
    expect(inbox.projectId).toBe(await personalProjectId(t.app, owner.user.id));
    expect(inbox.parentId).toBeNull();
    expect((await created(owner.headers, { projectId })).projectId).toBe(projectId);
    const byEditor = await created(editor.headers, { projectId });
    expect(byEditor).toMatchObject({ projectId, ownerId: editor.user.id });
  });

  it('commenters and viewers → 403; a project the caller cannot see → 422 not_found on /projectId', async () => {
    const { projectId, members } = await team(['commenter', 'viewer']);
    for (const member of members) {
      const res = await call('POST', '/tasks', member.headers, { title: 'x', projectId });
      expect(res.statusCode).toBe(403);
    }
    const stranger = await signedIn(t.app);
    for (const id of [projectId, '0191d8a0-0000-7000-8000-000000000000']) {
      const res = await call('POST', '/tasks', stranger.headers, { title: 'x', projectId: id });
      expect(res.statusCode).toBe(422);
      expect(fieldItems(res)).toContainEqual(['/projectId', 'not_found']);
    }
    // Another user's personal project is invisible too.
    const other = await signedIn(t.app);
    const res = await call('POST', '/tasks', stranger.headers, {
      title: 'x',
      projectId: await personalProjectId(t.app, other.user.id),
    });
    expect(fieldItems(res)).toEqual([['/projectId', 'not_found']]);
  });

  it('the 422 lists every invalid field, the unknown project among them', async () => {
    const stranger = await signedIn(t.app);
    const res = await call('POST', '/tasks', stranger.headers, {
      title: 'x',
      projectId: '0191d8a0-0000-7000-8000-000000000000',
      startAt: '2040-01-01T00:00:00Z',
      dueAt: '2030-01-01T00:00:00Z',
    });
    expect(fieldItems(res).sort()).toEqual([
      ['/dueAt', 'invalid_range'],
      ['/projectId', 'not_found'],
    ]);
  });

  it('an archived project → 409 project_archived, after the 403 for the role', async () => {
    const { owner, projectId, members } = await team(['viewer']);
    await setArchived(t.app, projectId, true);
    const res = await call('POST', '/tasks', owner.headers, { title: 'x', projectId });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('project_archived');
    const viewer = members[0] as Caller;
    expect((await call('POST', '/tasks', viewer.headers, { title: 'x', projectId })).statusCode).toBe(403);
  });

  it('an admin creates in any project', async () => {
    const { projectId } = await team();
    const admin = await signedIn(t.app, 'admin');
    expect((await created(admin.headers, { projectId })).projectId).toBe(projectId);
  });
});

describe('who may read', () => {
  it('members of every role, the assignee and admins; everyone else 404', async () => {
    const { owner, projectId, members } = await team(['editor', 'commenter', 'viewer']);
    const task = await created(owner.headers, { projectId });
    const admin = await signedIn(t.app, 'admin');
    for (const reader of [owner, ...members, admin]) {
      expect((await call('GET', `/tasks/${task.id}`, reader.headers)).statusCode).toBe(200);
    }
    const stranger = await signedIn(t.app);
    expect((await call('GET', `/tasks/${task.id}`, stranger.headers)).statusCode).toBe(404);
  });

  it('a membership removed counts on the very next request', async () => {
    const { owner, projectId, members } = await team(['viewer']);
    const viewer = members[0] as Caller;
    const task = await created(owner.headers, { projectId });
    expect((await call('GET', `/tasks/${task.id}`, viewer.headers)).statusCode).toBe(200);
    await removeMember(t.app, projectId, viewer.user.id);
    expect((await call('GET', `/tasks/${task.id}`, viewer.headers)).statusCode).toBe(404);
    expect(ids(await call('GET', '/tasks', viewer.headers))).not.toContain(task.id);
  });
});

describe('who may change what', () => {
  it('editors change everything; commenters and viewers → 403', async () => {
    const { owner, projectId, members } = await team(['editor', 'commenter', 'viewer']);
    const [editor, commenter, viewer] = members as [Caller, Caller, Caller];
    const task = await created(owner.headers, { projectId });
    const patched = await call('PATCH', `/tasks/${task.id}`, editor.headers, {
      title: 'Edited',
      priority: 'high',
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ title: 'Edited', version: 2 });
    const put = await call('PUT', `/tasks/${task.id}`, editor.headers, { title: 'Replaced' });
    expect(put.json()).toMatchObject({ title: 'Replaced', projectId, priority: 'medium' });
    for (const member of [commenter, viewer]) {
      for (const body of [{ title: 'no' }, { status: 'done' }]) {
        const res = await call('PATCH', `/tasks/${task.id}`, member.headers, body);
        expect(res.statusCode, JSON.stringify(body)).toBe(403);
      }
      expect((await call('PUT', `/tasks/${task.id}`, member.headers, { title: 'no' })).statusCode).toBe(403);
      expect((await call('DELETE', `/tasks/${task.id}`, member.headers)).statusCode).toBe(403);
    }
    expect((await call('GET', `/tasks/${task.id}`, owner.headers)).json().version).toBe(3);
  });

  it('a commenter assignee changes the status only; a viewer assignee nothing', async () => {
    const { owner, projectId, members } = await team(['commenter', 'viewer']);
    const [commenter, viewer] = members as [Caller, Caller];
    const forCommenter = await created(owner.headers, { projectId, assigneeId: commenter.user.id });
    const ok = await call('PATCH', `/tasks/${forCommenter.id}`, commenter.headers, { status: 'done' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().status).toBe('done');
    expect(
      (await call('PATCH', `/tasks/${forCommenter.id}`, commenter.headers, { status: 'done', title: 'x' }))
        .statusCode,
    ).toBe(403);
    expect(
      (await call('PUT', `/tasks/${forCommenter.id}`, commenter.headers, { title: 'x' })).statusCode,
    ).toBe(403);
    const forViewer = await created(owner.headers, { projectId, assigneeId: viewer.user.id });
    expect(
      (await call('PATCH', `/tasks/${forViewer.id}`, viewer.headers, { status: 'done' })).statusCode,
    ).toBe(403);
  });

  it('in a personal project the v1 rule holds: a non-member assignee (not a guest) changes the status', async () => {
    const owner = await signedIn(t.app);
    const assignee = await signedIn(t.app);
    const task = await created(owner.headers, { assigneeId: assignee.user.id });
    expect((await call('PATCH', `/tasks/${task.id}`, assignee.headers, { status: 'done' })).statusCode).toBe(
      200,
    );
    expect((await call('PATCH', `/tasks/${task.id}`, assignee.headers, { title: 'x' })).statusCode).toBe(403);
    expect((await call('DELETE', `/tasks/${task.id}`, assignee.headers)).statusCode).toBe(403);
  });
});

describe('guests', () => {
  it('a guest commenter assignee changes the status; its role is capped at commenter', async () => {
    const { owner, projectId, members } = await team(['editor'], 'guest');
    const guest = members[0] as Caller;
    const task = await created(owner.headers, { projectId, assigneeId: guest.user.id });
    expect(
      (await call('PATCH', `/tasks/${task.id}`, guest.headers, { status: 'in_progress' })).statusCode,
    ).toBe(200);
    // Stored as editor, counted as commenter: nothing but the status.
    expect((await call('PATCH', `/tasks/${task.id}`, guest.headers, { title: 'x' })).statusCode).toBe(403);
    const unassigned = await created(owner.headers, { projectId });
    expect(
      (await call('PATCH', `/tasks/${unassigned.id}`, guest.headers, { status: 'done' })).statusCode,
    ).toBe(403);
  });

  it('a guest gets 403 whether or not it can see the task (no 404 to learn from)', async () => {
    const guest = await signedIn(t.app, 'guest');
    const owner = await signedIn(t.app);
    const hidden = await created(owner.headers, {});
    for (const id of [hidden.id, '0191d8a0-0000-7000-8000-000000000000']) {
      for (const body of [{ status: 'done' }, { title: 'x' }]) {
        const res = await call('PATCH', `/tasks/${id}`, guest.headers, body);
        expect(res.statusCode, `${id} ${JSON.stringify(body)}`).toBe(403);
        expect(res.json().code).toBe('forbidden');
      }
    }
    // POST, PUT and DELETE refuse guests before anything else.
    expect((await call('PUT', `/tasks/${hidden.id}`, guest.headers, { nonsense: 1 })).statusCode).toBe(403);
    expect((await call('DELETE', `/tasks/${hidden.id}`, guest.headers)).statusCode).toBe(403);
    // A personal-project assignee that is a guest does not get the v1 status right either.
    const assigned = await created(owner.headers, { assigneeId: guest.user.id });
    expect((await call('GET', `/tasks/${assigned.id}`, guest.headers)).statusCode).toBe(200);
    expect((await call('PATCH', `/tasks/${assigned.id}`, guest.headers, { status: 'done' })).statusCode).toBe(
      403,
    );
  });
});

describe('archived projects', () => {
  it('every task write → 409 project_archived, after the 403 for the role; reads still work', async () => {
    const { owner, projectId, members } = await team(['editor', 'viewer']);
    const [editor, viewer] = members as [Caller, Caller];
    const task = await created(owner.headers, { projectId });
    await setArchived(t.app, projectId, true);
    for (const [method, body] of [
      ['PATCH', { title: 'x' }],
      ['PUT', { title: 'x' }],
      ['DELETE', undefined],
    ] as const) {
      const res = await call(method, `/tasks/${task.id}`, editor.headers, body);
      expect(res.statusCode, method).toBe(409);
      expect(res.json().code).toBe('project_archived');
      expect((await call(method, `/tasks/${task.id}`, viewer.headers, body)).statusCode, method).toBe(403);
    }
    expect((await call('GET', `/tasks/${task.id}`, viewer.headers)).statusCode).toBe(200);
  });

  it('409 comes before 412 If-Match', async () => {
    const { owner, projectId } = await team();
    const task = await created(owner.headers, { projectId });
    await setArchived(t.app, projectId, true);
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/tasks/${task.id}`,
      headers: { ...owner.headers, 'if-match': '"99"' },
      payload: { title: 'x' },
    });
    expect(res.statusCode).toBe(409);
  });
});

describe('assignees in shared projects', () => {
  it('must be members (any role); in a personal project any user', async () => {
    const { owner, projectId, members } = await team(['viewer']);
    const viewer = members[0] as Caller;
    const outsider = await signedIn(t.app);
    const res = await call('POST', '/tasks', owner.headers, {
      title: 'x',
      projectId,
      assigneeId: outsider.user.id,
    });
    expect(res.statusCode).toBe(422);
    expect(fieldItems(res)).toEqual([['/assigneeId', 'not_found']]);
    const task = await created(owner.headers, { projectId, assigneeId: viewer.user.id });
    const patch = await call('PATCH', `/tasks/${task.id}`, owner.headers, { assigneeId: outsider.user.id });
    expect(fieldItems(patch)).toEqual([['/assigneeId', 'not_found']]);
    // An admin that is no member is no assignee either.
    const admin = await signedIn(t.app, 'admin');
    const byAdmin = await call('PATCH', `/tasks/${task.id}`, admin.headers, { assigneeId: admin.user.id });
    expect(fieldItems(byAdmin)).toEqual([['/assigneeId', 'not_found']]);
    expect((await created(owner.headers, { assigneeId: outsider.user.id })).assigneeId).toBe(
      outsider.user.id,
    );
  });

  it('checked when projectId changes: moving to a project where the assignee is no member → 422', async () => {
    const { owner, projectId } = await team();
    const assignee = await signedIn(t.app);
    const task = await created(owner.headers, { assigneeId: assignee.user.id });
    const res = await call('PATCH', `/tasks/${task.id}`, owner.headers, { projectId });
    expect(res.statusCode).toBe(422);
    expect(fieldItems(res)).toEqual([['/assigneeId', 'not_found']]);
    await addMember(t.app, projectId, assignee.user.id, 'commenter');
    const moved = await call('PATCH', `/tasks/${task.id}`, owner.headers, { projectId });
    expect(moved.statusCode).toBe(200);
    expect(moved.json()).toMatchObject({ projectId, assigneeId: assignee.user.id, version: 2 });
  });
});

describe('moving a task to another project', () => {
  it('needs editor in the source and the target', async () => {
    const { owner, projectId: source, members } = await team(['editor']);
    const editor = members[0] as Caller;
    const target = await createProject(t.app, owner.user.id);
    await addMember(t.app, target, editor.user.id, 'commenter');
    const task = await created(owner.headers, { projectId: source });
    expect((await call('PATCH', `/tasks/${task.id}`, editor.headers, { projectId: target })).statusCode).toBe(
      403,
    );
    const hidden = await createProject(t.app, owner.user.id);
    const res = await call('PATCH', `/tasks/${task.id}`, editor.headers, { projectId: hidden });
    expect(res.statusCode).toBe(422);
    expect(fieldItems(res)).toEqual([['/projectId', 'not_found']]);
    const archived = await createProject(t.app, owner.user.id, { archived: true });
    await addMember(t.app, archived, editor.user.id, 'editor');
    const toArchived = await call('PATCH', `/tasks/${task.id}`, editor.headers, { projectId: archived });
    expect(toArchived.statusCode).toBe(409);
    expect(toArchived.json().code).toBe('project_archived');
    const writable = await createProject(t.app, owner.user.id);
    await addMember(t.app, writable, editor.user.id, 'editor');
    const moved = await call('PATCH', `/tasks/${task.id}`, editor.headers, { projectId: writable });
    expect(moved.json()).toMatchObject({ projectId: writable, version: 2 });
    // The former source's members lose sight of it; the target's see it.
    expect((await call('GET', `/tasks/${task.id}`, owner.headers)).statusCode).toBe(200);
  });

  it('PUT keeps an omitted projectId and parentId; sending them moves', async () => {
    const { owner, projectId } = await team();
    const parent = await created(owner.headers, { projectId });
    const child = await created(owner.headers, { projectId, parentId: parent.id, priority: 'high' });
    const put = await call('PUT', `/tasks/${child.id}`, owner.headers, { title: 'Replaced' });
    expect(put.json()).toMatchObject({ projectId, parentId: parent.id, priority: 'medium' });
    const inbox = await personalProjectId(t.app, owner.user.id);
    const moved = await call('PUT', `/tasks/${child.id}`, owner.headers, {
      title: 'Out',
      projectId: inbox,
      parentId: null,
    });
    expect(moved.json()).toMatchObject({ projectId: inbox, parentId: null });
  });
});

describe('lists and stats', () => {
  it('default: member projects (unarchived) and assigned tasks; projectId names projects, archived ones too', async () => {
    const me = await signedIn(t.app);
    const other = await signedIn(t.app);
    const shared = await createProject(t.app, other.user.id);
    await addMember(t.app, shared, me.user.id, 'viewer');
    const archived = await createProject(t.app, other.user.id);
    await addMember(t.app, archived, me.user.id, 'viewer');
    const notMine = await createProject(t.app, other.user.id);

    const mine = await created(me.headers, {});
    const inShared = await created(other.headers, { projectId: shared });
    const inArchived = await created(other.headers, { projectId: archived, status: 'done' });
    const assigned = await created(other.headers, { assigneeId: me.user.id });
    const hidden = await created(other.headers, { projectId: notMine });
    await setArchived(t.app, archived, true);

    const all = ids(await call('GET', '/tasks?size=100', me.headers));
    expect(all.sort()).toEqual([mine.id, inShared.id, assigned.id].sort());
    const named = ids(await call('GET', `/tasks?projectId=${archived},${shared},${notMine}`, me.headers));
    expect(named.sort()).toEqual([inShared.id, inArchived.id].sort());
    expect(ids(await call('GET', `/tasks?projectId=${archived}&projectId=${notMine}`, me.headers))).toEqual([
      inArchived.id,
    ]);
    expect(ids(await call('GET', `/tasks?projectId=${notMine}`, me.headers))).toEqual([]);
    void hidden;

    const stats = (await call('GET', '/tasks/stats', me.headers)).json();
    expect(stats.total).toBe(3);
    const archivedStats = (await call('GET', `/tasks/stats?projectId=${archived}`, me.headers)).json();
    expect(archivedStats).toMatchObject({ total: 1, byStatus: { done: 1 } });

    // v2 walks the same tasks.
    const v2 = await t.app.inject({
      method: 'GET',
      url: `/api/v2/tasks?projectId=${archived},${shared}&limit=1`,
      headers: me.headers,
    });
    const first = v2.json();
    expect(first.items).toHaveLength(1);
    const next = await t.app.inject({
      method: 'GET',
      url: `/api/v2/tasks?projectId=${archived},${shared}&limit=1&cursor=${encodeURIComponent(first.nextCursor)}`,
      headers: me.headers,
    });
    expect([...first.items, ...next.json().items].map((x: { id: string }) => x.id).sort()).toEqual(
      [inShared.id, inArchived.id].sort(),
    );
    // A cursor is bound to the filters: another projectId list → 400.
    const mismatched = await t.app.inject({
      method: 'GET',
      url: `/api/v2/tasks?projectId=${shared}&limit=1&cursor=${encodeURIComponent(first.nextCursor)}`,
      headers: me.headers,
    });
    expect(mismatched.statusCode).toBe(400);
  });

  it('admins: every unarchived project by default; named archived ones on request', async () => {
    const admin = await signedIn(t.app, 'admin');
    const owner = await signedIn(t.app);
    const archived = await createProject(t.app, owner.user.id);
    const task = await created(owner.headers, { projectId: archived });
    const live = await created(owner.headers, {});
    await setArchived(t.app, archived, true);
    const all = ids(await call('GET', `/tasks?ownerId=${owner.user.id}`, admin.headers));
    expect(all).toEqual([live.id]);
    expect(ids(await call('GET', `/tasks?projectId=${archived}`, admin.headers))).toEqual([task.id]);
  });

  it('projectId: at most 50 ids, each an id; parentId: an id or none', async () => {
    const me = await signedIn(t.app);
    const many = Array.from({ length: 51 }, (_, i) => `p${i}`).join(',');
    for (const url of ['/tasks', '/tasks/stats']) {
      const res = await call('GET', `${url}?projectId=${many}`, me.headers);
      expect(res.statusCode, url).toBe(422);
      expect(fieldItems(res)[0]?.[0]).toBe('/query/projectId');
      expect((await call('GET', `${url}?parentId=a,b`, me.headers)).statusCode, url).toBe(422);
      expect((await call('GET', `${url}?parentId=1&parentId=2`, me.headers)).statusCode, url).toBe(422);
      expect((await call('GET', `${url}?projectId=${'p,'.repeat(49)}p`, me.headers)).statusCode, url).toBe(
        200,
      );
    }
    expect((await call('GET', '/tasks/stats?nonsense=1', me.headers)).statusCode).toBe(422);
  });
});

describe('the OpenAPI document', () => {
  it('projectId and parentId are writable task fields', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi/v1.json' })).json();
    const op = doc.paths['/api/v1/tasks'].post;
    const schema = op.requestBody.content['application/json'].schema;
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['projectId', 'parentId']));
    expect(schema.required).toEqual(['title']);
    expect(schema['x-read-only'] ?? []).not.toContain('projectId');
    expect(schema['x-read-only'] ?? []).not.toContain('parentId');
  });
});
