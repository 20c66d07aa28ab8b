import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller, fieldItems, type Headers } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { personalProjectId, signedIn } from '../helpers/factories.js';
import { addMember, createProject, storedTask, taskIn } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const call = apiCaller(() => t.app);
const members = (projectId: string) => `/projects/${projectId}/members`;
const member = (projectId: string, userId: string) => `/projects/${projectId}/members/${userId}`;

async function roleOf(headers: Headers, projectId: string, userId: string): Promise<string> {
  return (await call('GET', member(projectId, userId), headers)).json().role;
}

describe('POST /projects/{id}/members', () => {
  it('adds a member by email (any case): 201, Location, the member; it then sees the project', async () => {
    const owner = await signedIn(t.app);
    const b = await signedIn(t.app);
    const project = await createProject(t.app, owner.headers);
    const res = await call('POST', members(project.id), owner.headers, {
      email: b.user.email.toUpperCase(),
      role: 'editor',
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({
      userId: b.user.id,
      name: b.user.name,
      email: b.user.email,
      role: 'editor',
      addedAt: expect.any(String),
    });
    expect(res.headers.location).toBe(`/api/v1/projects/${project.id}/members/${b.user.id}`);
    expect(res.headers['cache-control']).toBe('private, no-cache');
    expect((await call('GET', `/projects/${project.id}`, b.headers)).json().role).toBe('editor');
    const c = await signedIn(t.app);
    const v2 = await t.app.inject({
      method: 'POST',
      url: `/api/v2/projects/${project.id}/members`,
      headers: owner.headers,
      payload: { email: c.user.email, role: 'viewer' },
    });
    expect(v2.headers.location).toBe(`/api/v2/projects/${project.id}/members/${c.user.id}`);
  });

  it('answers an email of no account 422 not_found on /email, a second add 409 conflict', async () => {
    const owner = await signedIn(t.app);
    const b = await signedIn(t.app);
    const project = await createProject(t.app, owner.headers);
    const unknown = await call('POST', members(project.id), owner.headers, {
      email: 'nobody-here@example.com',
      role: 'viewer',
    });
    expect(unknown.statusCode).toBe(422);
    expect(fieldItems(unknown)).toEqual([['/email', 'not_found']]);
    await addMember(t.app, owner.headers, project.id, b.user.email, 'viewer');
    const again = await call('POST', members(project.id), owner.headers, {
      email: b.user.email,
      role: 'editor',
    });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('conflict');
    expect(await roleOf(owner.headers, project.id, b.user.id)).toBe('viewer');
    const self = await call('POST', members(project.id), owner.headers, {
      email: owner.user.email,
      role: 'viewer',
    });
    expect(self.json().code).toBe('conflict');
    const bad = await call('POST', members(project.id), owner.headers, {
      email: 'x',
      role: 'boss',
      extra: 1,
    });
    expect(fieldItems(bad).sort()).toEqual(
      [
        ['/email', 'format'],
        ['/role', 'enum'],
        ['/extra', 'unknown_field'],
      ].sort(),
    );
  });

  it('caps a guest at commenter: more → 422 role_not_allowed on /role', async () => {
    const owner = await signedIn(t.app);
    const guest = await signedIn(t.app, 'guest');
    const project = await createProject(t.app, owner.headers);
    for (const role of ['editor', 'owner']) {
      const res = await call('POST', members(project.id), owner.headers, { email: guest.user.email, role });
      expect(res.statusCode, role).toBe(422);
      expect(fieldItems(res)).toEqual([['/role', 'role_not_allowed']]);
    }
    const ok = await call('POST', members(project.id), owner.headers, {
      email: guest.user.email,
      role: 'commenter',
    });
    expect(ok.statusCode).toBe(201);
    const patch = await call('PATCH', member(project.id, guest.user.id), owner.headers, { role: 'editor' });
    expect(fieldItems(patch)).toEqual([['/role', 'role_not_allowed']]);
    expect((await call('GET', `/projects/${project.id}`, guest.headers)).json().role).toBe('commenter');
  });

  it('is the owners’ (403 for other members, 404 for strangers); never in a personal or archived project', async () => {
    const owner = await signedIn(t.app);
    const editor = await signedIn(t.app);
    const c = await signedIn(t.app);
    const project = await createProject(t.app, owner.headers);
    await addMember(t.app, owner.headers, project.id, editor.user.email, 'editor');
    const byEditor = await call('POST', members(project.id), editor.headers, {
      email: c.user.email,
      role: 'viewer',
    });
    expect(byEditor.statusCode).toBe(403);
    const byStranger = await call('POST', members(project.id), c.headers, {
      email: c.user.email,
      role: 'viewer',
    });
    expect(byStranger.statusCode).toBe(404);
    const inbox = await personalProjectId(t.app, owner.user.id);
    const shared = await call('POST', members(inbox), owner.headers, { email: c.user.email, role: 'viewer' });
    expect(shared.statusCode).toBe(409);
    expect(shared.json().code).toBe('conflict');
    await call('PATCH', `/projects/${project.id}`, owner.headers, { archived: true });
    const archived = await call('POST', members(project.id), owner.headers, {
      email: c.user.email,
      role: 'viewer',
    });
    expect(archived.statusCode).toBe(409);
    expect(archived.json().code).toBe('project_archived');
    // 403 for the role before 409 for the archive.
    expect(
      (await call('POST', members(project.id), editor.headers, { email: c.user.email, role: 'viewer' }))
        .statusCode,
    ).toBe(403);
    expect(
      (await call('PATCH', member(project.id, editor.user.id), owner.headers, { role: 'viewer' })).json()
        .code,
    ).toBe('project_archived');
    expect((await call('DELETE', member(project.id, editor.user.id), owner.headers)).json().code).toBe(
      'project_archived',
    );
    expect((await call('DELETE', member(project.id, editor.user.id), editor.headers)).json().code).toBe(
      'project_archived',
    );
    // Guests are refused by the route before anything.
    const guest = await signedIn(t.app, 'guest');
    expect(
      (await call('POST', members(project.id), guest.headers, { email: c.user.email, role: 'viewer' }))
        .statusCode,
    ).toBe(403);
  });
});

describe('GET /projects/{id}/members', () => {
  it('lists the members oldest first for any member, in pages (v1) and cursors (v2); 404 for strangers', async () => {
    const owner = await signedIn(t.app);
    const others = [await signedIn(t.app), await signedIn(t.app), await signedIn(t.app)];
    const project = await createProject(t.app, owner.headers);
    for (const [i, o] of others.entries()) {
      await addMember(
        t.app,
        owner.headers,
        project.id,
        o.user.email,
        ['viewer', 'commenter', 'editor'][i] ?? 'viewer',
      );
    }
    const ids = [owner.user.id, ...others.map((o) => o.user.id)];
    const viewer = others[0];
    if (!viewer) throw new Error('no viewer');
    const page = (await call('GET', members(project.id), viewer.headers)).json();
    expect(page.items.map((m: { userId: string }) => m.userId)).toEqual(ids);
    expect(page.items.map((m: { role: string }) => m.role)).toEqual([
      'owner',
      'viewer',
      'commenter',
      'editor',
    ]);
    expect(page).toMatchObject({ total: 4, pages: 1 });
    const second = (await call('GET', `${members(project.id)}?size=3&page=2`, viewer.headers)).json();
    expect(second).toMatchObject({ total: 4, pages: 2 });
    expect(second.items.map((m: { userId: string }) => m.userId)).toEqual([ids[3]]);

    const seen: string[] = [];
    let url = `/api/v2${members(project.id)}?limit=3`;
    for (let n = 0; n < 5; n++) {
      const res = await t.app.inject({ method: 'GET', url, headers: viewer.headers });
      const body = res.json();
      seen.push(...body.items.map((m: { userId: string }) => m.userId));
      if (body.nextCursor === null) break;
      expect(res.headers.link).toContain('rel="next"');
      url = `/api/v2${members(project.id)}?limit=3&cursor=${encodeURIComponent(body.nextCursor)}`;
    }
    expect(seen).toEqual(ids);

    const stranger = await signedIn(t.app);
    for (const url of [members(project.id), member(project.id, owner.user.id)]) {
      expect((await call('GET', url, stranger.headers)).statusCode).toBe(404);
    }
    expect((await call('GET', member(project.id, stranger.user.id), viewer.headers)).statusCode).toBe(404);
  });

  it('shows an admin only where it is a member, yet lets it read every member list', async () => {
    const owner = await signedIn(t.app);
    const admin = await signedIn(t.app, 'admin');
    const project = await createProject(t.app, owner.headers);
    const list = (await call('GET', members(project.id), admin.headers)).json();
    expect(list.items.map((m: { userId: string }) => m.userId)).toEqual([owner.user.id]);
    expect((await call('GET', member(project.id, admin.user.id), admin.headers)).statusCode).toBe(404);
    await addMember(t.app, admin.headers, project.id, admin.user.email, 'viewer');
    // Its membership is listed as granted; its role in the project stays owner.
    expect(await roleOf(owner.headers, project.id, admin.user.id)).toBe('viewer');
    expect((await call('GET', `/projects/${project.id}`, admin.headers)).json().role).toBe('owner');
  });

  it('shows the effective role: a user demoted to guest is at most commenter at once; promoted back, owner', async () => {
    const admin = await signedIn(t.app, 'admin');
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const project = await createProject(t.app, a.headers);
    await addMember(t.app, a.headers, project.id, b.user.email, 'owner');
    const demote = await call('PATCH', `/users/${a.user.id}`, admin.headers, { role: 'guest' });
    expect(demote.statusCode).toBe(200);
    expect(await roleOf(b.headers, project.id, a.user.id)).toBe('commenter');
    expect((await call('GET', `/projects/${project.id}`, a.headers)).json().role).toBe('commenter');
    expect(
      (await call('GET', `/projects/${await personalProjectId(t.app, a.user.id)}`, a.headers)).json().role,
    ).toBe('commenter');
    expect((await call('PATCH', `/projects/${project.id}`, a.headers, { name: 'x' })).statusCode).toBe(403);
    expect((await call('PATCH', `/users/${a.user.id}`, admin.headers, { role: 'user' })).statusCode).toBe(
      200,
    );
    expect(await roleOf(b.headers, project.id, a.user.id)).toBe('owner');
    expect((await call('GET', `/projects/${project.id}`, a.headers)).json().role).toBe('owner');
  });
});

describe('PATCH /projects/{id}/members/{userId}', () => {
  it('changes a role (owners; admins act as owners); the same role changes nothing', async () => {
    const owner = await signedIn(t.app);
    const b = await signedIn(t.app);
    const admin = await signedIn(t.app, 'admin');
    const project = await createProject(t.app, owner.headers);
    await addMember(t.app, owner.headers, project.id, b.user.email, 'editor');
    const res = await call('PATCH', member(project.id, b.user.id), owner.headers, { role: 'viewer' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ userId: b.user.id, role: 'viewer' });
    expect((await call('PATCH', `/projects/${project.id}`, b.headers, { name: 'x' })).statusCode).toBe(403);
    expect(
      (await call('PATCH', member(project.id, b.user.id), b.headers, { role: 'owner' })).statusCode,
    ).toBe(403);
    const byAdmin = await call('PATCH', member(project.id, b.user.id), admin.headers, { role: 'commenter' });
    expect(byAdmin.json().role).toBe('commenter');
    expect(
      (await call('PATCH', member(project.id, b.user.id), owner.headers, { role: 'commenter' })).statusCode,
    ).toBe(200);
    expect(
      (await call('PATCH', member(project.id, admin.user.id), owner.headers, { role: 'viewer' })).statusCode,
    ).toBe(404);
    const missing = await call('PATCH', member(project.id, b.user.id), owner.headers, {});
    expect(fieldItems(missing)).toEqual([['/role', 'required']]);
  });

  it('refuses to demote the last owner (409 last_owner); admins do not count; a second owner makes it possible', async () => {
    const owner = await signedIn(t.app);
    const b = await signedIn(t.app);
    const admin = await signedIn(t.app, 'admin');
    const project = await createProject(t.app, owner.headers);
    await addMember(t.app, owner.headers, project.id, b.user.email, 'editor');
    for (const headers of [owner.headers, admin.headers]) {
      const res = await call('PATCH', member(project.id, owner.user.id), headers, { role: 'editor' });
      expect(res.statusCode).toBe(409);
      expect(res.json().code).toBe('last_owner');
    }
    await call('PATCH', member(project.id, b.user.id), owner.headers, { role: 'owner' });
    const ok = await call('PATCH', member(project.id, owner.user.id), owner.headers, { role: 'editor' });
    expect(ok.json().role).toBe('editor');
    // The demoted owner is an editor now: it no longer manages members.
    expect(
      (await call('PATCH', member(project.id, b.user.id), owner.headers, { role: 'viewer' })).statusCode,
    ).toBe(403);
  });

  it('counts no guest as an owner: with the other owner demoted to guest, the last real owner stays', async () => {
    const admin = await signedIn(t.app, 'admin');
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const project = await createProject(t.app, a.headers);
    await addMember(t.app, a.headers, project.id, b.user.email, 'owner');
    await call('PATCH', `/users/${b.user.id}`, admin.headers, { role: 'guest' });
    const demote = await call('PATCH', member(project.id, a.user.id), a.headers, { role: 'viewer' });
    expect(demote.json().code).toBe('last_owner');
    const leave = await call('DELETE', member(project.id, a.user.id), a.headers);
    expect(leave.json().code).toBe('last_owner');
  });

  it('keeps the user of a personal project its owner (409 last_owner)', async () => {
    const a = await signedIn(t.app);
    const admin = await signedIn(t.app, 'admin');
    const inbox = await personalProjectId(t.app, a.user.id);
    for (const headers of [a.headers, admin.headers]) {
      expect((await call('PATCH', member(inbox, a.user.id), headers, { role: 'viewer' })).json().code).toBe(
        'last_owner',
      );
      expect((await call('DELETE', member(inbox, a.user.id), headers)).json().code).toBe('last_owner');
    }
    const guest = await signedIn(t.app, 'guest');
    const guestInbox = await personalProjectId(t.app, guest.user.id);
    expect((await call('DELETE', member(guestInbox, guest.user.id), guest.headers)).json().code).toBe(
      'last_owner',
    );
    expect((await call('GET', `/projects/${guestInbox}`, guest.headers)).json().role).toBe('commenter');
  });
});

describe('DELETE /projects/{id}/members/{userId}', () => {
  it('lets an owner remove a member and a member leave; others get 403; the project is then 404 to them', async () => {
    const owner = await signedIn(t.app);
    const b = await signedIn(t.app);
    const c = await signedIn(t.app);
    const project = await createProject(t.app, owner.headers);
    await addMember(t.app, owner.headers, project.id, b.user.email, 'editor');
    await addMember(t.app, owner.headers, project.id, c.user.email, 'viewer');
    expect((await call('DELETE', member(project.id, b.user.id), c.headers)).statusCode).toBe(403);
    expect((await call('DELETE', member(project.id, owner.user.id), b.headers)).statusCode).toBe(403);
    expect((await call('DELETE', member(project.id, c.user.id), c.headers)).statusCode).toBe(204);
    expect((await call('GET', `/projects/${project.id}`, c.headers)).statusCode).toBe(404);
    expect((await call('DELETE', member(project.id, b.user.id), owner.headers)).statusCode).toBe(204);
    expect((await call('GET', `/projects/${project.id}`, b.headers)).statusCode).toBe(404);
    expect((await call('DELETE', member(project.id, b.user.id), owner.headers)).statusCode).toBe(404);
    const leave = await call('DELETE', member(project.id, owner.user.id), owner.headers);
    expect(leave.statusCode).toBe(409);
    expect(leave.json().code).toBe('last_owner');
  });

  it('lets a guest member leave', async () => {
    const owner = await signedIn(t.app);
    const guest = await signedIn(t.app, 'guest');
    const project = await createProject(t.app, owner.headers);
    await addMember(t.app, owner.headers, project.id, guest.user.email, 'commenter');
    expect((await call('DELETE', member(project.id, owner.user.id), guest.headers)).statusCode).toBe(403);
    expect((await call('DELETE', member(project.id, guest.user.id), guest.headers)).statusCode).toBe(204);
  });

  it("unassigns the removed member's tasks in that project, each with a new version, and no others", async () => {
    const owner = await signedIn(t.app);
    const b = await signedIn(t.app);
    const project = await createProject(t.app, owner.headers);
    const other = await createProject(t.app, owner.headers, { name: 'Other' });
    await addMember(t.app, owner.headers, project.id, b.user.email, 'editor');
    await addMember(t.app, owner.headers, other.id, b.user.email, 'editor');
    const mine = [
      await taskIn(t.app, owner.headers, project.id, { assigneeId: b.user.id }),
      await taskIn(t.app, owner.headers, project.id, { assigneeId: b.user.id }),
    ];
    const ownersTask = await taskIn(t.app, owner.headers, project.id, { assigneeId: owner.user.id });
    const elsewhere = await taskIn(t.app, owner.headers, other.id, { assigneeId: b.user.id });
    expect((await call('DELETE', member(project.id, b.user.id), owner.headers)).statusCode).toBe(204);
    for (const task of mine) {
      const stored = await storedTask(t.app, task.id);
      expect(stored).toMatchObject({ assignee_id: null, project_id: project.id });
      expect(Number(stored?.version)).toBe(task.version + 1);
      expect(String(stored?.updated_at) > task.updatedAt).toBe(true);
    }
    expect(await storedTask(t.app, ownersTask.id)).toMatchObject({ assignee_id: owner.user.id });
    expect(Number((await storedTask(t.app, ownersTask.id))?.version)).toBe(1);
    expect(await storedTask(t.app, elsewhere.id)).toMatchObject({ assignee_id: b.user.id });
  });
});
