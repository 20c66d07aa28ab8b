import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '../../src/errors.js';
import type { AppContext } from '../../src/lib/module.js';
import type { Principal, Role } from '../../src/lib/principal.js';
import type { Task, TaskListQuery } from '../../src/modules/tasks/tasks.schemas.js';
import type { TasksService } from '../../src/modules/tasks/tasks.service.js';
import { lockWatch } from '../helpers/locks.js';
import {
  buildTestServices,
  eventHead,
  eventsAfter,
  failure,
  type TestServices,
} from '../helpers/services.js';

/**
 * The tasks service called directly, with its real repositories and the other modules' services
 * (test/helpers/services.ts: in-memory SQLite, or a PostgreSQL schema), and a fixed Date: each
 * rule's outcome, the rows it leaves and the events it records. The last block runs the writes as
 * on PostgreSQL and reads back the rows they lock (the locking clauses are taken out before the
 * statements reach the database, so it runs on SQLite too).
 */

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
const PASSWORD = 'correct horse battery staple 42';

let services: TestServices;
let ctx: AppContext;
let tasks: TasksService;
let counter = 0;

beforeAll(async () => {
  services = await buildTestServices();
  ctx = services.ctx;
  tasks = ctx.services.tasks;
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
  const email = `tasks-unit-${counter}@example.com`;
  const created = await ctx.services.users.create({ email, password: PASSWORD, name: `u${counter}`, role });
  return { id: created.id, email, as: principal(created.id, role) };
}

/** A shared project of `owner`, with members in the roles given. */
async function project(owner: Person, members: [Person, 'viewer' | 'commenter' | 'editor' | 'owner'][] = []) {
  const made = await ctx.services.projects.create(owner.as, { name: `p${++counter}` });
  for (const [member, role] of members) {
    await ctx.services.projectMembers.add(owner.as, made.id, { email: member.email, role });
  }
  return made.id;
}

const taskRow = (id: string) =>
  ctx.database.db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
const tagsOf = async (id: string) =>
  (
    await ctx.database.db
      .selectFrom('task_tags')
      .select('tag')
      .where('task_id', '=', id)
      .orderBy('tag')
      .execute()
  ).map((r) => r.tag);

function expected(over: Partial<Task> & Pick<Task, 'ownerId' | 'projectId' | 'title'>): Task {
  return {
    id: expect.any(String),
    parentId: null,
    assigneeId: null,
    description: '',
    status: 'todo',
    priority: 'medium',
    startAt: null,
    dueAt: null,
    tags: [],
    completedAt: null,
    version: 1,
    createdAt: at(0),
    updatedAt: at(0),
    ...over,
  };
}

describe('access', () => {
  it('gives the row and the standing of members, admins and assignees; 404 to everyone else', async () => {
    const [owner, viewer, admin, stranger] = [
      await person(),
      await person(),
      await person('admin'),
      await person(),
    ];
    const p = await project(owner, [[viewer, 'viewer']]);
    const task = await tasks.create(owner.as, { title: 'seen', projectId: p });
    const mine = await tasks.access(owner.as, task.id);
    expect(mine).toEqual({
      row: expect.objectContaining({ id: task.id, project_id: p, title: 'seen', version: 1 }),
      role: 'owner',
      assignee: false,
      archived: false,
      personal: false,
    });
    expect(Object.keys(mine.row)).not.toContain('member_role');
    expect(Object.keys(mine.row)).not.toContain('project_archived');
    expect((await tasks.access(viewer.as, task.id)).role).toBe('viewer');
    expect((await tasks.access(admin.as, task.id)).role).toBe('owner');
    expect((await failure(tasks.access(stranger.as, task.id))).code).toBe('not_found');
    expect((await failure(tasks.access(owner.as, 'no-such-task'))).code).toBe('not_found');

    // An assignee who is no member (a personal project) sees it, with no role.
    const inbox = await tasks.create(owner.as, { title: 'for you', assigneeId: stranger.id });
    expect(await tasks.access(stranger.as, inbox.id)).toEqual({
      row: expect.objectContaining({ id: inbox.id, assignee_id: stranger.id }),
      role: null,
      assignee: true,
      archived: false,
      personal: true,
    });
    expect(await tasks.get(stranger.as, inbox.id)).toEqual(inbox);

    await ctx.services.projects.update(owner.as, p, { archived: true }, undefined);
    expect((await tasks.access(viewer.as, task.id)).archived).toBe(true);
  });
});

describe('create', () => {
  it("writes a task into the caller's personal project with the defaults, and records task.created", async () => {
    const owner = await person();
    const inbox = await ctx.services.projects.personalProjectId(owner.id);
    const before = await eventHead(ctx);
    const task = await tasks.create(owner.as, { title: 'Buy milk' });
    expect(task).toEqual(expected({ ownerId: owner.id, projectId: inbox, title: 'Buy milk' }));
    expect(await tasks.get(owner.as, task.id)).toEqual(task);
    expect(await eventsAfter(ctx, before)).toEqual([
      {
        type: 'task.created',
        at: at(0),
        actor: { type: 'user', id: owner.id },
        projectId: inbox,
        subject: `task:${task.id}`,
        taskId: task.id,
        changes: null,
        data: task,
        viewers: [],
      },
    ]);
  });

  it('takes every field given, sets completedAt for a done task, and lets anyone be assigned in a personal project', async () => {
    const [owner, other] = [await person(), await person()];
    const before = await eventHead(ctx);
    const input = {
      title: 'Full',
      description: 'all of it',
      status: 'done' as const,
      priority: 'high' as const,
      startAt: at(1000),
      dueAt: at(2000),
      tags: ['b', 'a'],
      assigneeId: other.id,
    };
    const task = await tasks.create(owner.as, input);
    expect(task).toEqual(
      expected({
        ...input,
        ownerId: owner.id,
        projectId: await ctx.services.projects.personalProjectId(owner.id),
        completedAt: at(0),
      }),
    );
    expect(await tagsOf(task.id)).toEqual(['a', 'b']);
    const [event] = await eventsAfter(ctx, before);
    expect(event?.viewers).toEqual([other.id]);
    // An API key is the actor of what it writes.
    const keyed = await tasks.create(principal(owner.id, 'user', 'key-1'), { title: 'by key' });
    expect((await eventsAfter(ctx, before)).at(-1)?.actor).toEqual({ type: 'api_key', id: 'key-1' });
    expect(keyed.ownerId).toBe(owner.id);
  });

  it('writes into a shared project for editors: 403 below, 409 archived, 422 for an unknown project or a non-member assignee', async () => {
    const [owner, editor, commenter, stranger] = [
      await person(),
      await person(),
      await person(),
      await person(),
    ];
    const p = await project(owner, [
      [editor, 'editor'],
      [commenter, 'commenter'],
    ]);
    const made = await tasks.create(editor.as, { title: 'shared', projectId: p, assigneeId: commenter.id });
    expect(made).toEqual(
      expected({ ownerId: editor.id, projectId: p, title: 'shared', assigneeId: commenter.id }),
    );
    const forbidden = await failure(tasks.create(commenter.as, { title: 'x', projectId: p }));
    expect(forbidden.code).toBe('forbidden');
    expect(forbidden.detail).toBe('Writing tasks in this project needs the editor role');
    const unknown = await failure(tasks.create(stranger.as, { title: 'x', projectId: p }));
    expect(unknown.code).toBe('validation_failed');
    expect(unknown.errors).toEqual([
      { pointer: '/projectId', code: 'not_found', detail: 'names no project you can see' },
    ]);
    const notMember = await failure(
      tasks.create(owner.as, { title: 'x', projectId: p, assigneeId: stranger.id }),
    );
    expect(notMember.errors).toEqual([
      { pointer: '/assigneeId', code: 'not_found', detail: 'names no member of the project' },
    ]);
    const badRange = await failure(tasks.create(owner.as, { title: 'x', startAt: at(2), dueAt: at(1) }));
    expect(badRange.errors).toEqual([
      { pointer: '/dueAt', code: 'invalid_range', detail: 'must not be before startAt' },
    ]);
    await ctx.services.projects.update(owner.as, p, { archived: true }, undefined);
    expect((await failure(tasks.create(owner.as, { title: 'x', projectId: p }))).code).toBe(
      'project_archived',
    );
    const rows = await ctx.database.db.selectFrom('tasks').select('id').where('project_id', '=', p).execute();
    expect(rows.map((r) => r.id)).toEqual([made.id]);
  });

  it('takes a parent of the same project; another project’s task is no parent', async () => {
    const owner = await person();
    const p = await project(owner);
    const parent = await tasks.create(owner.as, { title: 'parent', projectId: p });
    const child = await tasks.create(owner.as, { title: 'child', projectId: p, parentId: parent.id });
    expect(child.parentId).toBe(parent.id);
    expect(child.projectId).toBe(p);
    const elsewhere = await failure(tasks.create(owner.as, { title: 'x', parentId: parent.id }));
    expect(elsewhere.errors).toEqual([
      { pointer: '/parentId', code: 'invalid_parent', detail: 'must be null or a task of the same project' },
    ]);
  });

  it('records the reply in the same transaction, and writes nothing when that fails', async () => {
    const owner = await person();
    const seen: string[] = [];
    const task = await tasks.create(owner.as, { title: 'recorded' }, async (trx, reply) => {
      seen.push(reply.id);
      expect((await trx.selectFrom('tasks').select('id').where('id', '=', reply.id).execute()).length).toBe(
        1,
      );
    });
    expect(seen).toEqual([task.id]);
    const before = await eventHead(ctx);
    let id = '';
    const boom = new Error('boom');
    await expect(
      tasks.create(owner.as, { title: 'lost' }, async (_trx, reply) => {
        id = reply.id;
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await taskRow(id)).toBeUndefined();
    expect(await eventHead(ctx)).toBe(before);
  });
});

describe('lists', () => {
  async function three() {
    const owner = await person();
    const p = await project(owner);
    const made: Task[] = [];
    for (let i = 0; i < 3; i++) {
      vi.setSystemTime(T0 + 60_000 + i * 1000);
      made.push(await tasks.create(owner.as, { title: `listed ${i}`, projectId: p }));
    }
    return { owner, p, made };
  }

  it('pages newest first by default, in the order asked, within what the caller may see', async () => {
    const { owner, p, made } = await three();
    const [t0, t1, t2] = made;
    const query = { projectId: [p] };
    expect(await tasks.list(owner.as, query, { page: 1, size: 2 })).toEqual({
      items: [t2, t1],
      total: 3,
      page: 1,
      size: 2,
      pages: 2,
    });
    expect(await tasks.list(owner.as, query, { page: 2, size: 2 })).toEqual({
      items: [t0],
      total: 3,
      page: 2,
      size: 2,
      pages: 2,
    });
    expect((await tasks.list(owner.as, { ...query, sort: 'createdAt' }, { page: 1, size: 2 })).items).toEqual(
      [t0, t1],
    );
    const admin = await person('admin');
    expect((await tasks.list(admin.as, query, { page: 1, size: 5 })).total).toBe(3);
    const stranger = await person();
    expect(await tasks.list(stranger.as, query, { page: 1, size: 5 })).toEqual({
      items: [],
      total: 0,
      page: 1,
      size: 5,
      pages: 0,
    });
  });

  it('walks by cursor, bound to the caller, the filters and the sort', async () => {
    const { owner, p, made } = await three();
    const [t0, t1, t2] = made;
    const query = { projectId: [p] };
    const one = await tasks.listAfter(owner.as, query, { limit: 2, cursor: undefined });
    expect(one.items).toEqual([t2, t1]);
    expect(one.nextCursor).toEqual(expect.any(String));
    const two = await tasks.listAfter(owner.as, query, { limit: 2, cursor: one.nextCursor ?? '' });
    expect(two).toEqual({ items: [t0], nextCursor: null });
    // Exactly a page left: no cursor.
    expect(await tasks.listAfter(owner.as, query, { limit: 3, cursor: undefined })).toEqual({
      items: [t2, t1, t0],
      nextCursor: null,
    });
    const up = await tasks.listAfter(
      owner.as,
      { ...query, sort: 'createdAt' },
      { limit: 1, cursor: undefined },
    );
    expect(up.items).toEqual([t0]);
    const next = await tasks.listAfter(
      owner.as,
      { ...query, sort: 'createdAt' },
      { limit: 1, cursor: up.nextCursor ?? '' },
    );
    expect(next.items).toEqual([t1]);
    const misfits: [Principal, TaskListQuery][] = [
      [(await person()).as, query],
      [owner.as, { ...query, status: ['todo'] }],
      [owner.as, { ...query, sort: 'createdAt' }],
    ];
    for (const [caller, q] of misfits) {
      expect(
        (await failure(tasks.listAfter(caller, q, { limit: 2, cursor: one.nextCursor ?? '' }))).code,
      ).toBe('invalid_cursor');
    }
    // A cursor is bound to the list, the caller, the stored filter and the sort, and carries the
    // sort key's value and the id of the last task shown.
    const binding = {
      list: 'tasks',
      caller: owner.id,
      filter: { projectId: [p] },
      sort: { key: 'createdAt', descending: true },
    };
    const signed = ctx.cursors.sign(binding, { v: t2?.createdAt, id: t2?.id });
    expect(await tasks.listAfter(owner.as, query, { limit: 5, cursor: signed })).toEqual({
      items: [t1, t0],
      nextCursor: null,
    });
  });
});

describe('stats', () => {
  it('counts by status and priority, the overdue ones, and tells the cache the next due time', async () => {
    const owner = await person();
    const p = await project(owner);
    const make = (title: string, more: Record<string, unknown>) =>
      tasks.create(owner.as, { title, projectId: p, ...more });
    // Groups (status, priority) whose next due times are in no order: the earliest is neither first nor last.
    await make('late', { dueAt: at(-1000), priority: 'high' });
    await make('late done', { dueAt: at(-1000), status: 'done' });
    await make('soon', { dueAt: at(5000), status: 'in_progress', priority: 'low' });
    await make('sooner', { dueAt: at(3000), status: 'in_progress', priority: 'high' });
    await make('later', { dueAt: at(9000), priority: 'low' });
    await make('undated', {});
    const computed: unknown[] = [];
    const cache = ctx.services.statsCache;
    const original = cache.get.bind(cache);
    vi.spyOn(cache, 'get').mockImplementation((caller, filter, compute) =>
      original(caller, filter, async (now) => {
        const result = await compute(now);
        computed.push(result.nextDue);
        return result;
      }),
    );
    expect(await tasks.stats(owner.as, { projectId: [p] })).toEqual({
      total: 6,
      byStatus: { todo: 3, in_progress: 2, done: 1 },
      byPriority: { low: 2, medium: 2, high: 2 },
      overdue: 1,
    });
    expect(computed).toEqual([at(3000)]);
    // Without a query: every task the caller may see (its personal project's too).
    await tasks.create(owner.as, { title: 'inbox', status: 'done', priority: 'low' });
    expect(await tasks.stats(owner.as)).toEqual({
      total: 7,
      byStatus: { todo: 3, in_progress: 2, done: 2 },
      byPriority: { low: 3, medium: 2, high: 2 },
      overdue: 1,
    });
    expect(computed).toEqual([at(3000), at(3000)]);
    const nobody = await person();
    expect(await tasks.stats(nobody.as, { projectId: [p] })).toEqual({
      total: 0,
      byStatus: { todo: 0, in_progress: 0, done: 0 },
      byPriority: { low: 0, medium: 0, high: 0 },
      overdue: 0,
    });
    expect(computed.at(-1)).toBeNull();
  });
});

describe('update', () => {
  it('merges a PATCH, bumps the version, and records what changed', async () => {
    const [owner, assignee] = [await person(), await person()];
    const p = await project(owner, [[assignee, 'commenter']]);
    const task = await tasks.create(owner.as, {
      title: 'old',
      projectId: p,
      assigneeId: assignee.id,
      tags: ['x'],
    });
    vi.setSystemTime(T0 + 1000);
    const before = await eventHead(ctx);
    const after = await tasks.update(owner.as, task.id, { title: 'new', status: 'done' }, 'patch', undefined);
    expect(after).toEqual({
      ...task,
      title: 'new',
      status: 'done',
      completedAt: at(1000),
      version: 2,
      updatedAt: at(1000),
    });
    expect(await tasks.get(owner.as, task.id)).toEqual(after);
    expect(await eventsAfter(ctx, before)).toEqual([
      {
        type: 'task.updated',
        at: at(1000),
        actor: { type: 'user', id: owner.id },
        projectId: p,
        subject: `task:${task.id}`,
        taskId: task.id,
        changes: {
          title: { from: 'old', to: 'new' },
          status: { from: 'todo', to: 'done' },
          completedAt: { from: null, to: at(1000) },
        },
        data: after,
        viewers: [assignee.id],
      },
    ]);
    const row = await taskRow(task.id);
    expect(row?.search_text).toBe('new\n');
    expect(await tagsOf(task.id)).toEqual(['x']);

    // Done stays done: completedAt kept; leaving done clears it. New tags are stored.
    vi.setSystemTime(T0 + 2000);
    const still = await tasks.update(owner.as, task.id, { tags: ['y', 'z'] }, 'patch', undefined);
    expect(still).toMatchObject({ completedAt: at(1000), tags: ['y', 'z'], version: 3, updatedAt: at(2000) });
    expect(await tagsOf(task.id)).toEqual(['y', 'z']);
    const reopened = await tasks.update(owner.as, task.id, { status: 'todo' }, 'patch', undefined);
    expect(reopened).toMatchObject({ completedAt: null, status: 'todo', version: 4 });

    // Nothing changes: the task as it is, no new version, no event.
    let mark = await eventHead(ctx);
    expect(
      await tasks.update(owner.as, task.id, { title: 'new', tags: ['y', 'z'] }, 'patch', undefined),
    ).toEqual(reopened);
    expect(await eventHead(ctx)).toBe(mark);
    // A new assignee: both the old and the new one see the change.
    const third = await person();
    await ctx.services.projectMembers.add(owner.as, p, { email: third.email, role: 'viewer' });
    mark = await eventHead(ctx);
    await tasks.update(owner.as, task.id, { assigneeId: third.id }, 'patch', undefined);
    const [moved] = await eventsAfter(ctx, mark);
    expect(moved?.changes).toEqual({ assigneeId: { from: assignee.id, to: third.id } });
    expect(moved?.viewers).toEqual([assignee.id, third.id].sort());
  });

  it('replaces on PUT: omitted fields take their defaults, the title, project and parent are kept', async () => {
    const owner = await person();
    const p = await project(owner);
    const parent = await tasks.create(owner.as, { title: 'parent', projectId: p });
    const task = await tasks.create(owner.as, {
      title: 'full',
      projectId: p,
      parentId: parent.id,
      description: 'd',
      priority: 'high',
      tags: ['t'],
      dueAt: at(5000),
    });
    vi.setSystemTime(T0 + 1000);
    const put = await tasks.update(owner.as, task.id, { status: 'in_progress' }, 'put', undefined);
    expect(put).toEqual({
      ...task,
      description: '',
      priority: 'medium',
      tags: [],
      dueAt: null,
      status: 'in_progress',
      version: 2,
      updatedAt: at(1000),
    });
    expect(await tagsOf(task.id)).toEqual([]);
    const renamed = await tasks.update(
      owner.as,
      task.id,
      { title: 'other', status: 'in_progress' },
      'put',
      undefined,
    );
    expect(renamed).toMatchObject({ title: 'other', parentId: parent.id, projectId: p, version: 3 });
  });

  it('lets an assignee change only the status, as commenter or as a non-member; 403 otherwise', async () => {
    const [owner, commenter, viewer, outsider] = [
      await person(),
      await person(),
      await person(),
      await person(),
    ];
    const p = await project(owner, [
      [commenter, 'commenter'],
      [viewer, 'viewer'],
    ]);
    const forCommenter = await tasks.create(owner.as, { title: 'c', projectId: p, assigneeId: commenter.id });
    expect(
      (await tasks.update(commenter.as, forCommenter.id, { status: 'done' }, 'patch', undefined)).status,
    ).toBe('done');
    // An empty merge patch changes no more than the status.
    expect((await tasks.update(commenter.as, forCommenter.id, {}, 'patch', undefined)).version).toBe(2);
    for (const [input, mode] of [
      [{ status: 'todo', title: 'c2' }, 'patch'],
      [{ status: 'todo' }, 'put'],
      [{ title: 'c2' }, 'patch'],
    ] as const) {
      const refused = await failure(tasks.update(commenter.as, forCommenter.id, input, mode, undefined));
      expect(refused.code).toBe('forbidden');
      expect(refused.detail).toBe(
        'The assignee may change only the status, and needs the commenter role for it',
      );
    }
    const forViewer = await tasks.create(owner.as, { title: 'v', projectId: p, assigneeId: viewer.id });
    const viewerRefused = await failure(
      tasks.update(viewer.as, forViewer.id, { status: 'done' }, 'patch', undefined),
    );
    expect(viewerRefused.detail).toBe(
      'The assignee may change only the status, and needs the commenter role for it',
    );
    const notAssigned = await failure(
      tasks.update(viewer.as, forCommenter.id, { status: 'todo' }, 'patch', undefined),
    );
    expect(notAssigned.code).toBe('forbidden');
    expect(notAssigned.detail).toBe('Changing tasks in this project needs the editor role');
    // A non-member assignee (a personal project) may change the status.
    const inbox = await tasks.create(owner.as, { title: 'i', assigneeId: outsider.id });
    expect(
      (await tasks.update(outsider.as, inbox.id, { status: 'in_progress' }, 'patch', undefined)).status,
    ).toBe('in_progress');
    expect(
      (await failure(tasks.update(outsider.as, inbox.id, { title: 'no' }, 'patch', undefined))).code,
    ).toBe('forbidden');
    // Nobody else sees it: 404.
    expect(
      (await failure(tasks.update(viewer.as, inbox.id, { status: 'done' }, 'patch', undefined))).code,
    ).toBe('not_found');
    expect(
      (await failure(tasks.update(owner.as, 'no-such-task', { status: 'done' }, 'patch', undefined))).code,
    ).toBe('not_found');
  });

  it('answers a guest 403 for whatever it may not do, whether or not it sees the task', async () => {
    const [owner, guest] = [await person(), await person('guest')];
    const p = await project(owner, [[guest, 'commenter']]);
    const assigned = await tasks.create(owner.as, { title: 'g', projectId: p, assigneeId: guest.id });
    const unseen = await tasks.create(owner.as, { title: 'hidden' });
    const message = 'A guest may change only the status of a task assigned to it';
    for (const [id, input] of [
      [assigned.id, { title: 'x' }],
      ['no-such-task', { title: 'x' }],
      [unseen.id, { status: 'done' }],
      ['no-such-task', { status: 'done' }],
    ] as const) {
      const refused = await failure(tasks.update(guest.as, id, input, 'patch', undefined));
      expect(refused.code).toBe('forbidden');
      expect(refused.detail).toBe(message);
    }
    expect((await tasks.update(guest.as, assigned.id, { status: 'done' }, 'patch', undefined)).status).toBe(
      'done',
    );
    // An error other than 404 reaches the guest as it is.
    const boom = new Error('boom');
    vi.spyOn(tasks, 'access').mockRejectedValueOnce(boom);
    await expect(tasks.update(guest.as, assigned.id, { status: 'todo' }, 'patch', undefined)).rejects.toBe(
      boom,
    );
    vi.spyOn(tasks, 'access').mockRejectedValueOnce(new ApiError('conflict'));
    expect(
      (await failure(tasks.update(guest.as, assigned.id, { status: 'todo' }, 'patch', undefined))).code,
    ).toBe('conflict');
  });

  it('checks in order: 403, then 409 archived, then If-Match (412 with the current ETag)', async () => {
    const [owner, viewer] = [await person(), await person()];
    const p = await project(owner, [[viewer, 'viewer']]);
    const task = await tasks.create(owner.as, { title: 't', projectId: p });
    const wrong = await failure(tasks.update(owner.as, task.id, { title: 'x' }, 'patch', '"7"'));
    expect(wrong.code).toBe('precondition_failed');
    expect(wrong.headers).toEqual({ etag: '"1"' });
    expect((await failure(tasks.update(viewer.as, task.id, { title: 'x' }, 'patch', '"7"'))).code).toBe(
      'forbidden',
    );
    const ok = await tasks.update(owner.as, task.id, { title: 'x' }, 'patch', '"1"');
    expect(ok.version).toBe(2);
    expect((await tasks.update(owner.as, task.id, { title: 'y' }, 'patch', '*')).version).toBe(3);
    // A move into a project the caller may not write: 403 before the precondition.
    const other = await project(viewer, [[owner, 'viewer']]);
    const into = await failure(tasks.update(owner.as, task.id, { projectId: other }, 'patch', '"1"'));
    expect(into.code).toBe('forbidden');
    await ctx.services.projects.update(owner.as, p, { archived: true }, undefined);
    expect((await failure(tasks.update(owner.as, task.id, { title: 'z' }, 'patch', '"1"'))).code).toBe(
      'project_archived',
    );
    expect((await failure(tasks.update(viewer.as, task.id, { title: 'z' }, 'patch', '"1"'))).code).toBe(
      'forbidden',
    );
  });

  it('checks the merged result: the range, the assignee, the parent (no cycle)', async () => {
    const [owner, stranger] = [await person(), await person()];
    const p = await project(owner);
    const task = await tasks.create(owner.as, { title: 't', projectId: p, startAt: at(1000) });
    const range = await failure(tasks.update(owner.as, task.id, { dueAt: at(0) }, 'patch', undefined));
    expect(range.errors).toEqual([
      { pointer: '/dueAt', code: 'invalid_range', detail: 'must not be before startAt' },
    ]);
    const assignee = await failure(
      tasks.update(owner.as, task.id, { assigneeId: stranger.id }, 'patch', undefined),
    );
    expect(assignee.errors?.[0]?.pointer).toBe('/assigneeId');
    const child = await tasks.create(owner.as, { title: 'c', projectId: p, parentId: task.id });
    const cycle = await failure(tasks.update(owner.as, task.id, { parentId: child.id }, 'patch', undefined));
    expect(cycle.errors).toEqual([
      {
        pointer: '/parentId',
        code: 'invalid_parent',
        detail: 'must not be the task itself or one of its subtasks',
      },
    ]);
    const sibling = await tasks.create(owner.as, { title: 's', projectId: p });
    const reparented = await tasks.update(owner.as, child.id, { parentId: sibling.id }, 'patch', undefined);
    expect(reparented).toMatchObject({ parentId: sibling.id, version: 2 });
    expect(
      (await tasks.update(owner.as, child.id, { parentId: null }, 'patch', undefined)).parentId,
    ).toBeNull();
  });

  it('counts the subtasks of a task that changes parent: at most five levels; the subtasks stay as they are', async () => {
    const owner = await person();
    const p = await project(owner);
    let parentId: string | null = null;
    const chain: Task[] = [];
    for (let i = 0; i < 4; i++) {
      const made: Task = await tasks.create(owner.as, { title: `level ${i + 1}`, projectId: p, parentId });
      chain.push(made);
      parentId = made.id;
    }
    const top = await tasks.create(owner.as, { title: 'top', projectId: p });
    const below = await tasks.create(owner.as, { title: 'below', projectId: p, parentId: top.id });
    const deep = await failure(
      tasks.update(owner.as, top.id, { parentId: chain[3]?.id ?? null }, 'patch', undefined),
    );
    expect(deep.errors).toEqual([
      {
        pointer: '/parentId',
        code: 'invalid_parent',
        detail: 'tasks nest at most 5 levels deep (this would make 6)',
      },
    ]);
    const before = await eventHead(ctx);
    const moved = await tasks.update(
      owner.as,
      top.id,
      { parentId: chain[2]?.id ?? null },
      'patch',
      undefined,
    );
    expect(moved).toMatchObject({ parentId: chain[2]?.id, version: 2 });
    expect(await tasks.get(owner.as, below.id)).toEqual(below);
    expect((await eventsAfter(ctx, before)).map((e) => e.subject)).toEqual([`task:${top.id}`]);
  });

  it('moves a task with its subtasks to another project, each with an event the old members see', async () => {
    const [owner, member, oldOnly] = [await person(), await person(), await person()];
    const from = await project(owner, [
      [member, 'editor'],
      [oldOnly, 'viewer'],
    ]);
    const to = await project(owner, [[member, 'commenter']]);
    const root = await tasks.create(owner.as, { title: 'root', projectId: from });
    const kid = await tasks.create(owner.as, {
      title: 'kid',
      projectId: from,
      parentId: root.id,
      assigneeId: member.id,
    });
    const grandkid = await tasks.create(owner.as, { title: 'grandkid', projectId: from, parentId: kid.id });
    const elsewhere = await tasks.create(owner.as, { title: 'stays', projectId: from });
    vi.setSystemTime(T0 + 5000);
    const before = await eventHead(ctx);
    const moved = await tasks.update(owner.as, root.id, { projectId: to }, 'patch', undefined);
    expect(moved).toEqual({ ...root, projectId: to, version: 2, updatedAt: at(5000) });
    const events = await eventsAfter(ctx, before);
    const viewers = [owner.id, member.id, oldOnly.id].sort();
    expect(events[0]?.subject).toBe(`task:${root.id}`);
    expect(events.map((e) => e.subject).sort()).toEqual(
      [root, kid, grandkid].map((t) => `task:${t.id}`).sort(),
    );
    for (const e of events) expect([e.type, e.projectId, e.viewers]).toEqual(['task.updated', to, viewers]);
    expect(events[0]?.changes).toEqual({ projectId: { from, to } });
    const kidEvent = events.find((e) => e.subject === `task:${kid.id}`);
    expect(kidEvent?.changes).toEqual({ projectId: { from, to } });
    expect(kidEvent?.data).toEqual({ ...kid, projectId: to, version: 2, updatedAt: at(5000) });
    expect(kidEvent?.at).toBe(at(5000));
    expect(kidEvent?.actor).toEqual({ type: 'user', id: owner.id });
    expect((await taskRow(grandkid.id))?.project_id).toBe(to);
    expect((await taskRow(elsewhere.id))?.project_id).toBe(from);

    // A subtask's assignee must be a member of the target too.
    const third = await project(owner);
    const refused = await failure(tasks.update(owner.as, root.id, { projectId: third }, 'patch', undefined));
    expect(refused.errors).toEqual([
      {
        pointer: '/assigneeId',
        code: 'not_found',
        detail: `subtask ${kid.id} is assigned to a user who is no member of the target project`,
      },
    ]);
    // A move without subtasks records one event.
    const mark = await eventHead(ctx);
    await tasks.update(owner.as, elsewhere.id, { projectId: to }, 'patch', undefined);
    expect((await eventsAfter(ctx, mark)).map((e) => e.subject)).toEqual([`task:${elsewhere.id}`]);
  });

  it('merges again when another write got in first; with If-Match that is 412; ten losses end in 412', async () => {
    const [owner, other, third] = [await person(), await person(), await person()];
    const task = await tasks.create(owner.as, { title: 't' });
    const users = ctx.services.users;
    const exists = users.exists.bind(users);
    // Checking the new assignee is the moment between the read and the conditional write.
    const bump = vi.spyOn(users, 'exists').mockImplementation(async (userId, db) => {
      await (db ?? ctx.database.db)
        .updateTable('tasks')
        .set((eb) => ({ version: eb('version', '+', 1), title: 'theirs' }))
        .where('id', '=', task.id)
        .execute();
      return exists(userId, db);
    });
    const reads = vi.spyOn(tasks, 'access');
    const lost = await failure(tasks.update(owner.as, task.id, { assigneeId: other.id }, 'patch', '"1"'));
    expect(lost.code).toBe('precondition_failed');
    expect(lost.headers).toEqual({ etag: '"2"' });
    expect(bump).toHaveBeenCalledTimes(1);
    // With If-Match it does not try again.
    expect(reads).toHaveBeenCalledTimes(1);

    bump.mockClear();
    const gaveUp = await failure(
      tasks.update(owner.as, task.id, { assigneeId: other.id }, 'patch', undefined),
    );
    expect(gaveUp.code).toBe('precondition_failed');
    expect(bump).toHaveBeenCalledTimes(10);
    expect(gaveUp.headers).toEqual({ etag: '"12"' });
    expect((await taskRow(task.id))?.assignee_id).toBeNull();

    bump.mockClear();
    let once = true;
    bump.mockImplementation(async (userId, db) => {
      if (once) {
        once = false;
        await (db ?? ctx.database.db)
          .updateTable('tasks')
          .set((eb) => ({ version: eb('version', '+', 1), title: 'theirs too' }))
          .where('id', '=', task.id)
          .execute();
      }
      return exists(userId, db);
    });
    const merged = await tasks.update(owner.as, task.id, { assigneeId: other.id }, 'patch', undefined);
    expect(merged).toMatchObject({ title: 'theirs too', assigneeId: other.id, version: 14 });
    expect(bump).toHaveBeenCalledTimes(2);

    // Deleted meanwhile: 404.
    bump.mockImplementation(async (userId, db) => {
      await (db ?? ctx.database.db).deleteFrom('tasks').where('id', '=', task.id).execute();
      return exists(userId, db);
    });
    expect(
      (await failure(tasks.update(owner.as, task.id, { assigneeId: third.id }, 'patch', '"14"'))).code,
    ).toBe('not_found');
  });
});

describe('delete', () => {
  it('deletes a task with its subtasks, deepest first, each with an event', async () => {
    const [owner, assignee] = [await person(), await person()];
    const p = await project(owner, [[assignee, 'viewer']]);
    const root = await tasks.create(owner.as, { title: 'root', projectId: p });
    const kids: Task[] = [];
    for (let i = 0; i < 3; i++) {
      kids.push(await tasks.create(owner.as, { title: `kid ${i}`, projectId: p, parentId: root.id }));
    }
    const grandkid = await tasks.create(owner.as, {
      title: 'grandkid',
      projectId: p,
      parentId: kids[2]?.id ?? null,
      assigneeId: assignee.id,
    });
    // Made after it, under an earlier kid: a walk down the tree meets it first, the order does not.
    const later = await tasks.create(owner.as, {
      title: 'later',
      projectId: p,
      parentId: kids[0]?.id ?? null,
    });
    const unrelated = await tasks.create(owner.as, { title: 'unrelated', projectId: p });
    vi.setSystemTime(T0 + 3000);
    const before = await eventHead(ctx);
    await tasks.delete(owner.as, root.id, undefined);
    const events = await eventsAfter(ctx, before);
    expect(events.map((e) => e.subject)).toEqual([
      `task:${grandkid.id}`,
      `task:${later.id}`,
      ...kids.map((k) => `task:${k.id}`).sort(),
      `task:${root.id}`,
    ]);
    expect(events[0]).toEqual({
      type: 'task.deleted',
      at: at(3000),
      actor: { type: 'user', id: owner.id },
      projectId: p,
      subject: `task:${grandkid.id}`,
      taskId: grandkid.id,
      changes: null,
      data: grandkid,
      viewers: [assignee.id],
    });
    expect(events.at(-1)?.data).toEqual(root);
    for (const t of [root, grandkid, later, ...kids]) expect(await taskRow(t.id)).toBeUndefined();
    expect(await taskRow(unrelated.id)).toBeDefined();
  });

  it('needs the editor role (403), an unarchived project (409) and a matching If-Match (412)', async () => {
    const [owner, commenter, outsider] = [await person(), await person(), await person()];
    const p = await project(owner, [[commenter, 'commenter']]);
    const task = await tasks.create(owner.as, { title: 't', projectId: p, assigneeId: commenter.id });
    const refused = await failure(tasks.delete(commenter.as, task.id, undefined));
    expect(refused.code).toBe('forbidden');
    expect(refused.detail).toBe('Deleting tasks in this project needs the editor role');
    const inbox = await tasks.create(owner.as, { title: 'i', assigneeId: outsider.id });
    expect((await failure(tasks.delete(outsider.as, inbox.id, undefined))).code).toBe('forbidden');
    expect((await failure(tasks.delete(commenter.as, inbox.id, undefined))).code).toBe('not_found');
    const wrong = await failure(tasks.delete(owner.as, task.id, '"2"'));
    expect(wrong.code).toBe('precondition_failed');
    expect(wrong.headers).toEqual({ etag: '"1"' });
    expect(await taskRow(task.id)).toBeDefined();
    await tasks.delete(owner.as, inbox.id, '"1"');
    expect(await taskRow(inbox.id)).toBeUndefined();
    await ctx.services.projects.update(owner.as, p, { archived: true }, undefined);
    expect((await failure(tasks.delete(owner.as, task.id, '"1"'))).code).toBe('project_archived');
    expect((await failure(tasks.delete(commenter.as, task.id, '"1"'))).code).toBe('forbidden');
  });

  it('loses a race: 412 with the new ETag after another write, 404 after another delete', async () => {
    const owner = await person();
    const task = await tasks.create(owner.as, { title: 't' });
    const doomed = await tasks.create(owner.as, { title: 'doomed' });
    const changes = ctx.changes;
    const transaction = changes.transaction.bind(changes);
    const meanwhile = (work: () => Promise<unknown>) =>
      vi.spyOn(changes, 'transaction').mockImplementationOnce(async (db, body) => {
        await work();
        return transaction(db, body);
      });
    meanwhile(() =>
      ctx.database.db
        .updateTable('tasks')
        .set((eb) => ({ version: eb('version', '+', 1) }))
        .where('id', '=', task.id)
        .execute(),
    );
    const before = await eventHead(ctx);
    const lost = await failure(tasks.delete(owner.as, task.id, '"1"'));
    expect(lost.code).toBe('precondition_failed');
    expect(lost.headers).toEqual({ etag: '"2"' });
    expect(await taskRow(task.id)).toBeDefined();
    expect(await eventHead(ctx)).toBe(before);
    // Without If-Match the newer version goes.
    meanwhile(() =>
      ctx.database.db
        .updateTable('tasks')
        .set((eb) => ({ version: eb('version', '+', 1) }))
        .where('id', '=', doomed.id)
        .execute(),
    );
    await tasks.delete(owner.as, doomed.id, undefined);
    expect(await taskRow(doomed.id)).toBeUndefined();
    meanwhile(() => ctx.database.db.deleteFrom('tasks').where('id', '=', task.id).execute());
    expect((await failure(tasks.delete(owner.as, task.id, '"2"'))).code).toBe('not_found');
  });
});

describe('members and users going', () => {
  it('unassigns a removed member in that project only, with an event it sees', async () => {
    const [owner, member] = [await person(), await person()];
    const p = await project(owner, [[member, 'editor']]);
    const q = await project(owner, [[member, 'editor']]);
    const here = await tasks.create(owner.as, { title: 'here', projectId: p, assigneeId: member.id });
    const there = await tasks.create(owner.as, { title: 'there', projectId: q, assigneeId: member.id });
    const unassigned = await tasks.create(owner.as, { title: 'none', projectId: p });
    expect((await tasks.assigneesIn(ctx.database.db, p)).sort()).toEqual([member.id]);
    const before = await eventHead(ctx);
    const actor = { type: 'user' as const, id: owner.id };
    await ctx.changes.transaction(ctx.database.db, (trx) =>
      tasks.unassignMember(trx, p, member.id, at(7000), actor),
    );
    expect(await eventsAfter(ctx, before)).toEqual([
      {
        type: 'task.updated',
        at: at(7000),
        actor,
        projectId: p,
        subject: `task:${here.id}`,
        taskId: here.id,
        changes: { assigneeId: { from: member.id, to: null } },
        data: { ...here, assigneeId: null, version: 2, updatedAt: at(7000) },
        viewers: [member.id],
      },
    ]);
    expect((await taskRow(there.id))?.assignee_id).toBe(member.id);
    expect((await taskRow(unassigned.id))?.version).toBe(1);
    expect(await tasks.assigneesIn(ctx.database.db, p)).toEqual([]);
  });

  it('a deleted user: owned tasks lose the owner, assigned ones the assignee, one event each by the system', async () => {
    const [gone, other] = [await person(), await person()];
    const p = await project(other, [[gone, 'editor']]);
    const owned = await tasks.create(gone.as, { title: 'owned', projectId: p, assigneeId: other.id });
    const assigned = await tasks.create(other.as, { title: 'assigned', projectId: p, assigneeId: gone.id });
    const both = await tasks.create(gone.as, { title: 'both', projectId: p, assigneeId: gone.id });
    const untouched = await tasks.create(other.as, { title: 'untouched', projectId: p });
    const before = await eventHead(ctx);
    await ctx.changes.transaction(ctx.database.db, (trx) => tasks.userDeleted(trx, gone.id, at(9000)));
    const events = await eventsAfter(ctx, before);
    const bySubject = new Map(events.map((e) => [e.subject, e]));
    expect(events).toHaveLength(3);
    expect(
      events.every((e) => e.type === 'task.updated' && e.actor.type === 'system' && e.actor.id === null),
    ).toBe(true);
    expect(events.every((e) => e.at === at(9000) && e.projectId === p)).toBe(true);
    expect(bySubject.get(`task:${owned.id}`)).toMatchObject({
      changes: { ownerId: { from: gone.id, to: null } },
      data: { ...owned, ownerId: null },
      viewers: [other.id],
    });
    expect(bySubject.get(`task:${assigned.id}`)).toMatchObject({
      changes: { assigneeId: { from: gone.id, to: null } },
      data: { ...assigned, assigneeId: null, version: 2, updatedAt: at(9000) },
      viewers: [gone.id],
    });
    expect(bySubject.get(`task:${both.id}`)).toMatchObject({
      changes: { ownerId: { from: gone.id, to: null }, assigneeId: { from: gone.id, to: null } },
      data: { ...both, ownerId: null, assigneeId: null, version: 2, updatedAt: at(9000) },
      viewers: [gone.id],
    });
    expect(bySubject.has(`task:${untouched.id}`)).toBe(false);
    expect((await taskRow(owned.id))?.version).toBe(1);
    expect((await taskRow(assigned.id))?.assignee_id).toBeNull();
  });
});

describe('as on PostgreSQL: the rows a write locks', () => {
  const { locks, asPostgres, restore } = lockWatch(() => ctx);
  afterEach(restore);

  const projectLock = (...ids: string[]) => ({
    modifier: 'ForNoKeyUpdate',
    table: 'projects',
    parameters: ids.sort(),
  });

  it('create: the project when the task has a parent', async () => {
    const owner = await person();
    const p = await project(owner);
    asPostgres();
    const parent = await tasks.create(owner.as, { title: 'p', projectId: p });
    expect(locks).toEqual([]);
    await tasks.create(owner.as, { title: 'c', projectId: p, parentId: parent.id });
    expect(locks).toEqual([projectLock(p)]);
  });

  it('update: the task row without If-Match; the projects first for a parent change', async () => {
    const owner = await person();
    const p = await project(owner);
    const q = await project(owner);
    const task = await tasks.create(owner.as, { title: 't', projectId: p });
    const kid = await tasks.create(owner.as, { title: 'k', projectId: p, parentId: task.id });
    const loose = await tasks.create(owner.as, { title: 'l', projectId: p, parentId: task.id });
    asPostgres();
    const taskLock = (id: string) => ({
      modifier: 'ForNoKeyUpdate',
      table: 'tasks',
      parameters: [owner.id, id],
    });
    await tasks.update(owner.as, task.id, { title: 'u' }, 'patch', undefined);
    expect(locks).toEqual([taskLock(task.id)]);
    locks.length = 0;
    await tasks.update(owner.as, task.id, { title: 'v' }, 'patch', '"2"');
    expect(locks).toEqual([]);
    await tasks.update(owner.as, loose.id, { parentId: null }, 'patch', '"1"');
    expect(locks).toEqual([projectLock(p)]);
    locks.length = 0;
    // Without If-Match the task row too, after the project's (the order every parent change takes).
    const other = await tasks.create(owner.as, { title: 'o', projectId: p });
    locks.length = 0;
    await tasks.update(owner.as, loose.id, { parentId: other.id }, 'patch', undefined);
    expect(locks).toEqual([projectLock(p), taskLock(loose.id)]);
    locks.length = 0;
    await tasks.update(owner.as, task.id, { projectId: q }, 'patch', undefined);
    expect(locks).toEqual([
      projectLock(p, q),
      taskLock(task.id),
      // The subtasks about to move.
      { modifier: 'ForNoKeyUpdate', table: 'tasks', parameters: [kid.id] },
    ]);
  });

  it('update: a project the task was moved to between the first read and the locks is locked too', async () => {
    const owner = await person();
    const [p, r] = [await project(owner), await project(owner)];
    const parent = await tasks.create(owner.as, { title: 'parent', projectId: p });
    const task = await tasks.create(owner.as, { title: 't', projectId: p, parentId: parent.id });
    const there = await tasks.create(owner.as, { title: 'there', projectId: r });
    const access = tasks.access.bind(tasks);
    const reads = vi.spyOn(tasks, 'access').mockImplementationOnce(async (caller, id, db, lock) => {
      const found = await access(caller, id, db, lock);
      await (db ?? ctx.database.db)
        .updateTable('tasks')
        .set({ project_id: r, parent_id: there.id })
        .where('id', '=', task.id)
        .execute();
      return found;
    });
    asPostgres();
    const after = await tasks.update(owner.as, task.id, { parentId: null, title: 'moved' }, 'patch', '"1"');
    expect(after).toMatchObject({ projectId: r, parentId: null, title: 'moved', version: 2 });
    expect(reads).toHaveBeenCalledTimes(2);
    expect(locks).toEqual([projectLock(p), projectLock(r)]);
  });

  it('update: the task is read once more, before the project locks, on PostgreSQL only', async () => {
    const owner = await person();
    const p = await project(owner);
    const parent = await tasks.create(owner.as, { title: 'parent', projectId: p });
    const task = await tasks.create(owner.as, { title: 't', projectId: p });
    const reads = vi.spyOn(tasks, 'access');
    await tasks.update(owner.as, task.id, { parentId: parent.id }, 'patch', '"1"');
    expect(reads).toHaveBeenCalledTimes(ctx.database.dialect === 'postgres' ? 2 : 1);
    reads.mockClear();
    asPostgres();
    await tasks.update(owner.as, task.id, { parentId: null }, 'patch', '"2"');
    expect(reads).toHaveBeenCalledTimes(2);
  });

  it('delete: the project, then the task and its subtasks for update', async () => {
    const owner = await person();
    const p = await project(owner);
    const task = await tasks.create(owner.as, { title: 't', projectId: p });
    const kid = await tasks.create(owner.as, { title: 'k', projectId: p, parentId: task.id });
    asPostgres();
    await tasks.delete(owner.as, task.id, undefined);
    expect(locks).toEqual([
      projectLock(p),
      { modifier: 'ForUpdate', table: 'tasks', parameters: [task.id, kid.id] },
    ]);
  });
});
