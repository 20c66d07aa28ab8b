import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatEventId } from '../../src/lib/change-log.js';
import type { AppContext } from '../../src/lib/module.js';
import type { Principal } from '../../src/lib/principal.js';
import type { ActivityService } from '../../src/modules/events/activity.service.js';
import { viewerOf } from '../../src/modules/events/events.service.js';
import { buildTestServices, failure, type TestServices } from '../helpers/services.js';

/**
 * The activity service called directly (test/helpers/services.ts): a task's events and its
 * comments', oldest first, by page (version 1) and by signed cursor (version 2), for whoever may
 * read the task.
 */

const PASSWORD = 'correct horse battery staple 42';

let services: TestServices;
let ctx: AppContext;
let activity: ActivityService;
let tag: string;
let owner: Principal;
let member: Principal;
let stranger: Principal;
let taskId: string;
let otherTaskId: string;
/** The numbers of the task's events: created, updated, commented. */
let numbers: number[];

async function person(name: string): Promise<Principal> {
  const u = await ctx.services.users.create({
    email: `activity-unit-${name}@example.com`,
    password: PASSWORD,
    name,
  });
  return { userId: u.id, role: 'user', sessionId: null, scopes: null, apiKeyId: null, tokenExpiresAt: null };
}

const head = async () => (await ctx.services.events.state()).head;

beforeAll(async () => {
  services = await buildTestServices();
  ctx = services.ctx;
  activity = ctx.services.activity;
  owner = await person('owner');
  member = await person('member');
  stranger = await person('stranger');
  const project = await ctx.services.projects.create(owner, { name: 'Busy' });
  await ctx.services.projectMembers.add(owner, project.id, {
    email: 'activity-unit-member@example.com',
    role: 'viewer',
  });
  taskId = (await ctx.services.tasks.create(owner, { title: 'watched', projectId: project.id })).id;
  const created = await head();
  otherTaskId = (await ctx.services.tasks.create(owner, { title: 'other', projectId: project.id })).id;
  await ctx.services.tasks.update(owner, taskId, { title: 'renamed' }, 'patch', undefined);
  const updated = await head();
  await ctx.services.comments.create(owner, otherTaskId, 'elsewhere');
  await ctx.services.comments.create(owner, taskId, 'a comment');
  const commented = await head();
  numbers = [created, updated, commented];
  tag = (await ctx.services.events.state()).tag;
});
afterAll(async () => services.close());

const positions = (items: { id: string }[]) => items.map((e) => Number(e.id.slice(9)));

describe('list (version 1)', () => {
  it('pages the task’s events and its comments’, oldest first, with the total', async () => {
    const first = await activity.list(member, taskId, { page: 1, size: 2 });
    expect(first).toMatchObject({ total: 3, page: 1, size: 2, pages: 2 });
    expect(positions(first.items)).toEqual(numbers.slice(0, 2));
    expect(first.items.map((e) => e.type)).toEqual(['task.created', 'task.updated']);
    expect(first.items[0]).toEqual(await ctx.services.events.visible(viewerOf(owner), numbers[0] as number));
    expect(first.items[0]?.id).toBe(formatEventId(tag, numbers[0] as number));
    const second = await activity.list(owner, taskId, { page: 2, size: 2 });
    expect(second).toMatchObject({ total: 3, page: 2, pages: 2 });
    expect(second.items.map((e) => [Number(e.id.slice(9)), e.type])).toEqual([
      [numbers[2], 'comment.created'],
    ]);
    expect((await activity.list(owner, otherTaskId, { page: 1, size: 10 })).total).toBe(2);
  });

  it('404 for a task the caller may not read, or none', async () => {
    for (const id of [taskId, '01935e1f-2b3e-7d4e-8f5a-6b7e8d9e0f1a']) {
      const error = await failure(activity.list(stranger, id, { page: 1, size: 10 }));
      expect(error.code).toBe('not_found');
      expect(error.status).toBe(404);
      const v2 = await failure(activity.listAfter(stranger, id, { limit: 10, cursor: undefined }));
      expect(v2.code).toBe('not_found');
    }
  });
});

describe('listAfter (version 2)', () => {
  it('pages after the last event’s number with a signed cursor; null after the last page', async () => {
    const first = await activity.listAfter(member, taskId, { limit: 2, cursor: undefined });
    expect(positions(first.items)).toEqual(numbers.slice(0, 2));
    expect(first.items[1]).toEqual(await ctx.services.events.visible(viewerOf(owner), numbers[1] as number));
    const cursor = first.nextCursor as string;
    const binding = { list: 'activity', caller: member.userId, taskId };
    expect(ctx.cursors.open(binding, cursor)).toEqual({ n: numbers[1] });
    const second = await activity.listAfter(member, taskId, { limit: 2, cursor });
    expect(positions(second.items)).toEqual([numbers[2]]);
    expect(second.nextCursor).toBeNull();
    const exact = await activity.listAfter(member, taskId, { limit: 3, cursor: undefined });
    expect(positions(exact.items)).toEqual(numbers);
    expect(exact.nextCursor).toBeNull();
    // A cursor of the caller's own making, from the start.
    const zero = await activity.listAfter(member, taskId, {
      limit: 5,
      cursor: ctx.cursors.sign(binding, { n: 0 }),
    });
    expect(positions(zero.items)).toEqual(numbers);
    const late = await activity.listAfter(member, taskId, {
      limit: 5,
      cursor: ctx.cursors.sign(binding, { n: numbers[0] }),
    });
    expect(positions(late.items)).toEqual(numbers.slice(1));
  });

  it('refuses a cursor of another caller or task, or one that carries no safe integer', async () => {
    const page = await activity.listAfter(member, taskId, { limit: 1, cursor: undefined });
    const cursor = page.nextCursor as string;
    expect((await failure(activity.listAfter(owner, taskId, { limit: 1, cursor }))).code).toBe(
      'invalid_cursor',
    );
    expect((await failure(activity.listAfter(member, otherTaskId, { limit: 1, cursor }))).code).toBe(
      'invalid_cursor',
    );
    const binding = { list: 'activity', caller: member.userId, taskId };
    for (const position of [null, 5, 'x', {}, { n: '3' }, { n: 1.5 }, { n: 2 ** 60 }, { n: null }]) {
      const error = await failure(
        activity.listAfter(member, taskId, { limit: 1, cursor: ctx.cursors.sign(binding, position) }),
      );
      expect(error.code).toBe('invalid_cursor');
      expect(error.status).toBe(400);
      expect(error.detail).toBe('The cursor is not valid');
    }
  });
});
