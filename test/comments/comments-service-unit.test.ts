import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AppContext } from '../../src/lib/module.js';
import type { Principal, ProjectRole, Role } from '../../src/lib/principal.js';
import type { Comment } from '../../src/modules/comments/comments.schemas.js';
import type { CommentsService } from '../../src/modules/comments/comments.service.js';
import { lockWatch } from '../helpers/locks.js';
import {
  buildTestServices,
  eventHead,
  eventsAfter,
  failure,
  type TestServices,
} from '../helpers/services.js';

/**
 * The comments service called directly, with its real repository and the other modules' services
 * (test/helpers/services.ts: in-memory SQLite, or a PostgreSQL schema), and a fixed Date: who may
 * read and write a task's comments, the rows left and the events recorded.
 */

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
const PASSWORD = 'correct horse battery staple 42';

let services: TestServices;
let ctx: AppContext;
let comments: CommentsService;
let counter = 0;

beforeAll(async () => {
  services = await buildTestServices();
  ctx = services.ctx;
  comments = ctx.services.comments;
});
afterAll(async () => services.close());
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const at = (ms: number) => new Date(T0 + ms).toISOString();

function principal(userId: string, role: Role = 'user', apiKeyId: string | null = null): Principal {
  return { userId, role, sessionId: null, scopes: null, apiKeyId, tokenExpiresAt: null };
}

interface Person {
  id: string;
  email: string;
  as: Principal;
}

async function person(role: Role = 'user'): Promise<Person> {
  counter += 1;
  const email = `comments-unit-${counter}@example.com`;
  const created = await ctx.services.users.create({ email, password: PASSWORD, name: `u${counter}`, role });
  return { id: created.id, email, as: principal(created.id, role) };
}

/**
 * A shared project of `owner` with members in the roles given, and a task in it (assigned to
 * `assignee`, when given).
 */
async function taskIn(owner: Person, members: [Person, ProjectRole][] = [], assignee: Person | null = null) {
  const project = await ctx.services.projects.create(owner.as, { name: `p${++counter}` });
  for (const [member, role] of members) {
    await ctx.services.projectMembers.add(owner.as, project.id, { email: member.email, role });
  }
  const task = await ctx.services.tasks.create(owner.as, {
    title: 'commented',
    projectId: project.id,
    assigneeId: assignee?.id ?? null,
  });
  return { projectId: project.id, taskId: task.id };
}

const commentRow = (id: string) =>
  ctx.database.db.selectFrom('comments').selectAll().where('id', '=', id).executeTakeFirst();

const demote = (owner: Person, projectId: string, member: Person, role: ProjectRole) =>
  ctx.services.projectMembers.update(owner.as, projectId, member.id, { role });
const archive = (owner: Person, projectId: string) =>
  ctx.services.projects.update(owner.as, projectId, { archived: true }, undefined);

describe('create', () => {
  it('writes a comment for commenters and up, and records comment.created the assignee sees', async () => {
    const [owner, commenter, assignee] = [await person(), await person(), await person()];
    const { projectId, taskId } = await taskIn(
      owner,
      [
        [commenter, 'commenter'],
        [assignee, 'viewer'],
      ],
      assignee,
    );
    const before = await eventHead(ctx);
    const comment = await comments.create(commenter.as, taskId, 'First!');
    const expected: Comment = {
      id: expect.any(String),
      taskId,
      authorId: commenter.id,
      body: 'First!',
      createdAt: at(0),
      updatedAt: at(0),
      edited: false,
    };
    expect(comment).toEqual(expected);
    expect(await commentRow(comment.id)).toEqual({
      id: comment.id,
      task_id: taskId,
      author_id: commenter.id,
      body: 'First!',
      edited: 0,
      created_at: at(0),
      updated_at: at(0),
    });
    expect(await comments.get(commenter.as, comment.id)).toEqual(comment);
    expect(await eventsAfter(ctx, before)).toEqual([
      {
        type: 'comment.created',
        at: at(0),
        actor: { type: 'user', id: commenter.id },
        projectId,
        subject: `comment:${comment.id}`,
        taskId,
        changes: null,
        data: comment,
        viewers: [assignee.id],
      },
    ]);
    // An API key is the actor; a task without an assignee: no viewer besides the members.
    const other = await taskIn(owner);
    const mark = await eventHead(ctx);
    await comments.create(principal(owner.id, 'user', 'key-9'), other.taskId, 'by key');
    const [keyed] = await eventsAfter(ctx, mark);
    expect(keyed?.actor).toEqual({ type: 'api_key', id: 'key-9' });
    expect(keyed?.viewers).toEqual([]);
  });

  it('refuses viewers and non-member assignees (403), strangers (404), archived projects (409)', async () => {
    const [owner, viewer, outsider, stranger, admin] = [
      await person(),
      await person(),
      await person(),
      await person(),
      await person('admin'),
    ];
    const { projectId, taskId } = await taskIn(owner, [[viewer, 'viewer']]);
    const refused = await failure(comments.create(viewer.as, taskId, 'no'));
    expect(refused.code).toBe('forbidden');
    expect(refused.detail).toBe('Commenting needs the commenter role in the project');
    const inbox = await ctx.services.tasks.create(owner.as, { title: 'inbox', assigneeId: outsider.id });
    expect((await failure(comments.create(outsider.as, inbox.id, 'no'))).code).toBe('forbidden');
    expect((await failure(comments.create(stranger.as, taskId, 'no'))).code).toBe('not_found');
    expect((await failure(comments.create(owner.as, 'no-such-task', 'no'))).code).toBe('not_found');
    // Admins act as owners.
    expect((await comments.create(admin.as, taskId, 'admin here')).authorId).toBe(admin.id);
    await archive(owner, projectId);
    expect((await failure(comments.create(owner.as, taskId, 'no'))).code).toBe('project_archived');
    expect((await failure(comments.create(viewer.as, taskId, 'no'))).code).toBe('forbidden');
    const rows = await ctx.database.db
      .selectFrom('comments')
      .select('body')
      .where('task_id', '=', taskId)
      .execute();
    expect(rows).toEqual([{ body: 'admin here' }]);
  });

  it('records the reply in the same transaction, and writes nothing when that fails', async () => {
    const owner = await person();
    const { taskId } = await taskIn(owner);
    const seen: string[] = [];
    const made = await comments.create(owner.as, taskId, 'kept', async (trx, reply) => {
      seen.push(reply.id);
      expect(await trx.selectFrom('comments').select('id').where('id', '=', reply.id).execute()).toHaveLength(
        1,
      );
    });
    expect(seen).toEqual([made.id]);
    const before = await eventHead(ctx);
    let id = '';
    const boom = new Error('boom');
    await expect(
      comments.create(owner.as, taskId, 'lost', async (_trx, reply) => {
        id = reply.id;
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await commentRow(id)).toBeUndefined();
    expect(await eventHead(ctx)).toBe(before);
  });
});

describe('reading', () => {
  async function three() {
    const [owner, viewer] = [await person(), await person()];
    const { taskId } = await taskIn(owner, [[viewer, 'viewer']]);
    const made: Comment[] = [];
    for (let i = 0; i < 3; i++) {
      vi.setSystemTime(T0 + i * 1000);
      made.push(await comments.create(owner.as, taskId, `comment ${i}`));
    }
    return { owner, viewer, taskId, made };
  }

  it('gets a comment as visible as its task', async () => {
    const { viewer, made } = await three();
    const [first] = made;
    expect(await comments.get(viewer.as, first?.id ?? '')).toEqual(first);
    const stranger = await person();
    expect((await failure(comments.get(stranger.as, first?.id ?? ''))).code).toBe('not_found');
    expect((await failure(comments.get(viewer.as, 'no-such-comment'))).code).toBe('not_found');
  });

  it('lists a page at a time, oldest first; 404 for a task the caller cannot see', async () => {
    const { viewer, taskId, made } = await three();
    const [c0, c1, c2] = made;
    expect(await comments.list(viewer.as, taskId, { page: 1, size: 2 })).toEqual({
      items: [c0, c1],
      total: 3,
      page: 1,
      size: 2,
      pages: 2,
    });
    expect(await comments.list(viewer.as, taskId, { page: 2, size: 2 })).toEqual({
      items: [c2],
      total: 3,
      page: 2,
      size: 2,
      pages: 2,
    });
    const stranger = await person();
    expect((await failure(comments.list(stranger.as, taskId, { page: 1, size: 2 }))).code).toBe('not_found');
    expect(
      (await failure(comments.listAfter(stranger.as, taskId, { limit: 2, cursor: undefined }))).code,
    ).toBe('not_found');
  });

  it('walks by cursor, bound to the caller and the task, and checks the position it carries', async () => {
    const { owner, viewer, taskId, made } = await three();
    const [c0, c1, c2] = made;
    const one = await comments.listAfter(viewer.as, taskId, { limit: 2, cursor: undefined });
    expect(one.items).toEqual([c0, c1]);
    expect(one.nextCursor).toEqual(expect.any(String));
    expect(await comments.listAfter(viewer.as, taskId, { limit: 2, cursor: one.nextCursor ?? '' })).toEqual({
      items: [c2],
      nextCursor: null,
    });
    const single = await comments.listAfter(viewer.as, taskId, { limit: 1, cursor: undefined });
    const second = await comments.listAfter(viewer.as, taskId, { limit: 1, cursor: single.nextCursor ?? '' });
    expect(second.items).toEqual([c1]);
    expect(await comments.listAfter(viewer.as, taskId, { limit: 3, cursor: undefined })).toEqual({
      items: [c0, c1, c2],
      nextCursor: null,
    });
    const other = await taskIn(owner, [[viewer, 'viewer']]);
    const binding = { list: 'comments', caller: viewer.id, taskId };
    for (const [forTask, cursor] of [
      [taskId, ctx.cursors.sign(binding, null)],
      [taskId, ctx.cursors.sign(binding, 'position')],
      [taskId, ctx.cursors.sign(binding, { at: 1, id: 'x' })],
      [taskId, ctx.cursors.sign(binding, { at: at(0), id: 1 })],
      [taskId, ctx.cursors.sign(binding, { id: 'x' })],
      [taskId, ctx.cursors.sign(binding, { at: at(0) })],
      [taskId, ctx.cursors.sign({ ...binding, caller: owner.id }, { at: at(0), id: 'x' })],
      [other.taskId, one.nextCursor ?? ''],
    ] as const) {
      expect((await failure(comments.listAfter(viewer.as, forTask, { limit: 2, cursor }))).code).toBe(
        'invalid_cursor',
      );
    }
    // A position it signed itself: what comes after it.
    const after = ctx.cursors.sign(binding, { at: c0?.createdAt, id: c0?.id });
    expect((await comments.listAfter(viewer.as, taskId, { limit: 5, cursor: after })).items).toEqual([
      c1,
      c2,
    ]);
  });
});

describe('update', () => {
  it('changes the body for its author, marks it edited, records comment.updated', async () => {
    const [owner, author, assignee] = [await person(), await person(), await person()];
    const { projectId, taskId } = await taskIn(
      owner,
      [
        [author, 'commenter'],
        [assignee, 'viewer'],
      ],
      assignee,
    );
    const comment = await comments.create(author.as, taskId, 'draft');
    vi.setSystemTime(T0 + 1000);
    const before = await eventHead(ctx);
    const edited = await comments.update(author.as, comment.id, { body: 'final' });
    expect(edited).toEqual({ ...comment, body: 'final', edited: true, updatedAt: at(1000) });
    expect(await comments.get(author.as, comment.id)).toEqual(edited);
    expect(await eventsAfter(ctx, before)).toEqual([
      {
        type: 'comment.updated',
        at: at(1000),
        actor: { type: 'user', id: author.id },
        projectId,
        subject: `comment:${comment.id}`,
        taskId,
        changes: { body: { from: 'draft', to: 'final' }, edited: { from: false, to: true } },
        data: edited,
        viewers: [assignee.id],
      },
    ]);
    vi.setSystemTime(T0 + 2000);
    const again = await comments.update(author.as, comment.id, { body: 'final 2' });
    expect(again).toEqual({ ...edited, body: 'final 2', updatedAt: at(2000) });
    const [second] = await eventsAfter(ctx, before + 1);
    expect(second?.changes).toEqual({ body: { from: 'final', to: 'final 2' } });

    // The same body, or none: nothing changes, nothing is recorded.
    const mark = await eventHead(ctx);
    vi.setSystemTime(T0 + 3000);
    expect(await comments.update(author.as, comment.id, { body: 'final 2' })).toEqual(again);
    expect(await comments.update(author.as, comment.id, {})).toEqual(again);
    expect(await eventHead(ctx)).toBe(mark);
    expect((await commentRow(comment.id))?.updated_at).toBe(at(2000));
  });

  it('only its author, while commenter or up (403); archived (409); 404 for what it cannot see', async () => {
    const [owner, author, other, admin, stranger] = [
      await person(),
      await person(),
      await person(),
      await person('admin'),
      await person(),
    ];
    const { projectId, taskId } = await taskIn(owner, [
      [author, 'commenter'],
      [other, 'editor'],
    ]);
    const comment = await comments.create(author.as, taskId, 'mine');
    for (const caller of [other, owner, admin]) {
      const refused = await failure(comments.update(caller.as, comment.id, { body: 'theirs' }));
      expect(refused.code).toBe('forbidden');
      expect(refused.detail).toBe('Only its author may change a comment');
    }
    expect((await failure(comments.update(stranger.as, comment.id, { body: 'x' }))).code).toBe('not_found');
    expect((await failure(comments.update(author.as, 'no-such-comment', { body: 'x' }))).code).toBe(
      'not_found',
    );
    await demote(owner, projectId, author, 'viewer');
    expect((await failure(comments.update(author.as, comment.id, { body: 'x' }))).code).toBe('forbidden');
    await demote(owner, projectId, author, 'commenter');
    expect((await comments.update(author.as, comment.id, { body: 'back' })).body).toBe('back');
    await archive(owner, projectId);
    expect((await failure(comments.update(author.as, comment.id, { body: 'x' }))).code).toBe(
      'project_archived',
    );
    expect((await failure(comments.update(other.as, comment.id, { body: 'x' }))).code).toBe('forbidden');
    expect((await commentRow(comment.id))?.body).toBe('back');
  });

  it('404 when the comment went between its read and its write', async () => {
    const owner = await person();
    const { taskId } = await taskIn(owner);
    const comment = await comments.create(owner.as, taskId, 'going');
    const tasks = ctx.services.tasks;
    const access = tasks.access.bind(tasks);
    vi.spyOn(tasks, 'access').mockImplementationOnce(async (caller, id, db, lock) => {
      const found = await access(caller, id, db, lock);
      await (db ?? ctx.database.db).deleteFrom('comments').where('id', '=', comment.id).execute();
      return found;
    });
    const before = await eventHead(ctx);
    expect((await failure(comments.update(owner.as, comment.id, { body: 'too late' }))).code).toBe(
      'not_found',
    );
    expect(await eventHead(ctx)).toBe(before);
  });
});

describe('delete', () => {
  it('by its author or a project owner, with comment.deleted carrying what was deleted', async () => {
    const [owner, author, assignee, admin] = [
      await person(),
      await person(),
      await person(),
      await person('admin'),
    ];
    const { projectId, taskId } = await taskIn(
      owner,
      [
        [author, 'commenter'],
        [assignee, 'commenter'],
      ],
      assignee,
    );
    const first = await comments.create(author.as, taskId, 'one');
    const second = await comments.create(author.as, taskId, 'two');
    const third = await comments.create(author.as, taskId, 'three');
    vi.setSystemTime(T0 + 4000);
    const before = await eventHead(ctx);
    await comments.delete(author.as, first.id);
    expect(await commentRow(first.id)).toBeUndefined();
    expect(await eventsAfter(ctx, before)).toEqual([
      {
        type: 'comment.deleted',
        at: at(4000),
        actor: { type: 'user', id: author.id },
        projectId,
        subject: `comment:${first.id}`,
        taskId,
        changes: null,
        data: first,
        viewers: [assignee.id],
      },
    ]);
    await comments.delete(owner.as, second.id);
    expect(await commentRow(second.id)).toBeUndefined();
    await comments.delete(admin.as, third.id);
    expect(await commentRow(third.id)).toBeUndefined();
  });

  it('refuses other members (403), a demoted author (403), archived projects (409)', async () => {
    const [owner, author, editor, stranger] = [
      await person(),
      await person(),
      await person(),
      await person(),
    ];
    const { projectId, taskId } = await taskIn(owner, [
      [author, 'commenter'],
      [editor, 'editor'],
    ]);
    const comment = await comments.create(author.as, taskId, 'stays');
    const refused = await failure(comments.delete(editor.as, comment.id));
    expect(refused.code).toBe('forbidden');
    expect(refused.detail).toBe('Only its author or a project owner may delete a comment');
    expect((await failure(comments.delete(stranger.as, comment.id))).code).toBe('not_found');
    expect((await failure(comments.delete(owner.as, 'no-such-comment'))).code).toBe('not_found');
    await demote(owner, projectId, author, 'viewer');
    expect((await failure(comments.delete(author.as, comment.id))).code).toBe('forbidden');
    await demote(owner, projectId, author, 'commenter');
    await archive(owner, projectId);
    expect((await failure(comments.delete(author.as, comment.id))).code).toBe('project_archived');
    expect((await failure(comments.delete(owner.as, comment.id))).code).toBe('project_archived');
    expect((await failure(comments.delete(editor.as, comment.id))).code).toBe('forbidden');
    expect(await commentRow(comment.id)).toBeDefined();
  });

  it('404 when another delete got there first', async () => {
    const owner = await person();
    const { taskId } = await taskIn(owner);
    const comment = await comments.create(owner.as, taskId, 'going');
    const tasks = ctx.services.tasks;
    const access = tasks.access.bind(tasks);
    vi.spyOn(tasks, 'access').mockImplementationOnce(async (caller, id, db, lock) => {
      const found = await access(caller, id, db, lock);
      await (db ?? ctx.database.db).deleteFrom('comments').where('id', '=', comment.id).execute();
      return found;
    });
    const before = await eventHead(ctx);
    expect((await failure(comments.delete(owner.as, comment.id))).code).toBe('not_found');
    expect(await eventHead(ctx)).toBe(before);
  });
});

describe('a user going', () => {
  it('its comments lose their author, one comment.updated each by the system', async () => {
    const [owner, gone, assignee] = [await person(), await person(), await person()];
    const { projectId, taskId } = await taskIn(
      owner,
      [
        [gone, 'commenter'],
        [assignee, 'viewer'],
      ],
      assignee,
    );
    const plain = await taskIn(owner, [[gone, 'commenter']]);
    const a = await comments.create(gone.as, taskId, 'a');
    const b = await comments.create(gone.as, plain.taskId, 'b');
    const kept = await comments.create(owner.as, taskId, 'not theirs');
    const before = await eventHead(ctx);
    await ctx.changes.transaction(ctx.database.db, (trx) => comments.userDeleted(trx, gone.id, at(9000)));
    const events = await eventsAfter(ctx, before);
    expect(events).toEqual(
      [
        {
          type: 'comment.updated',
          at: at(9000),
          actor: { type: 'system', id: null },
          projectId,
          subject: `comment:${a.id}`,
          taskId,
          changes: { authorId: { from: gone.id, to: null } },
          data: { ...a, authorId: null },
          viewers: [assignee.id],
        },
        {
          type: 'comment.updated',
          at: at(9000),
          actor: { type: 'system', id: null },
          projectId: plain.projectId,
          subject: `comment:${b.id}`,
          taskId: plain.taskId,
          changes: { authorId: { from: gone.id, to: null } },
          data: { ...b, authorId: null },
          viewers: [],
        },
      ].sort((x, y) => (x.subject < y.subject ? -1 : 1)),
    );
    expect(events.some((e) => e.subject === `comment:${kept.id}`)).toBe(false);
  });
});

describe('as on PostgreSQL', () => {
  const { locks, asPostgres, restore } = lockWatch(() => ctx);
  afterEach(restore);

  it('every write holds its task’s row; reads hold nothing', async () => {
    const owner = await person();
    const { taskId } = await taskIn(owner);
    const existing = await comments.create(owner.as, taskId, 'there');
    asPostgres();
    const taskLock = { modifier: 'ForNoKeyUpdate', table: 'tasks', parameters: [owner.id, taskId] };
    const made = await comments.create(owner.as, taskId, 'new');
    expect(locks).toEqual([taskLock]);
    await comments.update(owner.as, made.id, { body: 'newer' });
    expect(locks).toEqual([taskLock, taskLock]);
    await comments.delete(owner.as, existing.id);
    expect(locks).toEqual([taskLock, taskLock, taskLock]);
    await comments.list(owner.as, taskId, { page: 1, size: 5 });
    await comments.get(owner.as, made.id);
    expect(locks).toHaveLength(3);
  });
});
