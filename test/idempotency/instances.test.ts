import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedIn } from '../helpers/factories.js';
import { type Instances, twoInstances } from '../helpers/instances.js';

/**
 * Issue 12 item 5: an idempotent POST retried on another instance replays. Keys live in the
 * database both instances share (a SQLite file, or one PostgreSQL schema), never in a process.
 */

const dialect = process.env.TEST_DATABASE_URL ? 'postgres' : 'sqlite';
let instances: Instances;
beforeAll(async () => {
  instances = await twoInstances({});
});
afterAll(async () => {
  await instances.close();
});

describe(`Idempotency-Key across two instances (${dialect})`, () => {
  it('a create made on a replays on b: same status, body, Location and ETag, and no second task', async () => {
    const { a, b } = instances;
    const user = await signedIn(a);
    const h = { ...user.headers, 'idempotency-key': 'across-instances' };
    const post = (app: typeof a, payload: object) =>
      app.inject({ method: 'POST', url: '/api/v2/tasks', headers: h, payload });
    const first = await post(a, { title: 'made on a' });
    expect(first.statusCode).toBe(201);
    const replay = await post(b, { title: 'made on a' });
    expect(replay.statusCode).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toBe(first.body);
    expect(replay.headers.location).toBe(first.headers.location);
    expect(replay.headers.etag).toBe(first.headers.etag);
    // b fingerprints requests like a (the key is derived from the shared JWT_SECRET).
    const other = await post(b, { title: 'another body' });
    expect(other.statusCode).toBe(422);
    expect(other.json().code).toBe('idempotency_key_reused');
    const rows = await a.ctx.database.db
      .selectFrom('tasks')
      .select('id')
      .where('owner_id', '=', user.user.id)
      .execute();
    expect(rows.map((row) => row.id)).toEqual([first.json().id]);
  });

  it('a key held on a is in progress on b; the same request sent to both at once creates one task', async () => {
    const { a, b } = instances;
    const user = await signedIn(a);
    const service = a.ctx.services.idempotency;
    const body = { title: 'held on a' };
    const claim = await service.claim(
      `user:${user.user.id}`,
      'held',
      service.fingerprint({ method: 'POST', route: '/api/v1/tasks', params: {}, body }),
    );
    expect('lease' in claim).toBe(true);
    const busy = await b.inject({
      method: 'POST',
      url: '/api/v1/tasks',
      headers: { ...user.headers, 'idempotency-key': 'held' },
      payload: body,
    });
    expect(busy.statusCode).toBe(409);
    expect(busy.json().code).toBe('idempotency_in_progress');

    const h = { ...user.headers, 'idempotency-key': 'raced' };
    const replies = await Promise.all(
      [a, b, a, b, a, b].map((app) =>
        app.inject({ method: 'POST', url: '/api/v1/tasks', headers: h, payload: { title: 'raced' } }),
      ),
    );
    const created = replies.filter((r) => r.statusCode === 201 && !r.headers['idempotent-replayed']);
    expect(created).toHaveLength(1);
    for (const r of replies) {
      if (r.statusCode === 201) expect(r.body).toBe(created[0]?.body);
      else expect(r.json().code, r.body).toBe('idempotency_in_progress');
    }
    const rows = await a.ctx.database.db
      .selectFrom('tasks')
      .select('id')
      .where('owner_id', '=', user.user.id)
      .where('title', '=', 'raced')
      .execute();
    expect(rows).toHaveLength(1);
  });
});
