import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { type Db, personalProject, seedComment, seedProject, seedTask } from './seed.js';

/**
 * Deleting a user who owns shared work (contract §7 "Deleting a user", design: users.deleted):
 * its tasks and comments in shared projects stay (ownerId / authorId null), its personal project
 * goes with its tasks, a shared project where it was the only member goes, it leaves every other
 * project; when it is the last owner of a project that has other members → 409 last_owner and
 * nothing at all changed.
 */

let t: TestApp;
let db: Db;
let admin: Awaited<ReturnType<typeof signedIn>>;

beforeAll(async () => {
  t = await buildTestApp();
  db = t.db.handle.db;
  admin = await signedIn(t.app, 'admin');
});
afterAll(async () => t?.close());

function deleteUser(id: string) {
  return t.app.inject({ method: 'DELETE', url: `/api/v1/users/${id}`, headers: admin.headers });
}

/** Everything a user's deletion could touch, to compare before and after a refused one. */
async function everything() {
  return {
    users: await db.selectFrom('users').select(['id', 'updated_at']).orderBy('id').execute(),
    projects: await db.selectFrom('projects').selectAll().orderBy('id').execute(),
    members: await db
      .selectFrom('project_members')
      .selectAll()
      .orderBy('project_id')
      .orderBy('user_id')
      .execute(),
    tasks: await db.selectFrom('tasks').selectAll().orderBy('id').execute(),
    comments: await db.selectFrom('comments').selectAll().orderBy('id').execute(),
    sessions: await db.selectFrom('sessions').select('id').orderBy('id').execute(),
  };
}

const exists = async (table: 'projects' | 'tasks' | 'comments', id: string) =>
  (await db.selectFrom(table).select('id').where('id', '=', id).executeTakeFirst()) !== undefined;

describe('deleting a user who owns shared work', () => {
  it('keeps its shared tasks and comments (ownerId/authorId null) and removes its own projects', async () => {
    const gone = await signedIn(t.app);
    const other = await signedIn(t.app);
    // Shared with another owner: stays.
    const shared = await seedProject(db, {
      ownerId: gone.user.id,
      members: [
        [gone.user.id, 'owner'],
        [other.user.id, 'owner'],
      ],
    });
    // Where it is an editor: stays, without it.
    const elsewhere = await seedProject(db, {
      ownerId: other.user.id,
      members: [
        [other.user.id, 'owner'],
        [gone.user.id, 'editor'],
      ],
    });
    // Where it is the only member: goes.
    const alone = await seedProject(db, { ownerId: gone.user.id, members: [[gone.user.id, 'owner']] });
    const inbox = await personalProject(db, gone.user.id);

    const sharedTask = await seedTask(db, { projectId: shared, ownerId: gone.user.id, tags: ['keep'] });
    const assignedToIt = await seedTask(db, {
      projectId: elsewhere,
      ownerId: other.user.id,
      assigneeId: gone.user.id,
    });
    const elsewhereTask = await seedTask(db, { projectId: elsewhere, ownerId: gone.user.id });
    const aloneTask = await seedTask(db, { projectId: alone, ownerId: gone.user.id });
    const inboxTask = await seedTask(db, { projectId: inbox, ownerId: gone.user.id });
    const itsComment = await seedComment(db, sharedTask, gone.user.id);
    const otherComment = await seedComment(db, sharedTask, other.user.id);
    const aloneComment = await seedComment(db, aloneTask, gone.user.id);

    const res = await deleteUser(gone.user.id);
    expect(res.statusCode, res.body).toBe(204);

    expect(await exists('projects', shared)).toBe(true);
    expect(await exists('projects', elsewhere)).toBe(true);
    expect(await exists('projects', alone)).toBe(false);
    expect(await exists('projects', inbox)).toBe(false);
    expect(await exists('tasks', aloneTask)).toBe(false);
    expect(await exists('tasks', inboxTask)).toBe(false);
    expect(await exists('comments', aloneComment)).toBe(false);
    const memberships = await db
      .selectFrom('project_members')
      .selectAll()
      .where('user_id', '=', gone.user.id)
      .execute();
    expect(memberships).toEqual([]);
    // The shared project's creator is gone too.
    const sharedRow = await db
      .selectFrom('projects')
      .selectAll()
      .where('id', '=', shared)
      .executeTakeFirstOrThrow();
    expect(sharedRow.owner_id).toBeNull();

    // What stays, as the API shows it to the remaining owner.
    const get = (url: string) =>
      t.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: other.headers });
    const task = await get(`/tasks/${sharedTask}`);
    expect(task.statusCode, task.body).toBe(200);
    expect(task.json()).toMatchObject({ id: sharedTask, ownerId: null, projectId: shared, tags: ['keep'] });
    const elsewhereReply = await get(`/tasks/${elsewhereTask}`);
    expect(elsewhereReply.json()).toMatchObject({ ownerId: null, projectId: elsewhere });
    const unassigned = await get(`/tasks/${assignedToIt}`);
    expect(unassigned.json()).toMatchObject({ assigneeId: null, version: 2 });
    const comment = await get(`/comments/${itsComment}`);
    expect(comment.statusCode, comment.body).toBe(200);
    expect(comment.json()).toMatchObject({ id: itsComment, authorId: null, taskId: sharedTask });
    expect((await get(`/comments/${otherComment}`)).json()).toMatchObject({ authorId: other.user.id });
    const list = await get(`/tasks/${sharedTask}/comments`);
    expect((list.json() as { items: { id: string }[] }).items.map((c) => c.id).sort()).toEqual(
      [itsComment, otherComment].sort(),
    );
    const project = await get(`/projects/${shared}`);
    expect(project.statusCode, project.body).toBe(200);
    expect(project.json()).toMatchObject({ ownerId: null, role: 'owner' });
    const members = await get(`/projects/${shared}/members`);
    expect((members.json() as { items: { userId: string }[] }).items.map((x) => x.userId)).toEqual([
      other.user.id,
    ]);
  });

  it('the last owner of a project with other members → 409 last_owner, and nothing changed', async () => {
    const last = await signedIn(t.app);
    const editor = await signedIn(t.app);
    const project = await seedProject(db, {
      ownerId: last.user.id,
      members: [
        [last.user.id, 'owner'],
        [editor.user.id, 'editor'],
      ],
    });
    // Its own projects would go, and its tasks elsewhere lose their owner — but not this time.
    await seedProject(db, { ownerId: last.user.id, members: [[last.user.id, 'owner']] });
    const task = await seedTask(db, { projectId: project, ownerId: last.user.id, assigneeId: last.user.id });
    await seedComment(db, task, last.user.id);
    await seedTask(db, { projectId: await personalProject(db, last.user.id), ownerId: last.user.id });

    const before = await everything();
    const res = await deleteUser(last.user.id);
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json()).toMatchObject({ code: 'last_owner', status: 409 });
    expect(await everything()).toEqual(before);
    // It still works: its token too.
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: last.headers });
    expect(me.statusCode).toBe(200);

    // Once an admin gives the project another owner, the deletion goes through.
    const promote = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/projects/${project}/members/${editor.user.id}`,
      headers: admin.headers,
      payload: { role: 'owner' },
    });
    expect(promote.statusCode, promote.body).toBe(200);
    const again = await deleteUser(last.user.id);
    expect(again.statusCode, again.body).toBe(204);
    expect(await exists('projects', project)).toBe(true);
    expect(await db.selectFrom('tasks').select('owner_id').where('id', '=', task).executeTakeFirst()).toEqual(
      {
        owner_id: null,
      },
    );
  });

  it('an owner demoted to guest does not count: the other owner is the last one', async () => {
    const last = await signedIn(t.app);
    const demoted = await signedIn(t.app);
    const project = await seedProject(db, {
      ownerId: last.user.id,
      members: [
        [last.user.id, 'owner'],
        [demoted.user.id, 'owner'],
      ],
    });
    const demote = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/users/${demoted.user.id}`,
      headers: admin.headers,
      payload: { role: 'guest' },
    });
    expect(demote.statusCode, demote.body).toBe(200);
    const before = await everything();
    const res = await deleteUser(last.user.id);
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json()).toMatchObject({ code: 'last_owner' });
    expect(await everything()).toEqual(before);
    // Its membership reads as commenter now (capped at read time).
    const member = await t.app.inject({
      method: 'GET',
      url: `/api/v1/projects/${project}/members/${demoted.user.id}`,
      headers: last.headers,
    });
    expect(member.json()).toMatchObject({ role: 'commenter' });
  });

  it('an admin member does not count as an owner it only acts as; a project whose other members are not owners blocks', async () => {
    const last = await signedIn(t.app);
    const project = await seedProject(db, {
      ownerId: last.user.id,
      members: [
        [last.user.id, 'owner'],
        [admin.user.id, 'viewer'],
      ],
    });
    const res = await deleteUser(last.user.id);
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json()).toMatchObject({ code: 'last_owner' });
    expect(await exists('projects', project)).toBe(true);
  });
});
