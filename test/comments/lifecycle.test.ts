import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCaller, fieldItems } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { addMember, createProject, createTaskIn } from '../helpers/comment-fixtures.js';
import { signedIn } from '../helpers/factories.js';

/** A comment's body, and what happens to comments when their task or their author goes. */

let t: TestApp;
let owner: Awaited<ReturnType<typeof signedIn>>;
let projectId: string;
let taskId: string;
beforeAll(async () => {
  t = await buildTestApp();
  owner = await signedIn(t.app);
  projectId = await createProject(t.app, owner.user.id);
  taskId = await createTaskIn(t.app, projectId, owner.user.id);
});
afterAll(async () => t.close());

const call = apiCaller(() => t.app);

function post(body: unknown) {
  return call('POST', `/tasks/${taskId}/comments`, owner.headers, body);
}

async function commentsOfTask(id: string): Promise<number> {
  const rows = await t.app.ctx.database.db
    .selectFrom('comments')
    .select('id')
    .where('task_id', '=', id)
    .execute();
  return rows.length;
}

describe('the body', () => {
  it('is kept as given, white space and line breaks included', async () => {
    const body = '  \tFirst line\r\nsecond line\n ';
    const res = await post({ body });
    expect(res.statusCode).toBe(201);
    expect(res.json().body).toBe(body);
  });

  it('blank, empty, missing or too long → 422 on /body', async () => {
    for (const [body, code] of [
      [{ body: '' }, 'too_short'],
      [{ body: ' \n\t\u00a0\u3000\u2028' }, 'too_short'],
      [{ body: 'x'.repeat(10_001) }, 'too_long'],
      [{}, 'required'],
      [{ body: 42 }, 'type'],
      [{ body: null }, 'type'],
      [{ body: 'bell \u0007' }, 'pattern'],
      [{ body: 'nul \u0000' }, 'pattern'],
      [{ body: 'lone \ud800' }, 'pattern'],
    ] as const) {
      const res = await post(body);
      expect(res.statusCode, JSON.stringify(body)).toBe(422);
      expect(fieldItems(res), JSON.stringify(body)).toEqual([['/body', code]]);
    }
  });

  it('10,000 code points pass, astral ones counted once', async () => {
    expect((await post({ body: 'x'.repeat(10_000) })).statusCode).toBe(201);
    const emoji = '😀'.repeat(10_000);
    const res = await post({ body: emoji });
    expect(res.statusCode).toBe(201);
    expect(res.json().body).toBe(emoji);
    expect((await post({ body: `${emoji}x` })).statusCode).toBe(422);
  });

  it('unknown and read-only fields → 422; over 64 KiB → 413', async () => {
    const res = await post({ body: 'x', authorId: owner.user.id, colour: 'red' });
    expect(res.statusCode).toBe(422);
    expect(fieldItems(res).sort()).toEqual([
      ['/authorId', 'read_only'],
      ['/colour', 'unknown_field'],
    ]);
    const { id } = (await post({ body: 'x' })).json();
    const patch = await call('PATCH', `/comments/${id}`, owner.headers, { body: '   ', edited: false });
    expect(fieldItems(patch).sort()).toEqual([
      ['/body', 'too_short'],
      ['/edited', 'read_only'],
    ]);
    expect((await post({ body: 'x'.repeat(70_000) })).statusCode).toBe(413);
  });

  it('a schema 422 comes before visibility (the order of checks)', async () => {
    const outsider = await signedIn(t.app);
    const res = await call('POST', `/tasks/${taskId}/comments`, outsider.headers, { body: '' });
    expect(res.statusCode).toBe(422);
  });
});

describe('when the task goes', () => {
  it('its comments go with it', async () => {
    const doomed = await createTaskIn(t.app, projectId, owner.user.id);
    const { id } = (await call('POST', `/tasks/${doomed}/comments`, owner.headers, { body: 'bye' })).json();
    expect(await commentsOfTask(doomed)).toBe(1);
    expect((await call('DELETE', `/tasks/${doomed}`, owner.headers)).statusCode).toBe(204);
    expect(await commentsOfTask(doomed)).toBe(0);
    expect((await call('GET', `/comments/${id}`, owner.headers)).statusCode).toBe(404);
  });
});

describe('when the author goes', () => {
  it('the comment stays, with authorId null', async () => {
    const admin = await signedIn(t.app, 'admin');
    const author = await signedIn(t.app);
    await addMember(t.app, projectId, author.user.id, 'commenter');
    const { id } = (await call('POST', `/tasks/${taskId}/comments`, author.headers, { body: 'mine' })).json();
    expect((await call('DELETE', `/users/${author.user.id}`, admin.headers)).statusCode).toBe(204);
    const res = await call('GET', `/comments/${id}`, owner.headers);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id, authorId: null, body: 'mine' });
    // With no author left, only an owner may delete it.
    expect((await call('DELETE', `/comments/${id}`, owner.headers)).statusCode).toBe(204);
  });
});
