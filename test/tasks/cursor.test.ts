import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';

/** Version 2 lists: cursor pages that add up to exactly the version 1 list, in the same order. */
let t: TestApp;
let user: Awaited<ReturnType<typeof signedIn>>;
let other: Awaited<ReturnType<typeof signedIn>>;
let admin: Awaited<ReturnType<typeof signedIn>>;

interface Page {
  items: { id: string; title: string }[];
  nextCursor: string | null;
}

beforeAll(async () => {
  t = await buildTestApp();
  user = await signedIn(t.app);
  other = await signedIn(t.app);
  admin = await signedIn(t.app, 'admin');
  const dues = ['2031-01-01T00:00:00Z', '2031-01-01T00:00:00Z', null, '2030-06-01T00:00:00Z', null];
  for (let i = 0; i < 23; i += 1) {
    // Owned by the user, or owned by the other and assigned to the user: both kinds interleave.
    const owner = i % 3 === 0 ? other : user;
    await t.app.inject({
      method: 'POST',
      url: '/api/v2/tasks',
      headers: owner.headers,
      payload: {
        title: ['b', 'a', 'B', 'é', '😀'][i % 5] ?? 'x',
        priority: ['low', 'medium', 'high'][i % 3],
        dueAt: dues[i % 5],
        ...(owner === other ? { assigneeId: user.user.id } : {}),
      },
    });
  }
});
afterAll(async () => t.close());

async function get(url: string, headers: Record<string, string>) {
  return t.app.inject({ method: 'GET', url, headers });
}

async function walk(query: string, headers: Record<string, string>, limit: number): Promise<string[]> {
  const ids: string[] = [];
  let url = `/api/v2/tasks?limit=${limit}${query ? `&${query}` : ''}`;
  for (let n = 0; n < 100; n += 1) {
    const res = await get(url, headers);
    expect(res.statusCode).toBe(200);
    const page = res.json() as Page;
    ids.push(...page.items.map((item) => item.id));
    if (!page.nextCursor) {
      expect(res.headers.link).toBeUndefined();
      return ids;
    }
    expect(page.items).toHaveLength(limit);
    const link = String(res.headers.link);
    expect(link).toMatch(/^<http:\/\/127\.0\.0\.1:3000\/api\/v2\/tasks\?.*cursor=.*>; rel="next"$/);
    url = link.slice(link.indexOf('/api/v2'), link.indexOf('>'));
  }
  throw new Error('the walk did not end');
}

describe('GET /api/v2/tasks', () => {
  const sorts = [
    '',
    'sort=createdAt',
    'sort=-dueAt',
    'sort=dueAt',
    'sort=priority',
    'sort=-priority',
    'sort=title',
    'sort=-updatedAt',
  ];
  it.each(sorts)('walks %s page by page to exactly the version 1 list', async (query) => {
    for (const who of [user, admin]) {
      const v1 = (await get(`/api/v1/tasks?size=100${query ? `&${query}` : ''}`, who.headers)).json() as Page;
      expect(await walk(query, who.headers, 4)).toEqual(v1.items.map((item) => item.id));
    }
  });

  it('applies the filters to every page', async () => {
    const v1 = (
      await get('/api/v1/tasks?size=100&priority=high,low&sort=title', user.headers)
    ).json() as Page;
    expect(await walk('priority=high,low&sort=title', user.headers, 3)).toEqual(v1.items.map((i) => i.id));
  });

  it('answers an empty list with no cursor and no Link', async () => {
    const res = await get('/api/v2/tasks?q=nothing-matches-this', user.headers);
    expect(res.json()).toEqual({ items: [], nextCursor: null });
    expect(res.headers.link).toBeUndefined();
  });

  it('binds a cursor to the caller, the filters and the sort, but not to the limit', async () => {
    const first = (await get('/api/v2/tasks?limit=2&sort=title', user.headers)).json() as Page;
    const cursor = encodeURIComponent(first.nextCursor ?? '');
    expect((await get(`/api/v2/tasks?limit=5&sort=title&cursor=${cursor}`, user.headers)).statusCode).toBe(
      200,
    );
    for (const [url, headers] of [
      [`/api/v2/tasks?sort=-title&cursor=${cursor}`, user.headers],
      [`/api/v2/tasks?sort=title&status=todo&cursor=${cursor}`, user.headers],
      [`/api/v2/tasks?sort=title&cursor=${cursor}`, other.headers],
    ] as const) {
      const res = await get(url, headers);
      expect(res.statusCode, url).toBe(400);
      expect(res.json().code).toBe('invalid_cursor');
    }
  });

  it('refuses forged, tampered and malformed cursors with 400 invalid_cursor', async () => {
    const first = (await get('/api/v2/tasks?limit=2', user.headers)).json() as Page;
    const real = first.nextCursor ?? '';
    const [payload = '', mac = ''] = real.split('.');
    const forgedPayload = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(payload, 'base64url').toString()),
        p: { v: '9999', id: 'x' },
      }),
    ).toString('base64url');
    for (const cursor of [
      'abc',
      `${payload}.`,
      `${forgedPayload}.${mac}`,
      `${real}x`,
      `${real}.more`,
      '%00',
    ]) {
      const res = await get(`/api/v2/tasks?cursor=${encodeURIComponent(cursor)}`, user.headers);
      expect(res.statusCode, cursor).toBe(400);
      expect(res.json().code).toBe('invalid_cursor');
    }
  });

  it('checks limit (1–100) and refuses v1 page parameters', async () => {
    for (const [query, pointer] of [
      ['limit=0', '/query/limit'],
      ['limit=101', '/query/limit'],
      ['page=2', '/query/page'],
      ['size=10', '/query/size'],
    ]) {
      const res = await get(`/api/v2/tasks?${query}`, user.headers);
      expect(res.statusCode, query).toBe(422);
      expect(res.json().errors[0].pointer).toBe(pointer);
    }
  });

  it('walking the default sort neither repeats nor skips a task that existed when the walk began', async () => {
    const before = ((await get('/api/v1/tasks?size=100', user.headers)).json() as Page).items.map(
      (i) => i.id,
    );
    const seen: string[] = [];
    let url = '/api/v2/tasks?limit=5';
    for (let n = 0; n < 20 && url; n += 1) {
      const page = (await get(url, user.headers)).json() as Page;
      seen.push(...page.items.map((i) => i.id));
      // New tasks arrive during the walk.
      await t.app.inject({
        method: 'POST',
        url: '/api/v2/tasks',
        headers: user.headers,
        payload: { title: `new ${n}` },
      });
      url = page.nextCursor ? `/api/v2/tasks?limit=5&cursor=${encodeURIComponent(page.nextCursor)}` : '';
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(before);
  });
});

describe('GET /api/v2/users', () => {
  it('walks newest first to exactly the version 1 list, for admins only', async () => {
    const v1 = (await get('/api/v1/users?size=100', admin.headers)).json() as Page;
    const ids: string[] = [];
    let url = '/api/v2/users?limit=2';
    for (let n = 0; n < 50 && url; n += 1) {
      const res = await get(url, admin.headers);
      const page = res.json() as Page;
      ids.push(...page.items.map((i) => i.id));
      const link = res.headers.link ? String(res.headers.link) : '';
      url = link ? link.slice(link.indexOf('/api/v2'), link.indexOf('>')) : '';
    }
    expect(ids).toEqual(v1.items.map((i) => i.id));
    expect((await get('/api/v2/users', user.headers)).statusCode).toBe(403);
  });
});
