import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectRole, Role } from '../../src/lib/principal.js';
import { bearer, issueKey } from '../api-keys/helpers.js';
import { apiCaller, type Headers } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { addMember, createProject, createTaskIn, setArchived } from '../helpers/comment-fixtures.js';
import { personalProjectId, signedIn } from '../helpers/factories.js';

/** Who may read and write comments (contract §7, design 10): every rule, one caller at a time. */

let t: TestApp;
/** How far the app's clock runs ahead of the real one (a test moves it instead of waiting). */
let ahead = 0;
beforeAll(async () => {
  t = await buildTestApp({ clock: () => Date.now() + ahead });
});
afterAll(async () => t.close());

const call = apiCaller(() => t.app);

type Caller = Awaited<ReturnType<typeof signedIn>>;

/** A shared project: an owner, one member per role, and a task. */
async function scene(options: { archived?: boolean } = {}) {
  const owner = await signedIn(t.app);
  const projectId = await createProject(t.app, owner.user.id);
  const member = async (role: ProjectRole, global: Role = 'user') => {
    const caller = await signedIn(t.app, global);
    await addMember(t.app, projectId, caller.user.id, role);
    return caller;
  };
  const editor = await member('editor');
  const commenter = await member('commenter');
  const viewer = await member('viewer');
  const outsider = await signedIn(t.app);
  const assignee = await signedIn(t.app);
  const taskId = await createTaskIn(t.app, projectId, owner.user.id, { assigneeId: assignee.user.id });
  if (options.archived) await setArchived(t.app, projectId, true);
  return { owner, projectId, member, editor, commenter, viewer, outsider, assignee, taskId };
}

async function post(caller: Caller, taskId: string, body = 'A comment') {
  return call('POST', `/tasks/${taskId}/comments`, caller.headers, { body });
}

async function commentBy(caller: Caller, taskId: string): Promise<{ id: string }> {
  const res = await post(caller, taskId);
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

function expectProblem(res: { statusCode: number; json(): { code: string } }, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  expect(res.json().code).toBe(code);
}

describe('posting', () => {
  it('commenters, editors, owners and admins post; 201 with Location in each version', async () => {
    const s = await scene();
    const admin = await signedIn(t.app, 'admin');
    for (const caller of [s.commenter, s.editor, s.owner, admin]) {
      const res = await post(caller, s.taskId, 'Looks good');
      expect(res.statusCode).toBe(201);
      const comment = res.json();
      expect(res.headers.location).toBe(`/api/v1/comments/${comment.id}`);
      expect(comment).toMatchObject({ taskId: s.taskId, authorId: caller.user.id, body: 'Looks good' });
      expect(comment.edited).toBe(false);
      expect(comment.updatedAt).toBe(comment.createdAt);
    }
    const v2 = await t.app.inject({
      method: 'POST',
      url: `/api/v2/tasks/${s.taskId}/comments`,
      headers: s.commenter.headers,
      payload: { body: 'v2' },
    });
    expect(v2.statusCode).toBe(201);
    expect(v2.headers.location).toBe(`/api/v2/comments/${v2.json().id}`);
    const got = await t.app.inject({
      method: 'GET',
      url: v2.headers.location as string,
      headers: s.viewer.headers,
    });
    expect(got.json()).toEqual(v2.json());
  });

  it('a guest that is a commenter member posts (the route policy lets guests through)', async () => {
    const s = await scene();
    const guest = await s.member('commenter', 'guest');
    expect((await post(guest, s.taskId)).statusCode).toBe(201);
  });

  it('a viewer, and an assignee that is not a member, read but get 403 on post', async () => {
    const s = await scene();
    for (const caller of [s.viewer, s.assignee]) {
      expect((await call('GET', `/tasks/${s.taskId}/comments`, caller.headers)).statusCode).toBe(200);
      expectProblem(await post(caller, s.taskId), 403, 'forbidden');
    }
    const guestViewer = await s.member('viewer', 'guest');
    expectProblem(await post(guestViewer, s.taskId), 403, 'forbidden');
  });

  it('in a personal project: its user comments, a non-member assignee may not', async () => {
    const owner = await signedIn(t.app);
    const assignee = await signedIn(t.app);
    const inbox = await personalProjectId(t.app, owner.user.id);
    const taskId = await createTaskIn(t.app, inbox, owner.user.id, { assigneeId: assignee.user.id });
    expect((await post(owner, taskId)).statusCode).toBe(201);
    expect((await call('GET', `/tasks/${taskId}/comments`, assignee.headers)).json().total).toBe(1);
    expectProblem(await post(assignee, taskId), 403, 'forbidden');
  });
});

describe('visibility: a comment is as visible as its task', () => {
  it('anyone who may not read the task gets 404 on every comment route', async () => {
    const s = await scene();
    const { id } = await commentBy(s.commenter, s.taskId);
    for (const [method, url, body] of [
      ['GET', `/tasks/${s.taskId}/comments`, undefined],
      ['POST', `/tasks/${s.taskId}/comments`, { body: 'x' }],
      ['GET', `/comments/${id}`, undefined],
      ['PATCH', `/comments/${id}`, { body: 'x' }],
      ['DELETE', `/comments/${id}`, undefined],
    ] as const) {
      expectProblem(await call(method, url, s.outsider.headers, body), 404, 'not_found');
    }
  });

  it('members of any role, the assignee and admins read the list and the comment', async () => {
    const s = await scene();
    const { id } = await commentBy(s.commenter, s.taskId);
    const admin = await signedIn(t.app, 'admin');
    for (const caller of [s.owner, s.editor, s.commenter, s.viewer, s.assignee, admin]) {
      const list = await call('GET', `/tasks/${s.taskId}/comments`, caller.headers);
      expect(list.json().items.map((c: { id: string }) => c.id)).toEqual([id]);
      expect((await call('GET', `/comments/${id}`, caller.headers)).json().id).toBe(id);
    }
  });

  it('a member removed from the project loses its comments with the task (404), even its own', async () => {
    const s = await scene();
    const { id } = await commentBy(s.commenter, s.taskId);
    await t.app.ctx.database.db
      .deleteFrom('project_members')
      .where('user_id', '=', s.commenter.user.id)
      .execute();
    expectProblem(await call('GET', `/comments/${id}`, s.commenter.headers), 404, 'not_found');
    expectProblem(
      await call('PATCH', `/comments/${id}`, s.commenter.headers, { body: 'x' }),
      404,
      'not_found',
    );
  });

  it('an unknown or malformed id is 404', async () => {
    const s = await scene();
    for (const id of ['0191d8a0-0000-7000-8000-000000000000', 'x'.repeat(64)]) {
      expectProblem(await call('GET', `/comments/${id}`, s.owner.headers), 404, 'not_found');
      expectProblem(await call('GET', `/tasks/${id}/comments`, s.owner.headers), 404, 'not_found');
      expectProblem(
        await call('POST', `/tasks/${id}/comments`, s.owner.headers, { body: 'x' }),
        404,
        'not_found',
      );
    }
  });
});

describe('editing: the author only', () => {
  it('the author changes the body: edited, updatedAt moves, createdAt stays', async () => {
    const s = await scene();
    const created = (await post(s.commenter, s.taskId, 'first')).json();
    ahead += 60_000;
    const res = await call('PATCH', `/comments/${created.id}`, s.commenter.headers, { body: 'second' });
    expect(res.statusCode).toBe(200);
    const edited = res.json();
    expect(edited).toMatchObject({
      id: created.id,
      body: 'second',
      edited: true,
      createdAt: created.createdAt,
    });
    expect(Date.parse(edited.updatedAt) - Date.parse(created.updatedAt)).toBeGreaterThanOrEqual(60_000);
    expect((await call('GET', `/comments/${created.id}`, s.viewer.headers)).json()).toEqual(edited);
  });

  it('a PATCH without a body or with the same body changes nothing', async () => {
    const s = await scene();
    const created = (await post(s.commenter, s.taskId, 'same')).json();
    for (const body of [{}, { body: 'same' }]) {
      const res = await call('PATCH', `/comments/${created.id}`, s.commenter.headers, body);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(created);
    }
  });

  it('application/merge-patch+json is taken too', async () => {
    const s = await scene();
    const { id } = await commentBy(s.commenter, s.taskId);
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/comments/${id}`,
      headers: { ...s.commenter.headers, 'content-type': 'application/merge-patch+json' },
      payload: JSON.stringify({ body: 'merged' }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().body).toBe('merged');
  });

  it('anyone else gets 403: owner, editor, another commenter, an admin', async () => {
    const s = await scene();
    const { id } = await commentBy(s.commenter, s.taskId);
    const other = await s.member('commenter');
    const admin = await signedIn(t.app, 'admin');
    for (const caller of [s.owner, s.editor, other, s.viewer, s.assignee, admin]) {
      expectProblem(await call('PATCH', `/comments/${id}`, caller.headers, { body: 'x' }), 403, 'forbidden');
    }
    expect((await call('GET', `/comments/${id}`, s.owner.headers)).json().body).toBe('A comment');
  });

  it('an author demoted to viewer may neither edit nor delete its comment', async () => {
    const s = await scene();
    const { id } = await commentBy(s.commenter, s.taskId);
    await t.app.ctx.database.db
      .updateTable('project_members')
      .set({ role: 'viewer' })
      .where('user_id', '=', s.commenter.user.id)
      .execute();
    expectProblem(
      await call('PATCH', `/comments/${id}`, s.commenter.headers, { body: 'x' }),
      403,
      'forbidden',
    );
    expectProblem(await call('DELETE', `/comments/${id}`, s.commenter.headers), 403, 'forbidden');
  });
});

describe('deleting: the author or an owner', () => {
  it('the author, an owner and an admin delete; 404 afterwards', async () => {
    const s = await scene();
    const admin = await signedIn(t.app, 'admin');
    for (const [caller, author] of [
      [s.commenter, s.commenter],
      [s.owner, s.editor],
      [admin, s.editor],
    ] as const) {
      const { id } = await commentBy(author, s.taskId);
      const res = await call('DELETE', `/comments/${id}`, caller.headers);
      expect(res.statusCode).toBe(204);
      expect(res.body).toBe('');
      expectProblem(await call('GET', `/comments/${id}`, s.editor.headers), 404, 'not_found');
      expectProblem(await call('DELETE', `/comments/${id}`, caller.headers), 404, 'not_found');
    }
  });

  it("an editor, a commenter, a viewer, the assignee may not delete another's comment (403)", async () => {
    const s = await scene();
    const { id } = await commentBy(s.owner, s.taskId);
    for (const caller of [s.editor, s.commenter, s.viewer, s.assignee]) {
      expectProblem(await call('DELETE', `/comments/${id}`, caller.headers), 403, 'forbidden');
    }
    expect((await call('GET', `/comments/${id}`, s.owner.headers)).statusCode).toBe(200);
  });

  it('a guest granted owner counts as a commenter (the cap applies when read): no deleting others', async () => {
    const s = await scene();
    const guest = await s.member('owner', 'guest');
    const { id } = await commentBy(s.editor, s.taskId);
    expectProblem(await call('DELETE', `/comments/${id}`, guest.headers), 403, 'forbidden');
    const own = await commentBy(guest, s.taskId);
    expect((await call('DELETE', `/comments/${own.id}`, guest.headers)).statusCode).toBe(204);
  });
});

describe('an archived project', () => {
  it('reads work; writes get 409 project_archived, after the 403 for the role', async () => {
    const s = await scene();
    const { id } = await commentBy(s.commenter, s.taskId);
    await setArchived(t.app, s.projectId, true);
    expect((await call('GET', `/tasks/${s.taskId}/comments`, s.viewer.headers)).json().total).toBe(1);
    expect((await call('GET', `/comments/${id}`, s.viewer.headers)).statusCode).toBe(200);
    expectProblem(await post(s.commenter, s.taskId), 409, 'project_archived');
    expectProblem(
      await call('PATCH', `/comments/${id}`, s.commenter.headers, { body: 'x' }),
      409,
      'project_archived',
    );
    expectProblem(await call('DELETE', `/comments/${id}`, s.commenter.headers), 409, 'project_archived');
    expectProblem(await call('DELETE', `/comments/${id}`, s.owner.headers), 409, 'project_archived');
    // The role's 403 comes first.
    expectProblem(await post(s.viewer, s.taskId), 403, 'forbidden');
    expectProblem(await call('PATCH', `/comments/${id}`, s.owner.headers, { body: 'x' }), 403, 'forbidden');
    expectProblem(await call('DELETE', `/comments/${id}`, s.editor.headers), 403, 'forbidden');
    await setArchived(t.app, s.projectId, false);
    expect((await call('DELETE', `/comments/${id}`, s.commenter.headers)).statusCode).toBe(204);
  });
});

describe('caching', () => {
  it('replies, errors too, are private, revalidated and vary by credentials', async () => {
    const s = await scene();
    const created = await post(s.commenter, s.taskId);
    const { id } = created.json();
    const replies = [
      created,
      await call('GET', `/tasks/${s.taskId}/comments`, s.commenter.headers),
      await call('GET', `/comments/${id}`, s.commenter.headers),
      await call('GET', `/comments/${id}`, s.outsider.headers),
    ];
    for (const res of replies) {
      expect(res.headers['cache-control']).toBe('private, no-cache');
      expect(String(res.headers.vary)).toContain('Authorization, X-API-Key');
    }
  });
});

describe('route policy', () => {
  it('no credentials → 401', async () => {
    const s = await scene();
    const res = await call('POST', `/tasks/${s.taskId}/comments`, {} as Headers, { body: 'x' });
    expectProblem(res, 401, 'unauthorized');
  });
});

describe("API keys: the scope, the owner's global role and its project role, intersected", () => {
  it('comments:write posts as far as the project role allows; tasks:read reads and may not post', async () => {
    const s = await scene();
    const guest = await s.member('commenter', 'guest');
    const writer = await issueKey(t.app, guest.headers, ['comments:write']);
    const reader = await issueKey(t.app, guest.headers, ['tasks:read']);
    const viewerKey = await issueKey(t.app, s.viewer.headers, ['comments:write', 'tasks:read']);
    const url = `/tasks/${s.taskId}/comments`;
    expect((await call('POST', url, bearer(writer.key), { body: 'by key' })).statusCode).toBe(201);
    expectProblem(await call('POST', url, bearer(reader.key), { body: 'x' }), 403, 'forbidden');
    expect((await call('GET', url, bearer(reader.key))).json().total).toBe(1);
    expectProblem(await call('GET', url, bearer(writer.key)), 403, 'forbidden');
    expectProblem(await call('POST', url, bearer(viewerKey.key), { body: 'x' }), 403, 'forbidden');
  });
});
