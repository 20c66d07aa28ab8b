import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { parseRaw, rawRequest } from '../helpers/http.js';

/**
 * Contract §4: replies that never reached the handler (401, 403, 413, 415, a schema 422, 429) and
 * failures (5xx) are not recorded, so the same key succeeds later; two Idempotency-Key header
 * lines are a bad key. (test/idempotency/idempotency.test.ts covers 401, 422, 415 and 413.)
 */

const dialect = process.env.TEST_DATABASE_URL ? 'postgres' : 'sqlite';
let t: TestApp;
let n = 0;
function fresh(): string {
  n += 1;
  return `unrecorded-${process.pid}-${Date.now()}-${n}`;
}

beforeAll(async () => {
  t = await buildTestApp();
});
afterAll(async () => {
  await t.close();
});

function postTask(headers: Record<string, string>, payload: object, app = t.app) {
  return app.inject({ method: 'POST', url: '/api/v1/tasks', headers, payload });
}
async function tasksTitled(ownerId: string, title: string, app = t): Promise<string[]> {
  const rows = await app.db.handle.db
    .selectFrom('tasks')
    .select('id')
    .where('owner_id', '=', ownerId)
    .where('title', '=', title)
    .execute();
  return rows.map((row) => row.id);
}
/** The record of a user's key, as the service names it (SHA-256 of the caller and the key). */
async function recordOf(userId: string, key: string, app = t) {
  const keyHash = createHash('sha256').update(`user:${userId}\n${key}`).digest('hex');
  return app.db.handle.db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('key_hash', '=', keyHash)
    .executeTakeFirst();
}

/** Runs `statement` in the test's database, and its PostgreSQL form there. */
async function exec(sqlite: string, postgres: string): Promise<void> {
  await sql.raw(t.db.schema ? postgres : sqlite).execute(t.db.handle.db);
}

describe(`Idempotency-Key: what is not recorded (${dialect})`, () => {
  it('a 429 claims nothing: once the window has passed, the same key creates', async () => {
    const limited = await buildTestApp({ env: { RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW: '1s' } });
    try {
      const user = await signedIn(limited.app);
      // Spend the budget, then ask with the key (again if the window turned in between).
      let key = '';
      let first = null;
      for (let attempt = 0; attempt < 3 && first?.statusCode !== 429; attempt++) {
        key = fresh();
        await postTask(user.headers, { title: 'spend' }, limited.app);
        await postTask(user.headers, { title: 'spend' }, limited.app);
        first = await postTask(
          { ...user.headers, 'idempotency-key': key },
          { title: 'after 429' },
          limited.app,
        );
      }
      expect(first?.statusCode).toBe(429);
      expect(first?.json().code).toBe('rate_limited');
      const h = { ...user.headers, 'idempotency-key': key };
      let created = first;
      // Asking again with the key until the next window lets it through: each 429 leaves no record.
      for (let waited = 0; created?.statusCode === 429 && waited < 100; waited++) {
        expect(await recordOf(user.user.id, key, limited)).toBeUndefined();
        await new Promise((resolve) => setTimeout(resolve, 100));
        created = await postTask(h, { title: 'after 429' }, limited.app);
      }
      expect(created?.statusCode).toBe(201);
      expect(created?.headers['idempotent-replayed']).toBeUndefined();
      expect(await tasksTitled(user.user.id, 'after 429', limited)).toEqual([created?.json().id]);
    } finally {
      await limited.close();
    }
  });

  it('a 403 claims nothing: once the caller may create, the same key creates', async () => {
    const guest = await signedIn(t.app, 'guest');
    const admin = await signedIn(t.app, 'admin');
    const key = fresh();
    const h = { ...guest.headers, 'idempotency-key': key };
    const refused = await postTask(h, { title: 'after 403' });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('forbidden');
    expect(await recordOf(guest.user.id, key)).toBeUndefined();
    const promoted = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/users/${guest.user.id}`,
      headers: admin.headers,
      payload: { role: 'user' },
    });
    expect(promoted.statusCode).toBe(200);
    const created = await postTask(h, { title: 'after 403' });
    expect(created.statusCode).toBe(201);
    expect(created.headers['idempotent-replayed']).toBeUndefined();
    expect((await postTask(h, { title: 'after 403' })).headers['idempotent-replayed']).toBe('true');
    expect(await tasksTitled(guest.user.id, 'after 403')).toEqual([created.json().id]);
  });

  it('a 500 from a failing statement in the create frees the key: a retry creates once', async () => {
    const user = await signedIn(t.app);
    const title = `fails once ${fresh()}`;
    await exec(
      `create trigger unrecorded_fail before insert on tasks when new.title = '${title}'
        begin select raise(abort, 'unrecorded: injected failure'); end`,
      `create function unrecorded_fail() returns trigger language plpgsql as $$
        begin if new.title = '${title}' then raise exception 'unrecorded: injected failure'; end if; return new; end $$;
       create trigger unrecorded_fail before insert on tasks for each row execute function unrecorded_fail()`,
    );
    const key = fresh();
    const h = { ...user.headers, 'idempotency-key': key };
    try {
      const failed = await postTask(h, { title });
      expect(failed.statusCode).toBe(500);
      expect(failed.headers['content-type']).toContain('application/problem+json');
      expect(failed.json().code).toBe('internal_error');
      expect(await recordOf(user.user.id, key)).toBeUndefined();
      expect(await tasksTitled(user.user.id, title)).toEqual([]);
    } finally {
      await exec('drop trigger unrecorded_fail', 'drop function unrecorded_fail cascade');
    }
    const retried = await postTask(h, { title });
    expect(retried.statusCode).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    const replay = await postTask(h, { title });
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toBe(retried.body);
    expect(await tasksTitled(user.user.id, title)).toEqual([retried.json().id]);
  });

  it('the reply is stored in the transaction of the create: when a later statement fails, neither is left', async () => {
    const user = await signedIn(t.app);
    const title = `stored with its task ${fresh()}`;
    // The change log's events are the create's last statements, after the reply was stored.
    await exec(
      `create trigger unrecorded_event before insert on events
        when new.type = 'task.created' and new.data like '%${title}%'
        begin select raise(abort, 'unrecorded: injected failure'); end`,
      `create function unrecorded_event() returns trigger language plpgsql as $$
        begin if new.type = 'task.created' and new.data like '%${title}%' then
          raise exception 'unrecorded: injected failure'; end if; return new; end $$;
       create trigger unrecorded_event before insert on events for each row
         execute function unrecorded_event()`,
    );
    const key = fresh();
    const h = { ...user.headers, 'idempotency-key': key };
    try {
      const failed = await postTask(h, { title });
      expect(failed.statusCode).toBe(500);
      expect(await tasksTitled(user.user.id, title)).toEqual([]);
      // Neither a stored reply (a retry would replay a task that does not exist) nor a lease.
      expect(await recordOf(user.user.id, key)).toBeUndefined();
    } finally {
      await exec('drop trigger unrecorded_event', 'drop function unrecorded_event cascade');
    }
    const retried = await postTask(h, { title });
    expect(retried.statusCode).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(await tasksTitled(user.user.id, title)).toEqual([retried.json().id]);
  });

  it('two Idempotency-Key header lines are a bad key (400), whatever they hold, and create nothing', async () => {
    const user = await signedIn(t.app);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const address = t.app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const body = JSON.stringify({ title: 'two keys' });
    for (const [first, second] of [
      ['same-key', 'same-key'],
      ['one-key', 'another-key'],
      ['"quoted"', 'quoted'],
    ]) {
      const raw = await rawRequest(
        port,
        [
          'POST /api/v1/tasks HTTP/1.1',
          `Host: 127.0.0.1:${port}`,
          `Authorization: ${user.headers.authorization}`,
          'Content-Type: application/json',
          `Idempotency-Key: ${first}`,
          `idempotency-key: ${second}`,
          `Content-Length: ${Buffer.byteLength(body)}`,
          'Connection: close',
          '',
          body,
        ].join('\r\n'),
      );
      const res = parseRaw(raw);
      expect(res.status, `${first} + ${second}`).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(JSON.parse(res.body).code).toBe('invalid_idempotency_key');
    }
    // One line with a comma in it is one key.
    const one = await postTask({ ...user.headers, 'idempotency-key': 'one, key' }, { title: 'two keys' });
    expect(one.statusCode).toBe(201);
    expect(await tasksTitled(user.user.id, 'two keys')).toEqual([one.json().id]);
  });
});
