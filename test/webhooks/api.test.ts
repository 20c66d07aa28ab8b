import { Writable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resolver } from '../../src/lib/dns.js';
import { bearer, issueKey, xApiKey } from '../api-keys/helpers.js';
import { fieldItems } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { addMember, createProject } from '../helpers/projects.js';

/**
 * The webhooks API (contract §8): CRUD of the caller's own, both list forms, the secret once,
 * tokens only, 20 per user, validation. URLs resolve with an injected resolver (no network).
 */

/** Every name resolves to one public address (example.org's); nothing here connects. */
const resolve: Resolver = async () => [{ address: '93.184.216.34', family: 4 }];

const lines: string[] = [];
const logStream = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    lines.push(chunk.toString());
    callback();
  },
});

let t: TestApp;
beforeAll(async () => {
  // Every log line the app writes, to show the secret is in none.
  t = await buildTestApp({ overrides: { resolve }, env: { LOG_LEVEL: 'trace' }, logStream });
});
afterAll(async () => t.close());

type Headers = Record<string, string>;
type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
const req = (method: Method, url: string, headers: Headers, payload?: object, version = 'v1') =>
  t.app.inject({ method, url: `/api/${version}${url}`, headers, ...(payload ? { payload } : {}) });

const URL_A = 'https://hooks.example.org/taskforge';

function expectProblem(res: LightMyRequestResponse, status: number, code: string) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json().code).toBe(code);
  expect(res.headers['cache-control']).toBe('no-store');
}

async function create(headers: Headers, body: object = {}) {
  const res = await req('POST', '/webhooks', headers, { url: URL_A, events: ['*'], ...body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; secret: string; createdAt: string; updatedAt: string };
}

const FIELDS = [
  'active',
  'createdAt',
  'description',
  'disabledReason',
  'events',
  'id',
  'lastDeliveryAt',
  'projectId',
  'updatedAt',
  'url',
];

describe('creating a webhook', () => {
  it('answers 201 with Location and the secret once; never again in a reply or a log line', async () => {
    const { user, headers } = await signedIn(t.app);
    const res = await req('POST', '/webhooks', headers, {
      url: URL_A,
      events: ['task.created', 'comment.deleted'],
      description: 'Our bot\nsecond line',
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual([...FIELDS, 'secret'].sort());
    expect(body).toMatchObject({
      url: URL_A,
      events: ['task.created', 'comment.deleted'],
      projectId: null,
      description: 'Our bot\nsecond line',
      active: true,
      disabledReason: null,
      lastDeliveryAt: null,
    });
    expect(body.createdAt).toBe(body.updatedAt);
    expect(body.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(body.secret.slice(6), 'base64url')).toHaveLength(32);
    expect(res.headers.location).toBe(`/api/v1/webhooks/${body.id}`);

    // Stored, for deliveries to sign with.
    const row = await t.db.handle.db
      .selectFrom('webhooks')
      .selectAll()
      .where('id', '=', body.id)
      .executeTakeFirstOrThrow();
    expect(row.secret).toBe(body.secret);
    expect(row.user_id).toBe(user.id);

    const one = await req('GET', `/webhooks/${body.id}`, headers);
    const v2 = await req('GET', `/webhooks/${body.id}`, headers, undefined, 'v2');
    const list = await req('GET', '/webhooks', headers);
    const cursorList = await req('GET', '/webhooks', headers, undefined, 'v2');
    const patched = await req('PATCH', `/webhooks/${body.id}`, headers, { description: 'renamed' });
    for (const r of [one, v2, list, cursorList, patched]) {
      expect(r.statusCode, r.body).toBe(200);
      expect(r.body).not.toContain(body.secret);
      expect(r.body).not.toContain('whsec_');
    }
    expect(one.json()).toEqual({ ...body, secret: undefined });
    expect(Object.keys(one.json()).sort()).toEqual(FIELDS);
    expect(list.json().items).toHaveLength(1);
    const { secret: _secret, ...publicPart } = body;
    expect(list.json().items[0]).toEqual(publicPart);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('')).not.toContain(body.secret);
    expect(lines.join('')).not.toContain(body.secret.slice(6));
  });

  it('gives each webhook its own secret', async () => {
    const { headers } = await signedIn(t.app);
    const a = await create(headers);
    const b = await create(headers);
    expect(a.secret).not.toBe(b.secret);
  });

  it('takes a project the caller may see, and refuses one it may not (422 not_found on /projectId)', async () => {
    const owner = await signedIn(t.app);
    const viewer = await signedIn(t.app);
    const stranger = await signedIn(t.app);
    const admin = await signedIn(t.app, 'admin');
    const projectId = await createProject(t.app, owner.user.id);
    await addMember(t.app, projectId, viewer.user.id, 'viewer');
    for (const who of [owner, viewer, admin]) {
      const res = await req('POST', '/webhooks', who.headers, { url: URL_A, events: ['*'], projectId });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json().projectId).toBe(projectId);
    }
    for (const id of [projectId, '0191d8a0-0000-7000-8000-000000000000']) {
      const refused = await req('POST', '/webhooks', stranger.headers, {
        url: URL_A,
        events: ['*'],
        projectId: id,
      });
      expectProblem(refused, 422, 'validation_failed');
      expect(fieldItems(refused)).toEqual([['/projectId', 'not_found']]);
    }
    const all = await req('POST', '/webhooks', stranger.headers, {
      url: URL_A,
      events: ['*'],
      projectId: null,
    });
    expect(all.statusCode).toBe(201);
    expect(all.json().projectId).toBeNull();
  });

  it.each([
    [{ events: [] }, [['/events', 'too_short']]],
    [{ events: ['task.created', 'task.created'] }, [['/events/1', 'duplicate']]],
    [{ events: ['*', 'task.created'] }, [['/events/0', 'enum']]],
    [{ events: ['*', '*'] }, [['/events/1', 'duplicate']]],
    [{ events: ['task.exploded'] }, [['/events/0', 'enum']]],
    [{ events: 'task.created' }, [['/events', 'type']]],
    [{ url: 123 }, [['/url', 'type']]],
    [{ url: 'not a url' }, [['/url', 'format']]],
    [{ url: 'ftp://hooks.example.org/x' }, [['/url', 'url_not_allowed']]],
    [{ url: 'https://user:pass@hooks.example.org/x' }, [['/url', 'url_not_allowed']]],
    [{ url: `https://hooks.example.org/${'a'.repeat(2000)}` }, [['/url', 'too_long']]],
    [{ description: 'x'.repeat(501) }, [['/description', 'too_long']]],
    [{ description: 'bell\u0007' }, [['/description', 'pattern']]],
    [{ description: null }, [['/description', 'type']]],
    [{ active: false }, [['/active', 'read_only']]],
    [{ secret: 'whsec_mine' }, [['/secret', 'read_only']]],
    [{ colour: 'red' }, [['/colour', 'unknown_field']]],
  ])('refuses %j with 422 %j', async (patch, items) => {
    const { headers } = await signedIn(t.app);
    const res = await req('POST', '/webhooks', headers, { url: URL_A, events: ['*'], ...patch });
    expectProblem(res, 422, 'validation_failed');
    expect(fieldItems(res)).toEqual(items);
  });

  it('lists every invalid field at once, the rules after the schema included', async () => {
    const { headers } = await signedIn(t.app);
    const res = await req('POST', '/webhooks', headers, {
      url: 'http://hooks.example.org/x',
      events: ['*', 'task.created'],
      projectId: '0191d8a0-0000-7000-8000-000000000000',
    });
    expectProblem(res, 422, 'validation_failed');
    expect(fieldItems(res)).toEqual([
      ['/url', 'url_not_allowed'],
      ['/events/0', 'enum'],
      ['/projectId', 'not_found'],
    ]);
    const missing = await req('POST', '/webhooks', headers, {});
    expectProblem(missing, 422, 'validation_failed');
    expect(fieldItems(missing).sort()).toEqual([
      ['/events', 'required'],
      ['/url', 'required'],
    ]);
  });

  it('keeps at most 20 per user (409 conflict), also when creations race', async () => {
    const { headers } = await signedIn(t.app);
    for (let i = 0; i < 17; i += 1) await create(headers);
    // Three places left, eight asking at once: exactly three win.
    const raced = await Promise.all(
      Array.from({ length: 8 }, () => req('POST', '/webhooks', headers, { url: URL_A, events: ['*'] })),
    );
    const statuses = raced.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([201, 201, 201, 409, 409, 409, 409, 409]);
    for (const r of raced.filter((x) => x.statusCode === 409)) expectProblem(r, 409, 'conflict');
    expectProblem(await req('POST', '/webhooks', headers, { url: URL_A, events: ['*'] }), 409, 'conflict');
    expect((await req('GET', '/webhooks', headers)).json().total).toBe(20);
    // Another user is not counted against this one; deleting one frees a place.
    await create((await signedIn(t.app)).headers);
    const first = (await req('GET', '/webhooks?size=1', headers)).json().items[0];
    expect((await req('DELETE', `/webhooks/${first.id}`, headers)).statusCode).toBe(204);
    await create(headers);
  });
});

describe('lists', () => {
  it('v1: pages of the caller’s own, newest first', async () => {
    const { headers } = await signedIn(t.app);
    await create((await signedIn(t.app)).headers);
    const made = [];
    for (let i = 0; i < 3; i += 1) made.push(await create(headers, { description: `n${i}` }));
    const first = await req('GET', '/webhooks?size=2', headers);
    expect(first.statusCode).toBe(200);
    expect(first.headers['cache-control']).toBe('no-store');
    expect(first.json()).toMatchObject({ total: 3, page: 1, size: 2, pages: 2 });
    const second = await req('GET', '/webhooks?size=2&page=2', headers);
    const ids = [...first.json().items, ...second.json().items].map((w: { id: string }) => w.id);
    expect(ids).toEqual(made.map((w) => w.id).reverse());
    expectProblem(await req('GET', '/webhooks?size=101', headers), 422, 'validation_failed');
    expectProblem(await req('GET', '/webhooks?colour=red', headers), 422, 'validation_failed');
  });

  it('v2: cursors bound to the caller, with Link', async () => {
    const { headers } = await signedIn(t.app);
    const other = await signedIn(t.app);
    const made = [];
    for (let i = 0; i < 3; i += 1) made.push(await create(headers));
    const first = await req('GET', '/webhooks?limit=2', headers, undefined, 'v2');
    expect(first.statusCode).toBe(200);
    expect(first.headers['cache-control']).toBe('no-store');
    const { items, nextCursor } = first.json();
    expect(items).toHaveLength(2);
    expect(nextCursor).toEqual(expect.any(String));
    expect(first.headers.link).toContain('rel="next"');
    const second = await req(
      'GET',
      `/webhooks?limit=2&cursor=${encodeURIComponent(nextCursor)}`,
      headers,
      undefined,
      'v2',
    );
    expect(second.json().nextCursor).toBeNull();
    expect(second.headers.link).toBeUndefined();
    const ids = [...items, ...second.json().items].map((w: { id: string }) => w.id);
    expect(ids).toEqual(made.map((w) => w.id).reverse());
    expectProblem(
      await req('GET', `/webhooks?cursor=${encodeURIComponent(nextCursor)}`, other.headers, undefined, 'v2'),
      400,
      'invalid_cursor',
    );
    expectProblem(
      await req('GET', '/webhooks?cursor=garbage', headers, undefined, 'v2'),
      400,
      'invalid_cursor',
    );
  });
});

describe('one webhook', () => {
  it('is changed by PATCH: url, events, description, active; active: true clears disabledReason', async () => {
    const { headers } = await signedIn(t.app);
    const made = await create(headers);
    const res = await req('PATCH', `/webhooks/${made.id}`, headers, {
      url: 'https://other.example.org/hook',
      events: ['project.deleted'],
      description: 'changed',
      active: false,
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toMatchObject({
      url: 'https://other.example.org/hook',
      events: ['project.deleted'],
      description: 'changed',
      active: false,
      disabledReason: null,
    });
    expect(res.json().updatedAt >= made.updatedAt).toBe(true);
    expect((await req('GET', `/webhooks/${made.id}`, headers)).json()).toEqual(res.json());

    // Turned off by the deliveries after 24 h of failures; the owner turns it back on.
    await t.db.handle.db
      .updateTable('webhooks')
      .set({ active: 0, disabled_reason: 'failing for 24 h' })
      .where('id', '=', made.id)
      .execute();
    const off = (await req('GET', `/webhooks/${made.id}`, headers)).json();
    expect(off).toMatchObject({ active: false, disabledReason: 'failing for 24 h' });
    const merge = await t.app.inject({
      method: 'PATCH',
      url: `/api/v2/webhooks/${made.id}`,
      headers: { ...headers, 'content-type': 'application/merge-patch+json' },
      payload: JSON.stringify({ active: true }),
    });
    expect(merge.statusCode, merge.body).toBe(200);
    expect(merge.json()).toMatchObject({ active: true, disabledReason: null });
  });

  it('keeps updatedAt when a PATCH changes nothing', async () => {
    const { headers } = await signedIn(t.app);
    const made = await create(headers, { description: 'same' });
    const res = await req('PATCH', `/webhooks/${made.id}`, headers, {
      url: URL_A,
      events: ['*'],
      description: 'same',
      active: true,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().updatedAt).toBe(made.updatedAt);
  });

  it.each([
    [{ projectId: null }, [['/projectId', 'read_only']]],
    [{ secret: 'x' }, [['/secret', 'read_only']]],
    [{ disabledReason: null }, [['/disabledReason', 'read_only']]],
    [{ active: 'yes' }, [['/active', 'type']]],
    [{ events: ['*', 'task.updated'] }, [['/events/0', 'enum']]],
    [{ url: 'http://hooks.example.org/x' }, [['/url', 'url_not_allowed']]],
    [{ name: 'x' }, [['/name', 'unknown_field']]],
  ])('PATCH refuses %j with 422 %j', async (body, items) => {
    const { headers } = await signedIn(t.app);
    const made = await create(headers);
    const res = await req('PATCH', `/webhooks/${made.id}`, headers, body);
    expectProblem(res, 422, 'validation_failed');
    expect(fieldItems(res)).toEqual(items);
  });

  it('is deleted with 204, then not found', async () => {
    const { headers } = await signedIn(t.app);
    const made = await create(headers);
    const res = await req('DELETE', `/webhooks/${made.id}`, headers);
    expect(res.statusCode).toBe(204);
    expect(res.headers['cache-control']).toBe('no-store');
    expectProblem(await req('GET', `/webhooks/${made.id}`, headers), 404, 'not_found');
    expectProblem(await req('DELETE', `/webhooks/${made.id}`, headers), 404, 'not_found');
    expectProblem(await req('PATCH', `/webhooks/${made.id}`, headers, { active: true }), 404, 'not_found');
  });

  it('is its owner’s only: anyone else, an admin too, gets 404 and it is not in their lists', async () => {
    const owner = await signedIn(t.app);
    const made = await create(owner.headers);
    for (const who of [
      await signedIn(t.app),
      await signedIn(t.app, 'admin'),
      await signedIn(t.app, 'guest'),
    ]) {
      expectProblem(await req('GET', `/webhooks/${made.id}`, who.headers), 404, 'not_found');
      expectProblem(
        await req('PATCH', `/webhooks/${made.id}`, who.headers, { active: false }),
        404,
        'not_found',
      );
      expectProblem(await req('DELETE', `/webhooks/${made.id}`, who.headers), 404, 'not_found');
      const list = (await req('GET', '/webhooks', who.headers)).json();
      expect(list.items.map((w: { id: string }) => w.id)).not.toContain(made.id);
    }
    const still = await req('GET', `/webhooks/${made.id}`, owner.headers);
    expect(still.json().active).toBe(true);
    // A malformed id is simply not found.
    expectProblem(await req('GET', `/webhooks/${'x'.repeat(300)}`, owner.headers), 404, 'not_found');
  });
});

describe('credentials', () => {
  it('refuses API keys on every route, whatever their scopes (403 forbidden), and no credentials (401)', async () => {
    const { headers } = await signedIn(t.app, 'admin');
    const made = await create(headers);
    const key = await issueKey(t.app, headers, ['tasks:read', 'tasks:write', 'projects:read', 'users:write']);
    const routes: [Method, string, object | undefined][] = [
      ['POST', '/webhooks', { url: URL_A, events: ['*'] }],
      ['GET', '/webhooks', undefined],
      ['GET', `/webhooks/${made.id}`, undefined],
      ['PATCH', `/webhooks/${made.id}`, { active: false }],
      ['DELETE', `/webhooks/${made.id}`, undefined],
    ];
    for (const [method, url, body] of routes) {
      for (const version of ['v1', 'v2']) {
        for (const keyHeaders of [bearer(key.key), xApiKey(key.key)]) {
          expectProblem(await req(method, url, keyHeaders, body, version), 403, 'forbidden');
        }
        expectProblem(await req(method, url, {}, body, version), 401, 'unauthorized');
      }
    }
    expect((await req('GET', `/webhooks/${made.id}`, headers)).json().active).toBe(true);
  });

  it('a deleted user’s webhooks go with it', async () => {
    const admin = await signedIn(t.app, 'admin');
    const { user, headers } = await signedIn(t.app);
    await create(headers);
    expect((await req('DELETE', `/users/${user.id}`, admin.headers)).statusCode).toBe(204);
    const rows = await t.db.handle.db
      .selectFrom('webhooks')
      .selectAll()
      .where('user_id', '=', user.id)
      .execute();
    expect(rows).toEqual([]);
  });
});

describe('an account taken over by ADMIN_EMAIL', () => {
  it('keeps none of the registrant’s webhooks (contract §2)', async () => {
    // An app of its own: no admin exists yet, so ensureAdmin takes the account over.
    const own = await buildTestApp({ overrides: { resolve } });
    try {
      const { user, headers } = await signedIn(own.app);
      const res = await own.app.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers,
        payload: { url: URL_A, events: ['*'] },
      });
      expect(res.statusCode).toBe(201);
      await own.app.ctx.services.users.ensureAdmin(user.email, 'bootstrap passphrase 2031', () => {});
      const rows = await own.db.handle.db
        .selectFrom('webhooks')
        .select('id')
        .where('user_id', '=', user.id)
        .execute();
      expect(rows).toEqual([]);
      const role = await own.db.handle.db
        .selectFrom('users')
        .select('role')
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      expect(role.role).toBe('admin');
    } finally {
      await own.close();
    }
  });
});
