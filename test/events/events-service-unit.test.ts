import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { formatEventId } from '../../src/lib/change-log.js';
import type { AppContext } from '../../src/lib/module.js';
import type { Principal } from '../../src/lib/principal.js';
import type { EventRow, LogState, Viewer } from '../../src/modules/events/events.repository.js';
import {
  type EventsService,
  positionAfter,
  SCAN_LIMIT,
  toEvent,
  viewerOf,
} from '../../src/modules/events/events.service.js';
import { buildTestServices, failure, type TestServices } from '../helpers/services.js';

/**
 * The events service called directly (test/helpers/services.ts) over a change log that the
 * projects and tasks services write: the feed's scan bound, its `next` and `hasMore`, the 410
 * and 400 of a client's event id, and who sees which event.
 */

const T0 = Date.UTC(2026, 11, 4, 11, 0, 0);
const PASSWORD = 'correct horse battery staple 42';

let services: TestServices;
let ctx: AppContext;
let events: EventsService;
let tag: string;
let alice: Principal;
let bob: Principal;
let admin: Principal;
/** The head before the fixtures' own events. */
let h0: number;
let projectCreated: number;
let task1: number;
let task2: number;
let bobProject: number;
let taskId: string;
let projectId: string;

async function person(name: string, role: 'user' | 'admin' = 'user'): Promise<Principal> {
  const u = await ctx.services.users.create({
    email: `events-unit-${name}@example.com`,
    password: PASSWORD,
    name,
    role,
  });
  return { userId: u.id, role, sessionId: null, scopes: null, apiKeyId: null, tokenExpiresAt: null };
}

const head = async () => (await events.state()).head;

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
  services = await buildTestServices();
  ctx = services.ctx;
  events = ctx.services.events;
  alice = await person('alice');
  bob = await person('bob');
  admin = await person('admin', 'admin');
  h0 = await head();
  const project = await ctx.services.projects.create(alice, { name: 'Feed' });
  projectId = project.id;
  projectCreated = await head();
  vi.setSystemTime(T0 + 1000);
  taskId = (await ctx.services.tasks.create(alice, { title: 'one', projectId })).id;
  task1 = await head();
  await ctx.services.tasks.create(alice, { title: 'two', projectId });
  task2 = await head();
  await ctx.services.projects.create(bob, { name: 'Bob’s' });
  bobProject = await head();
  tag = (await events.state()).tag;
  vi.useRealTimers();
});
afterAll(async () => services.close());
beforeEach(async () => {
  await ctx.database.db.updateTable('event_log').set({ pruned_through: 0 }).execute();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const positions = (items: { id: string }[]) => items.map((e) => Number(e.id.slice(9)));
const viewer = (p: Principal): Viewer => viewerOf(p);

describe('positionAfter', () => {
  const log: LogState = { tag: 'abcdef01', head: 50, prunedThrough: 10 };
  const id = (n: number, t = 'abcdef01') => formatEventId(t, n);

  it('omitted: the oldest retained; else the number of an id within the retained range', () => {
    expect(positionAfter(log, undefined)).toBe(10);
    expect(positionAfter(log, id(10))).toBe(10);
    expect(positionAfter(log, id(11))).toBe(11);
    expect(positionAfter(log, id(50))).toBe(50);
  });

  it('400 invalid_cursor for what is not an event id, naming the parameter', async () => {
    for (const bad of ['', 'abc', 'ABCDEF01-0000000000000011', 'abcdef01-11', `${id(11)} `]) {
      const error = await failure(() => positionAfter(log, bad));
      expect(error.code).toBe('invalid_cursor');
      expect(error.status).toBe(400);
      expect(error.detail).toBe('after is not an event id');
    }
    const named = await failure(() => positionAfter(log, 'x', 'Last-Event-ID'));
    expect(named.detail).toBe('Last-Event-ID is not an event id');
  });

  it('410 events_expired for another database’s id, one pruned, one past the head or past every safe number', async () => {
    for (const gone of [id(11, '00000000'), id(9), id(0), id(51), 'abcdef01-9999999999999999']) {
      const error = await failure(() => positionAfter(log, gone));
      expect(error.code).toBe('events_expired');
      expect(error.status).toBe(410);
      expect(error.detail).toBe(
        'after names no event this feed still holds (expired, from another database, or newer than the head): resync with a list',
      );
    }
    const named = await failure(() => positionAfter(log, id(51), 'Last-Event-ID'));
    expect(named.detail).toMatch(/^Last-Event-ID names no event/);
  });
});

describe('viewerOf and toEvent', () => {
  it('makes admins see every event', () => {
    expect(viewerOf(alice)).toEqual({ userId: alice.userId, admin: false });
    expect(viewerOf(admin)).toEqual({ userId: admin.userId, admin: true });
    expect(viewerOf({ ...alice, role: 'guest' }).admin).toBe(false);
  });

  it('maps a row to the API shape, its number in the id', () => {
    const row: EventRow = {
      position: '42',
      type: 'task.updated',
      occurred_at: '2026-12-04T11:00:00.000Z',
      actor_type: 'api_key',
      actor_id: 'k1',
      project_id: 'p1',
      subject_type: 'task',
      subject_id: 't1',
      task_id: 't1',
      changes: '{"title":{"from":"a","to":"b"}}',
      data: '{"id":"t1","title":"b"}',
    };
    expect(toEvent(row, 'abcdef01')).toEqual({
      id: 'abcdef01-0000000000000042',
      type: 'task.updated',
      occurredAt: '2026-12-04T11:00:00.000Z',
      actor: { type: 'api_key', id: 'k1' },
      projectId: 'p1',
      subject: { type: 'task', id: 't1' },
      changes: { title: { from: 'a', to: 'b' } },
      data: { id: 't1', title: 'b' },
    });
    expect(toEvent({ ...row, changes: null }, 'abcdef01').changes).toBeNull();
  });
});

describe('state, head, stateAndChange and visible', () => {
  it('reads the log state and the head as an event id', async () => {
    const row = await ctx.database.db.selectFrom('event_log').selectAll().executeTakeFirstOrThrow();
    const state = await events.state();
    expect(state).toEqual({ tag: row.tag, head: bobProject, prunedThrough: 0 });
    expect(state.tag).toMatch(/^[0-9a-f]{8}$/);
    expect(await events.head()).toBe(formatEventId(tag, bobProject));
  });

  it('tells whether the viewer may see an event in (after, after + span]', async () => {
    const a = viewer(alice);
    expect(await events.stateAndChange(a, task1 - 1, 1)).toEqual({
      tag,
      head: bobProject,
      prunedThrough: 0,
      changed: true,
    });
    // Bob's project is not Alice's.
    expect((await events.stateAndChange(a, task2, 1)).changed).toBe(false);
    expect((await events.stateAndChange(a, task2, 0)).changed).toBe(false);
    expect((await events.stateAndChange(a, task1, 1)).changed).toBe(true);
    expect((await events.stateAndChange(viewer(bob), task2, 1)).changed).toBe(true);
    expect((await events.stateAndChange(viewer(bob), h0, task2 - h0)).changed).toBe(false);
    expect((await events.stateAndChange(viewer(admin), h0, 1)).changed).toBe(true);
  });

  it('gives one event only to whoever may see it now', async () => {
    const event = await events.visible(viewer(alice), task1);
    expect(event).toEqual({
      id: formatEventId(tag, task1),
      type: 'task.created',
      occurredAt: new Date(T0 + 1000).toISOString(),
      actor: { type: 'user', id: alice.userId },
      projectId,
      subject: { type: 'task', id: taskId },
      changes: null,
      data: expect.objectContaining({ id: taskId, title: 'one', projectId }),
    });
    expect(await events.visible(viewer(bob), task1)).toBeNull();
    expect(await events.visible(viewer(admin), task1)).toEqual(event);
    expect(await events.visible(viewer(alice), bobProject + 1)).toBeNull();
  });
});

describe('feed', () => {
  it('serves the viewer’s events after a number, oldest first, up to the head', async () => {
    const page = await events.feed(viewer(alice), h0, 10);
    expect(positions(page.items)).toEqual([projectCreated, task1, task2]);
    expect(page.items[1]).toEqual(await events.visible(viewer(alice), task1));
    // Not full: the scan went to the head.
    expect(page.next).toBe(bobProject);
    expect(page.hasMore).toBe(false);
    const admins = await events.feed(viewer(admin), h0, 10);
    expect(positions(admins.items)).toEqual([projectCreated, task1, task2, bobProject]);
    const bobs = await events.feed(viewer(bob), h0, 10);
    expect(positions(bobs.items)).toEqual([bobProject]);
  });

  it('a full page ends at its last event, and more may follow', async () => {
    const two = await events.feed(viewer(alice), h0, 2);
    expect(positions(two.items)).toEqual([projectCreated, task1]);
    expect(two).toMatchObject({ next: task1, hasMore: true });
    const rest = await events.feed(viewer(alice), two.next, 2);
    expect(positions(rest.items)).toEqual([task2]);
    expect(rest).toMatchObject({ next: bobProject, hasMore: false });
    // Exactly full: the last one served, though nothing of the viewer's follows.
    const three = await events.feed(viewer(alice), h0, 3);
    expect(three).toMatchObject({ next: task2, hasMore: true });
    const last = await events.feed(viewer(admin), task2, 1);
    expect(positions(last.items)).toEqual([bobProject]);
    expect(last).toMatchObject({ next: bobProject, hasMore: false });
  });

  it('at the head: nothing, and next stays', async () => {
    expect(await events.feed(viewer(alice), bobProject, 10)).toEqual({
      items: [],
      next: bobProject,
      hasMore: false,
    });
  });

  it('scans at most SCAN_LIMIT numbers, and never past the head of the state it is given', async () => {
    expect(SCAN_LIMIT).toBe(1000);
    const far: LogState = { tag: 'feedfeed', head: h0 + 5000, prunedThrough: 0 };
    const page = await events.feed(viewer(admin), h0, 10, far);
    expect(positions(page.items)).toEqual([projectCreated, task1, task2, bobProject]);
    expect(page.items[0]?.id).toBe(formatEventId('feedfeed', projectCreated));
    expect(page).toMatchObject({ next: h0 + SCAN_LIMIT, hasMore: true });
    // A head older than the log's: the events after it are not served.
    const old: LogState = { tag, head: task1, prunedThrough: 0 };
    const before = await events.feed(viewer(admin), h0, 10, old);
    expect(positions(before.items)).toEqual([projectCreated, task1]);
    expect(before).toMatchObject({ next: task1, hasMore: false });
    // After that head: nothing scanned, next stays where it was.
    expect(await events.feed(viewer(admin), task2, 10, old)).toEqual({
      items: [],
      next: task2,
      hasMore: false,
    });
    // Events past SCAN_LIMIT numbers from `after` wait for the next read.
    const shifted = await events.feed(viewer(admin), task1 - SCAN_LIMIT, 100, far);
    expect(Math.max(...positions(shifted.items))).toBe(task1);
    expect(positions(shifted.items)).toEqual(Array.from({ length: task1 }, (_, i) => i + 1));
    expect(shifted).toMatchObject({ next: task1, hasMore: true });
  });
});

describe('page (GET /events)', () => {
  it('reads from the oldest retained without `after`, and from the event id given', async () => {
    const all = await events.page(viewer(alice), undefined, 100);
    const direct = await events.feed(viewer(alice), 0, 100);
    expect(all).toEqual({ items: direct.items, next: formatEventId(tag, direct.next), hasMore: false });
    expect(positions(all.items)).toContain(projectCreated);
    const after = await events.page(viewer(alice), formatEventId(tag, projectCreated), 1);
    expect(positions(after.items)).toEqual([task1]);
    expect(after).toMatchObject({ next: formatEventId(tag, task1), hasMore: true });
    // Retention moved: the oldest retained is the start.
    await ctx.database.db.updateTable('event_log').set({ pruned_through: task1 }).execute();
    const retained = await events.page(viewer(alice), undefined, 100);
    expect(positions(retained.items)).toEqual([task2]);
    expect((await failure(events.page(viewer(alice), formatEventId(tag, projectCreated), 1))).code).toBe(
      'events_expired',
    );
    expect((await failure(events.page(viewer(alice), 'nope', 1))).code).toBe('invalid_cursor');
  });

  it('410 when retention passed `after` during the read; not when it only reached it', async () => {
    const feed = events.feed.bind(events);
    let pruneTo = 0;
    vi.spyOn(events, 'feed').mockImplementation(async (...args) => {
      const page = await feed(...args);
      await ctx.database.db.updateTable('event_log').set({ pruned_through: pruneTo }).execute();
      return page;
    });
    pruneTo = task1;
    const reached = await events.page(viewer(alice), formatEventId(tag, task1), 10);
    expect(positions(reached.items)).toEqual([task2]);
    await ctx.database.db.updateTable('event_log').set({ pruned_through: 0 }).execute();
    pruneTo = task1 + 1;
    const error = await failure(events.page(viewer(alice), formatEventId(tag, task1), 10));
    expect(error.code).toBe('events_expired');
    expect(error.status).toBe(410);
    // Without `after` the reader starts from whatever is retained: nothing to tell it.
    await ctx.database.db.updateTable('event_log').set({ pruned_through: 0 }).execute();
    const fresh = await events.page(viewer(alice), undefined, 100);
    expect(positions(fresh.items)).toContain(task2);
  });
});
