import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIdempotencyKey } from '../../src/lib/idempotency.js';
import { cleanUp } from '../../src/modules/idempotency/cleanup.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn, uniqueEmail } from '../helpers/factories.js';

const dialect = process.env.TEST_DATABASE_URL ? 'postgres' : 'sqlite';
let t: TestApp;
let offset = 0;
const clock = () => Date.now() + offset;
let user: Awaited<ReturnType<typeof signedIn>>;
let other: Awaited<ReturnType<typeof signedIn>>;
let admin: Awaited<ReturnType<typeof signedIn>>;
let n = 0;
function fresh(): string {
  n += 1;
  return `key-${process.pid}-${Date.now()}-${n}`;
}

beforeAll(async () => {
  t = await buildTestApp({ clock });
  user = await signedIn(t.app);
  other = await signedIn(t.app);
  admin = await signedIn(t.app, 'admin');
});
afterAll(async () => {
  await t.close();
});

function post(url: string, headers: Record<string, string>, payload: unknown, version = 'v1') {
  return t.app.inject({ method: 'POST', url: `/api/${version}${url}`, headers, payload: payload as object });
}
async function taskCount(ownerId: string, title: string): Promise<number> {
  const rows = await t.db.handle.db
    .selectFrom('tasks')
    .select('id')
    .where('owner_id', '=', ownerId)
    .where('title', '=', title)
    .execute();
  return rows.length;
}

describe(`Idempotency-Key (${dialect})`, () => {
  it('replays the first reply of POST /tasks (status, body, Location, ETag) and creates nothing', async () => {
    const key = fresh();
    const h = { ...user.headers, 'idempotency-key': key };
    const first = await post('/tasks', h, { title: 'once', tags: ['a'] });
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    // Another key order and white space: the same parsed body.
    const again = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { ...h, 'content-type': 'application/json' },
      payload: '{ "tags" : ["a"],   "title": "once" }',
    });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toBe(first.body);
    expect(again.headers.location).toBe(first.headers.location);
    expect(again.headers.etag).toBe(first.headers.etag);
    expect(again.headers['content-type']).toBe(first.headers['content-type']);
    // A quoted key is the same key.
    const quoted = await post(
      '/tasks',
      { ...user.headers, 'idempotency-key': `"${key}"` },
      { title: 'once', tags: ['a'] },
    );
    expect(quoted.headers['idempotent-replayed']).toBe('true');
    expect(quoted.body).toBe(first.body);
    expect(await taskCount(user.user.id, 'once')).toBe(1);
  });

  it('covers POST /users, /auth/register, /projects and /tasks/{id}/comments, in both versions', async () => {
    const task = (await post('/tasks', user.headers, { title: 'commented' })).json() as { id: string };
    const cases: [string, Record<string, string>, unknown][] = [
      [
        '/users',
        admin.headers,
        { email: uniqueEmail('made'), password: 'correct horse battery staple', name: 'M' },
      ],
      [
        '/auth/register',
        {},
        { email: uniqueEmail('reg'), password: 'correct horse battery staple', name: 'R' },
      ],
      ['/projects', user.headers, { name: 'P' }],
      [`/tasks/${task.id}/comments`, user.headers, { body: 'hello' }],
    ];
    for (const version of ['v1', 'v2']) {
      for (const [url, headers, body] of cases) {
        const key = fresh();
        const payload = body;
        const h = { ...headers, 'idempotency-key': key };
        const first = await post(url, h, payload, version);
        expect(first.statusCode, `${version} ${url} ${first.body}`).toBe(201);
        const replay = await post(url, h, payload, version);
        expect(replay.statusCode, `${version} ${url}`).toBe(201);
        expect(replay.headers['idempotent-replayed'], `${version} ${url}`).toBe('true');
        expect(replay.body).toBe(first.body);
        expect(replay.headers.location).toBe(first.headers.location);
        // The other version is another route.
        const otherVersion = await post(url, h, payload, version === 'v1' ? 'v2' : 'v1');
        expect(otherVersion.statusCode, `${url} across versions`).toBe(422);
        expect(otherVersion.json().code).toBe('idempotency_key_reused');
      }
      // Emails are unique: new ones for v2.
      for (const c of cases) {
        const b = c[2] as { email?: string };
        if (b.email) b.email = uniqueEmail('again');
      }
    }
  });

  it('answers 422 idempotency_key_reused for another body and for another route', async () => {
    const h = { ...user.headers, 'idempotency-key': fresh() };
    expect((await post('/tasks', h, { title: 'a' })).statusCode).toBe(201);
    const body = await post('/tasks', h, { title: 'b' });
    expect(body.statusCode).toBe(422);
    expect(body.headers['content-type']).toContain('application/problem+json');
    expect(body.json().code).toBe('idempotency_key_reused');
    const route = await post('/projects', h, { name: 'a' });
    expect(route.statusCode).toBe(422);
    expect(route.json().code).toBe('idempotency_key_reused');
    expect(await taskCount(user.user.id, 'b')).toBe(0);
  });

  it('scopes keys per caller: the same key from two users makes two tasks', async () => {
    const key = fresh();
    const a = await post('/tasks', { ...user.headers, 'idempotency-key': key }, { title: 'scoped' });
    const b = await post('/tasks', { ...other.headers, 'idempotency-key': key }, { title: 'scoped' });
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(201);
    expect(b.headers['idempotent-replayed']).toBeUndefined();
    expect(b.json().id).not.toBe(a.json().id);
  });

  it('answers 400 invalid_idempotency_key for a malformed key, and accepts the edges', async () => {
    const bad = [
      '',
      '"',
      '""',
      '"abc',
      'a\u00e9',
      '\u0001x',
      'x'.repeat(256),
      `"${'x'.repeat(256)}"`,
      '"a"b"',
      '"a\\b"',
    ];
    for (const value of bad) expect(parseIdempotencyKey(value), JSON.stringify(value)).toBeNull();
    expect(parseIdempotencyKey('x'.repeat(255))).toBe('x'.repeat(255));
    expect(parseIdempotencyKey('"a\\"b\\\\c"')).toBe('a"b\\c');
    expect(parseIdempotencyKey('a b~!')).toBe('a b~!');
    const res = await post(
      '/tasks',
      { ...user.headers, 'idempotency-key': 'x'.repeat(256) },
      { title: 'bad key' },
    );
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('invalid_idempotency_key');
    expect(await taskCount(user.user.id, 'bad key')).toBe(0);
  });

  it('ignores the header on other routes', async () => {
    const task = (await post('/tasks', user.headers, { title: 'patched' })).json() as { id: string };
    const res = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/tasks/${task.id}`,
      headers: { ...user.headers, 'idempotency-key': 'x'.repeat(300) },
      payload: { title: 'patched 2' },
    });
    expect(res.statusCode).toBe(200);
  });

  it('records nothing for replies that never reached the handler (401, schema 422, 415, 413)', async () => {
    const key = fresh();
    const h = { ...user.headers, 'idempotency-key': key };
    expect((await post('/tasks', { 'idempotency-key': key }, { title: 'x' })).statusCode).toBe(401);
    expect((await post('/tasks', h, { title: 123 })).statusCode).toBe(422);
    const text = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { ...h, 'content-type': 'text/plain' },
      payload: 'hi',
    });
    expect(text.statusCode).toBe(415);
    expect((await post('/tasks', h, { title: 'x'.repeat(70_000) })).statusCode).toBe(413);
    // The key is still free for a first real request.
    const ok = await post('/tasks', h, { title: 'after refusals' });
    expect(ok.statusCode).toBe(201);
    expect(ok.headers['idempotent-replayed']).toBeUndefined();
  });

  it('frees the key after a refusal by the handler: a retry is decided afresh', async () => {
    const key = fresh();
    const email = uniqueEmail('taken');
    const h = { ...admin.headers, 'idempotency-key': key };
    const body = { email, password: 'correct horse battery staple', name: 'T' };
    await post('/users', admin.headers, body);
    const refused = await post('/users', h, body);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('email_taken');
    const rows = await t.db.handle.db.selectFrom('idempotency_keys').select('key_hash').execute();
    const before = rows.length;
    const retried = await post('/users', h, body);
    expect(retried.statusCode).toBe(409);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect((await t.db.handle.db.selectFrom('idempotency_keys').select('key_hash').execute()).length).toBe(
      before,
    );
  });

  it('answers 409 idempotency_in_progress while the first request holds the lease, and lets a retry take it after 60 s', async () => {
    const key = fresh();
    const h = { ...user.headers, 'idempotency-key': key };
    // A request that claimed the key and died before storing anything.
    const service = t.app.ctx.services.idempotency;
    const fingerprint = service.fingerprint({
      method: 'POST',
      route: '/api/v1/tasks',
      params: {},
      body: { title: 'leased' },
    });
    const claim = await service.claim(`user:${user.user.id}`, key, fingerprint);
    expect('lease' in claim).toBe(true);
    const busy = await post('/tasks', h, { title: 'leased' });
    expect(busy.statusCode).toBe(409);
    expect(busy.json().code).toBe('idempotency_in_progress');
    expect(busy.headers['retry-after']).toBe('1');
    offset += 61_000;
    try {
      const taken = await post('/tasks', h, { title: 'leased' });
      expect(taken.statusCode).toBe(201);
      // The dead request's lease cannot complete any more: its transaction rolls back.
      if ('lease' in claim) {
        await expect(
          t.app.ctx.database.db
            .transaction()
            .execute((trx) => claim.lease.complete(trx, { status: 201, headers: {}, body: '{}' })),
        ).rejects.toMatchObject({ code: 'idempotency_in_progress' });
      }
      const replay = await post('/tasks', h, { title: 'leased' });
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toBe(taken.body);
      expect(await taskCount(user.user.id, 'leased')).toBe(1);
    } finally {
      offset -= 61_000;
    }
  });

  it('concurrent identical requests: exactly one creates, the others get 409 or the replay', async () => {
    const h = { ...user.headers, 'idempotency-key': fresh() };
    const replies = await Promise.all(
      Array.from({ length: 8 }, () => post('/tasks', h, { title: 'racing' })),
    );
    const created = replies.filter((r) => r.statusCode === 201 && !r.headers['idempotent-replayed']);
    expect(created).toHaveLength(1);
    for (const r of replies) {
      if (r.statusCode === 201) expect(r.body).toBe(created[0]?.body);
      else expect(r.json().code).toBe('idempotency_in_progress');
    }
    expect(await taskCount(user.user.id, 'racing')).toBe(1);
  });

  it('expires after 24 h (no replay, even before cleanup); the cleanup job deletes expired records', async () => {
    const key = fresh();
    const h = { ...user.headers, 'idempotency-key': key };
    const first = await post('/tasks', h, { title: 'expiring' });
    expect(first.statusCode).toBe(201);
    offset += 24 * 60 * 60_000 + 1000;
    try {
      const later = await post('/tasks', h, { title: 'expiring' });
      expect(later.statusCode).toBe(201);
      expect(later.headers['idempotent-replayed']).toBeUndefined();
      expect(later.json().id).not.toBe(first.json().id);
      // Another record, made now, expires a day later than the cleanup's "now".
      const kept = await post('/tasks', { ...user.headers, 'idempotency-key': fresh() }, { title: 'kept' });
      expect(kept.statusCode).toBe(201);
      const count = async () =>
        (await t.db.handle.db.selectFrom('idempotency_keys').select('key_hash').execute()).length;
      const before = await count();
      const deleted = await cleanUp(t.app.ctx, clock() + 24 * 60 * 60_000 - 10_000);
      expect(deleted).toBeGreaterThan(0);
      expect(await count()).toBe(before - deleted);
      expect(await count()).toBeGreaterThan(0);
      expect(await cleanUp(t.app.ctx, clock() + 24 * 60 * 60_000 + 60_000)).toBeGreaterThan(0);
      expect(await count()).toBe(0);
    } finally {
      offset -= 24 * 60 * 60_000 + 1000;
    }
  });

  it('documents the header, its replies and Idempotent-Replayed on the five routes of each version', async () => {
    const doc = (await t.app.inject({ url: '/openapi.json' })).json() as {
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: { name: string; in: string; schema: { pattern?: string } }[];
            responses: Record<string, { headers?: Record<string, unknown> }>;
          }
        >
      >;
    };
    for (const version of ['v1', 'v2']) {
      for (const path of ['/tasks', '/users', '/auth/register', '/projects', '/tasks/{id}/comments']) {
        const op = doc.paths[`/api/${version}${path}`]?.post;
        expect(op, path).toBeDefined();
        const param = op?.parameters?.find((p) => p.name.toLowerCase() === 'idempotency-key');
        expect(param?.in, path).toBe('header');
        expect(param?.schema.pattern).toBeDefined();
        for (const status of ['400', '409', '422'])
          expect(op?.responses[status], `${path} ${status}`).toBeDefined();
        expect(op?.responses['201']?.headers?.['Idempotent-Replayed'], path).toBeDefined();
      }
      expect(
        doc.paths[`/api/${version}/tasks/{id}`]?.patch?.parameters?.some((p) => p.name === 'idempotency-key'),
      ).toBe(false);
    }
  });
});
