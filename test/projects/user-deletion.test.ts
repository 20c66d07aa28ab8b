import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { personalProjectId, signedIn } from '../helpers/factories.js';
import { addMember, createProject, storedTask, taskIn } from './helpers.js';

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const call = apiCaller(() => t.app);

async function projectExists(id: string): Promise<boolean> {
  const row = await t.app.ctx.database.db
    .selectFrom('projects')
    .select('id')
    .where('id', '=', id)
    .executeTakeFirst();
  return row !== undefined;
}

describe('DELETE /users/{id} and projects', () => {
  it('refuses to delete the last owner of a shared project that has other members (409 last_owner), and rolls back', async () => {
    const admin = await signedIn(t.app, 'admin');
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const project = await createProject(t.app, a.headers);
    const alone = await createProject(t.app, a.headers, { name: 'Alone' });
    await addMember(t.app, a.headers, project.id, b.user.email, 'editor');
    const res = await call('DELETE', `/users/${a.user.id}`, admin.headers);
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('last_owner');
    // Nothing happened: the user, its Inbox and its lone project are all there.
    expect((await call('GET', `/users/${a.user.id}`, admin.headers)).statusCode).toBe(200);
    expect(await projectExists(alone.id)).toBe(true);
    expect(await projectExists(await personalProjectId(t.app, a.user.id))).toBe(true);
    expect((await call('GET', '/users/me', a.headers)).statusCode).toBe(200);
    // Another owner first: then the deletion passes.
    await call('PATCH', `/projects/${project.id}/members/${b.user.id}`, a.headers, { role: 'owner' });
    expect((await call('DELETE', `/users/${a.user.id}`, admin.headers)).statusCode).toBe(204);
    expect(await projectExists(project.id)).toBe(true);
  });

  it('deletes its personal project and the shared projects of which it is the only member, with their tasks', async () => {
    const admin = await signedIn(t.app, 'admin');
    const a = await signedIn(t.app);
    const inbox = await personalProjectId(t.app, a.user.id);
    const alone = await createProject(t.app, a.headers, { name: 'Alone' });
    const task = await taskIn(t.app, a.headers, alone.id);
    expect((await call('DELETE', `/users/${a.user.id}`, admin.headers)).statusCode).toBe(204);
    expect(await projectExists(inbox)).toBe(false);
    expect(await projectExists(alone.id)).toBe(false);
    expect(await storedTask(t.app, task.id)).toBeUndefined();
  });

  it('leaves every shared project; what it created there stays without an owner, what it was assigned loses it', async () => {
    const admin = await signedIn(t.app, 'admin');
    const owner = await signedIn(t.app);
    const a = await signedIn(t.app);
    const project = await createProject(t.app, owner.headers);
    await addMember(t.app, owner.headers, project.id, a.user.email, 'editor');
    const created = await taskIn(t.app, a.headers, project.id);
    const assigned = await taskIn(t.app, owner.headers, project.id, { assigneeId: a.user.id });
    expect((await call('DELETE', `/users/${a.user.id}`, admin.headers)).statusCode).toBe(204);
    expect(await storedTask(t.app, created.id)).toMatchObject({ owner_id: null, project_id: project.id });
    const unassigned = await storedTask(t.app, assigned.id);
    expect(unassigned).toMatchObject({ assignee_id: null });
    expect(Number(unassigned?.version)).toBe(assigned.version + 1);
    const list = (await call('GET', `/projects/${project.id}/members`, owner.headers)).json();
    expect(list.items.map((m: { userId: string }) => m.userId)).toEqual([owner.user.id]);
  });

  it('keeps a project its creator leaves by deletion: ownerId becomes null', async () => {
    const admin = await signedIn(t.app, 'admin');
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const project = await createProject(t.app, a.headers);
    await addMember(t.app, a.headers, project.id, b.user.email, 'owner');
    expect((await call('DELETE', `/users/${a.user.id}`, admin.headers)).statusCode).toBe(204);
    const seen = (await call('GET', `/projects/${project.id}`, b.headers)).json();
    expect(seen).toMatchObject({ id: project.id, ownerId: null, role: 'owner' });
  });

  it('does not count a guest as an owner: a guest with an owner membership may be deleted', async () => {
    const admin = await signedIn(t.app, 'admin');
    const a = await signedIn(t.app);
    const b = await signedIn(t.app);
    const project = await createProject(t.app, a.headers);
    await addMember(t.app, a.headers, project.id, b.user.email, 'viewer');
    await call('PATCH', `/users/${a.user.id}`, admin.headers, { role: 'guest' });
    // a is no owner now (capped at commenter): the project has no counted owner to lose.
    expect((await call('DELETE', `/users/${a.user.id}`, admin.headers)).statusCode).toBe(204);
    expect(await projectExists(project.id)).toBe(true);
    const list = (await call('GET', `/projects/${project.id}/members`, admin.headers)).json();
    expect(list.items.map((m: { userId: string }) => m.userId)).toEqual([b.user.id]);
  });
});
