import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueKey } from '../api-keys/helpers.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { type Db, seedProject, seedTask } from './seed.js';

/**
 * The guest cap is applied at read time (design "Already on main"): an editor demoted to guest is
 * a commenter on its very next request — with its token issued before, and with its key — and
 * promoting it back restores the editor it was granted.
 */

let t: TestApp;
let db: Db;

beforeAll(async () => {
  t = await buildTestApp();
  db = t.db.handle.db;
});
afterAll(async () => t?.close());

describe('demoting a member to guest caps its project roles at once; promoting it restores them', () => {
  it('an editor becomes a commenter and back', async () => {
    const admin = await signedIn(t.app, 'admin');
    const owner = await signedIn(t.app);
    const member = await signedIn(t.app);
    const key = await issueKey(t.app, member.headers, ['tasks:read', 'tasks:write', 'comments:write']);
    const p = await seedProject(db, {
      ownerId: owner.user.id,
      members: [
        [owner.user.id, 'owner'],
        [member.user.id, 'editor'],
      ],
    });
    const task = await seedTask(db, { projectId: p, ownerId: owner.user.id, assigneeId: member.user.id });
    const setRole = async (role: 'guest' | 'user') => {
      const res = await t.app.inject({
        method: 'PATCH',
        url: `/api/v1/users/${member.user.id}`,
        headers: admin.headers,
        payload: { role },
      });
      expect(res.statusCode, res.body).toBe(200);
    };
    const as = (headers: Record<string, string>) => ({
      patch: (payload: object) =>
        t.app.inject({ method: 'PATCH', url: `/api/v1/tasks/${task}`, headers, payload }),
      comment: () =>
        t.app.inject({
          method: 'POST',
          url: `/api/v1/tasks/${task}/comments`,
          headers,
          payload: { body: 'still here' },
        }),
      create: () =>
        t.app.inject({
          method: 'POST',
          url: '/api/v1/tasks',
          headers,
          payload: { title: 'x', projectId: p },
        }),
    });
    for (const headers of [member.headers, { 'x-api-key': key.key }]) {
      expect((await as(headers).patch({ title: 'as editor' })).statusCode).toBe(200);
    }

    await setRole('guest');
    const membership = await t.app.inject({
      method: 'GET',
      url: `/api/v1/projects/${p}/members/${member.user.id}`,
      headers: owner.headers,
    });
    expect(membership.json()).toMatchObject({ role: 'commenter' });
    // The stored grant is untouched: only its reading is capped.
    const stored = await db
      .selectFrom('project_members')
      .select('role')
      .where('project_id', '=', p)
      .where('user_id', '=', member.user.id)
      .executeTakeFirstOrThrow();
    expect(stored.role).toBe('editor');
    // The key's scopes are cut to the guest's too (tasks:write goes), so only the token tries the writes.
    const token = as(member.headers);
    const title = await token.patch({ title: 'as guest' });
    expect(title.statusCode, title.body).toBe(403);
    expect((await token.create()).statusCode).toBe(403);
    const status = await token.patch({ status: 'in_progress' });
    expect(status.statusCode, status.body).toBe(200);
    const comment = await token.comment();
    expect(comment.statusCode, comment.body).toBe(201);
    expect((await as({ 'x-api-key': key.key }).patch({ status: 'done' })).statusCode).toBe(403);
    expect((await as({ 'x-api-key': key.key }).comment()).statusCode).toBe(201);

    await setRole('user');
    expect(
      (
        await t.app.inject({
          method: 'GET',
          url: `/api/v1/projects/${p}/members/${member.user.id}`,
          headers: owner.headers,
        })
      ).json(),
    ).toMatchObject({ role: 'editor' });
    for (const headers of [member.headers, { 'x-api-key': key.key }]) {
      const res = await as(headers).patch({ title: 'editor again' });
      expect(res.statusCode, res.body).toBe(200);
    }
  });
});
