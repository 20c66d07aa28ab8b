import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatEventId } from '../../src/lib/change-log.js';
import { SCAN_LIMIT } from '../../src/modules/events/events.service.js';
import { issueKey, xApiKey } from '../api-keys/helpers.js';
import { fieldItems } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { createProject } from '../helpers/projects.js';
import { change, type FeedPage, follow, getJson, headOf, markOf, nextMark, record } from './feed-helpers.js';

/**
 * GET /events and GET /events/head (contract §8): shapes, the 400/410/422 rules, paging with
 * `next` over bounded scans, in both versions.
 */

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => t.close());

const db = () => t.app.ctx.database.db;
const state = () => t.app.ctx.services.events.state();

async function get(url: string, headers: Record<string, string>, version: 'v1' | 'v2' = 'v1') {
  return t.app.inject({ method: 'GET', url: `/api/${version}${url}`, headers });
}

function expectProblem(res: Awaited<ReturnType<typeof get>>, status: number, code: string) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json().code).toBe(code);
}

/** A member of a fresh shared project, with the project. */
async function memberScene() {
  const member = await signedIn(t.app);
  const projectId = await createProject(t.app, member.user.id);
  return { member, projectId };
}

describe('an empty feed', () => {
  it('has the head <tag>-0000000000000000, an empty page at it, in both versions', async () => {
    const reader = await signedIn(t.app);
    // Whatever creating the reader recorded, this database's log starts empty here.
    await db().deleteFrom('events').execute();
    await db().updateTable('event_log').set({ head: 0, pruned_through: 0 }).execute();
    const { tag } = await state();
    const empty = formatEventId(tag, 0);
    expect(empty).toMatch(/^[0-9a-f]{8}-0{16}$/);
    for (const version of ['v1', 'v2'] as const) {
      const head = await get('/events/head', reader.headers, version);
      expect(head.statusCode).toBe(200);
      expect(head.json()).toEqual({ head: empty });
      expect(head.headers['cache-control']).toBe('private, no-cache');
      expect(String(head.headers.vary)).toMatch(/Authorization, X-API-Key/);
      for (const url of ['/events', `/events?after=${empty}`]) {
        const res = await get(url, reader.headers, version);
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json()).toEqual({ items: [], next: empty, hasMore: false });
        expect(res.headers['cache-control']).toBe('private, no-cache');
      }
    }
  });
});

describe('the page', () => {
  it('holds events of exactly the documented shape, oldest first, the same in both versions', async () => {
    const { member, projectId } = await memberScene();
    const h0 = await headOf(t.app, member.headers);
    const taskId = '0193a1b2-0000-7000-8000-00000000aaaa';
    const updated = change(projectId, {
      type: 'task.updated',
      subject: { type: 'task', id: taskId },
      taskId,
      changes: { status: { from: 'todo', to: 'done' } },
    });
    const created = change(projectId, { type: 'task.created', taskId });
    await record(t.app, [created, updated]);
    const { tag, head } = await state();

    const v1 = await get(`/events?after=${h0}`, member.headers);
    const v2 = await get(`/events?after=${h0}`, member.headers, 'v2');
    expect(v1.statusCode, v1.body).toBe(200);
    expect(v2.json()).toEqual(v1.json());
    const page = v1.json() as FeedPage;
    expect(Object.keys(page).sort()).toEqual(['hasMore', 'items', 'next']);
    expect(page.items.map(markOf)).toEqual([created.data, updated.data].map((d) => d.mark));
    expect(page.items[1]).toEqual({
      id: formatEventId(tag, head),
      type: 'task.updated',
      occurredAt: updated.at,
      actor: { type: 'system', id: null },
      projectId,
      subject: { type: 'task', id: taskId },
      changes: { status: { from: 'todo', to: 'done' } },
      data: updated.data,
    });
    expect(page.items[0]?.changes).toBeNull();
    expect((page.items[0]?.id ?? 'z') < (page.items[1]?.id ?? '')).toBe(true);
    expect(page).toMatchObject({ next: formatEventId(tag, head), hasMore: false });
    expect(await headOf(t.app, member.headers)).toBe(formatEventId(tag, head));
  });

  it('is served to an API key with tasks:read, of every role', async () => {
    for (const role of ['admin', 'user', 'guest'] as const) {
      const owner = await signedIn(t.app, role);
      const key = await issueKey(t.app, owner.headers, ['tasks:read']);
      expect((await get('/events/head', xApiKey(key.key))).statusCode).toBe(200);
      expect((await get('/events?limit=1', xApiKey(key.key), 'v2')).statusCode).toBe(200);
    }
  });

  it('pages with next and hasMore; a full last page ends at the head', async () => {
    const { member, projectId } = await memberScene();
    const h0 = await headOf(t.app, member.headers);
    const recorded = Array.from({ length: 5 }, () => change(projectId));
    for (const c of recorded) await record(t.app, [c]);
    const { tag, head } = await state();
    const first = await getJson<FeedPage>(t.app, `/events?after=${h0}&limit=2`, member.headers);
    expect(first.items).toHaveLength(2);
    expect(first.hasMore).toBe(true);
    expect(first.next).toBe(first.items[1]?.id);
    const second = await getJson<FeedPage>(t.app, `/events?after=${first.next}&limit=2`, member.headers);
    expect(second.items).toHaveLength(2);
    expect(second.hasMore).toBe(true);
    const third = await getJson<FeedPage>(t.app, `/events?after=${second.next}&limit=2`, member.headers);
    expect(third.items).toHaveLength(1);
    expect(third).toMatchObject({ next: formatEventId(tag, head), hasMore: false });
    const all = [...first.items, ...second.items, ...third.items];
    expect(all.map(markOf)).toEqual(recorded.map((c) => c.data.mark));

    // Four from the second: the page is full at the head, and nothing more follows.
    const full = await getJson<FeedPage>(
      t.app,
      `/events?after=${first.items[0]?.id}&limit=4`,
      member.headers,
    );
    expect(full.items).toHaveLength(4);
    expect(full).toMatchObject({ next: formatEventId(tag, head), hasMore: false });
    // At the head: an empty page that stays there.
    expect(await getJson<FeedPage>(t.app, `/events?after=${full.next}`, member.headers)).toEqual({
      items: [],
      next: full.next,
      hasMore: false,
    });
  });

  it('takes limit 1–100, default 20', async () => {
    const { member, projectId } = await memberScene();
    const h0 = await headOf(t.app, member.headers);
    await record(
      t.app,
      Array.from({ length: 120 }, () => change(projectId)),
    );
    expect((await getJson<FeedPage>(t.app, `/events?after=${h0}`, member.headers)).items).toHaveLength(20);
    expect(
      (await getJson<FeedPage>(t.app, `/events?after=${h0}&limit=1`, member.headers)).items,
    ).toHaveLength(1);
    const max = await getJson<FeedPage>(t.app, `/events?after=${h0}&limit=100`, member.headers);
    expect(max.items).toHaveLength(100);
    expect(max.hasMore).toBe(true);
    for (const limit of ['0', '101', '-1', '1.5', 'ten', '']) {
      const res = await get(`/events?limit=${limit}`, member.headers);
      expectProblem(res, 422, 'validation_failed');
      expect(fieldItems(res).map(([pointer]) => pointer)).toEqual(['/query/limit']);
    }
    const twice = await get('/events?limit=2&limit=3', member.headers);
    expectProblem(twice, 422, 'validation_failed');
    expect(fieldItems(twice).map(([pointer]) => pointer)).toEqual(['/query/limit']);
    expectProblem(await get('/events?cursor=x', member.headers), 422, 'validation_failed');
    expectProblem(await get('/events/head?after=x', member.headers, 'v2'), 422, 'validation_failed');
  });

  it('scans at most 1,000 events a read: a page of none visible still advances next', async () => {
    const { member, projectId } = await memberScene();
    const other = await signedIn(t.app);
    const hidden = await createProject(t.app, other.user.id);
    const h0 = await headOf(t.app, member.headers);
    const start = (await state()).head;
    await record(
      t.app,
      Array.from({ length: SCAN_LIMIT + 500 }, () => change(hidden)),
    );
    const visible = change(projectId);
    await record(t.app, [visible]);
    const { tag, head } = await state();
    expect(head).toBe(start + SCAN_LIMIT + 501);

    const first = await getJson<FeedPage>(t.app, `/events?after=${h0}`, member.headers);
    expect(first).toEqual({ items: [], next: formatEventId(tag, start + SCAN_LIMIT), hasMore: true });
    const second = await getJson<FeedPage>(t.app, `/events?after=${first.next}`, member.headers);
    expect(second.items.map(markOf)).toEqual([visible.data.mark]);
    expect(second).toMatchObject({ next: formatEventId(tag, head), hasMore: false });
    // The other project's member is served them a page at a time.
    const theirs = await follow(t.app, other.headers, h0);
    expect(theirs.events.filter((e) => e.projectId === hidden)).toHaveLength(SCAN_LIMIT + 500);
    expect(theirs.events.some((e) => e.projectId === projectId)).toBe(false);
  });
});

describe('after', () => {
  it('omitted: from the oldest retained event', async () => {
    const { member, projectId } = await memberScene();
    const first = change(projectId, { mark: nextMark('pruned') });
    const kept = change(projectId, { mark: nextMark('kept') });
    expect(first.data.mark).not.toBe(kept.data.mark);
    await record(t.app, [first]);
    const prunedThrough = (await state()).head;
    await record(t.app, [kept]);
    // As the retention job leaves the log: events up to prunedThrough gone.
    await db().deleteFrom('events').where('position', '<=', prunedThrough).execute();
    await db().updateTable('event_log').set({ pruned_through: prunedThrough }).execute();
    const page = await getJson<FeedPage>(t.app, '/events?limit=100', member.headers);
    expect(page.items.map(markOf)).toEqual([kept.data.mark]);
    // `after` at the retention's edge is still served; one before it is gone.
    const { tag } = await state();
    const edge = await get(`/events?after=${formatEventId(tag, prunedThrough)}`, member.headers);
    expect(edge.statusCode).toBe(200);
    expectProblem(
      await get(`/events?after=${formatEventId(tag, prunedThrough - 1)}`, member.headers),
      410,
      'events_expired',
    );
  });

  it('malformed → 400 invalid_cursor, in both versions', async () => {
    const reader = await signedIn(t.app);
    const { tag } = await state();
    const malformed = [
      'x',
      'garbage-id',
      `${tag}-1`,
      `${tag}-00000000000000001`,
      // Upper-case hex (a tag of digits only has no upper case: 1 database in 40).
      `${/[a-f]/.test(tag) ? tag.toUpperCase() : 'ABCDEF01'}-0000000000000001`,
      `${tag}_0000000000000001`,
      ` ${tag}-0000000000000001`,
      `${tag}-000000000000000a`,
      '0000000000000001',
    ];
    for (const version of ['v1', 'v2'] as const) {
      for (const after of malformed) {
        const res = await get(`/events?after=${encodeURIComponent(after)}`, reader.headers, version);
        expectProblem(res, 400, 'invalid_cursor');
      }
    }
    // Past the schema's bound it is a 422 on /query/after, as any over-long query value.
    const long = await get(`/events?after=${'a'.repeat(65)}`, reader.headers);
    expectProblem(long, 422, 'validation_failed');
    expect(fieldItems(long).map(([pointer]) => pointer)).toEqual(['/query/after']);
  });

  it('of another database, newer than the head, or older than the retention → 410 events_expired', async () => {
    const { member, projectId } = await memberScene();
    await record(t.app, [change(projectId), change(projectId)]);
    const { tag, head } = await state();
    const otherTag = tag === '00000000' ? '00000001' : '00000000';
    const gone = [
      formatEventId(otherTag, head),
      formatEventId(otherTag, 0),
      formatEventId(tag, head + 1),
      `${tag}-9999999999999999`,
    ];
    for (const version of ['v1', 'v2'] as const) {
      for (const after of gone) {
        const res = await get(`/events?after=${after}`, member.headers, version);
        expectProblem(res, 410, 'events_expired');
      }
    }
    await db()
      .updateTable('event_log')
      .set({ pruned_through: head - 1 })
      .execute();
    try {
      expectProblem(
        await get(`/events?after=${formatEventId(tag, head - 2)}`, member.headers),
        410,
        'events_expired',
      );
      expect((await get(`/events?after=${formatEventId(tag, head - 1)}`, member.headers)).statusCode).toBe(
        200,
      );
      expect((await get(`/events?after=${formatEventId(tag, head)}`, member.headers)).statusCode).toBe(200);
    } finally {
      await db().updateTable('event_log').set({ pruned_through: 0 }).execute();
    }
  });
});
