import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/migrator.js';
import { createDurableTestDatabase, type TestDatabase, testDatabaseUrl } from '../helpers/database.js';
import { PASSWORD, uniqueEmail } from '../helpers/factories.js';
import { freePort } from '../helpers/free-port.js';
import { serverAnswers, startServerProcess } from '../helpers/server-process.js';
import { until } from '../helpers/wait.js';

/**
 * Issue 12, "How it is checked": concurrent creates with Idempotency-Keys, the server killed
 * with SIGKILL mid-flight, restarted on the same database, every request retried with its key
 * until it has a final answer. Every task acknowledged before the kill exists once and replays;
 * no retry makes a second one. A request killed between its claim and its commit leaves a lease
 * that answers 409 until it ends (60 s, contract §4): the test ends those leases in the
 * database, as the clock would, rather than waiting a minute.
 */

const dialect = testDatabaseUrl ? 'postgres' : 'sqlite';
const REQUESTS = 50;
/** The test's own requests are not what is limited here. */
const UNLIMITED = {
  RATE_LIMIT_MAX: '1000000',
  AUTH_RATE_LIMIT_MAX: '1000000',
  LOGIN_FAILURES_MAX: '1000000',
};
interface Answer {
  status: number;
  replayed: boolean;
  code: string | null;
  id: string | null;
  body: string;
}

/** One POST /tasks with its key; null when the connection failed (the server died or is not up). */
async function createTask(port: number, token: string, i: number): Promise<Answer | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/tasks`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'idempotency-key': keyOf(i),
      },
      body: JSON.stringify({ title: titleOf(i) }),
    });
    const body = await res.text();
    const json = JSON.parse(body) as { id?: string; code?: string };
    return {
      status: res.status,
      replayed: res.headers.get('idempotent-replayed') === 'true',
      code: json.code ?? null,
      id: res.status === 201 ? (json.id ?? null) : null,
      body,
    };
  } catch {
    return null;
  }
}

const keyOf = (i: number) => `kill-${i}`;
const isSlow = (i: number) => i % 10 === 9;
const titleOf = (i: number) => `${isSlow(i) ? 'slow' : 'fast'} create ${i}`;

/**
 * Makes the insert of a task titled `slow …` take seconds: PostgreSQL sleeps in a trigger;
 * SQLite, which has no sleep, counts a large cross join in one (and the server, whose SQLite
 * calls are synchronous, is busy with it meanwhile). A request killed then has claimed its key
 * and not committed its task.
 */
async function slowCreates(db: TestDatabase): Promise<void> {
  if (db.schema) {
    const fn = sql.id(db.schema, 'kill_test_slow');
    await sql`create function ${fn}() returns trigger language plpgsql as $$
      begin perform pg_sleep(3); return new; end $$`.execute(db.handle.db);
    await sql`create trigger kill_test_slow before insert on tasks for each row
      when (new.title like 'slow %') execute function ${fn}()`.execute(db.handle.db);
    return;
  }
  await sql`create table kill_test_pad (n integer)`.execute(db.handle.db);
  await sql`insert into kill_test_pad
    with recursive c(x) as (select 1 union all select x + 1 from c where x < 300) select x from c`.execute(
    db.handle.db,
  );
  await sql`create trigger kill_test_slow before insert on tasks when new.title like 'slow %'
    begin select count(*) from kill_test_pad a, kill_test_pad b, kill_test_pad c where a.n + b.n + c.n < 0; end`.execute(
    db.handle.db,
  );
}

/** Every create at its own pace again (PostgreSQL: once the killed server's sleeping statements end). */
async function fastCreates(db: TestDatabase): Promise<void> {
  await sql`drop trigger kill_test_slow${db.schema ? sql` on tasks` : sql``}`.execute(db.handle.db);
}

describe(`Idempotency-Key across kill -9 (${dialect})`, () => {
  it('every acknowledged create exists once, and retries after the restart make no second one', async () => {
    const db = await createDurableTestDatabase('kill');
    const url = db.url;
    if (!url) throw new Error('the test database has no URL for a child process');
    await migrateToLatest(db.handle);
    const port = await freePort();
    try {
      const first = startServerProcess(url, port, UNLIMITED);
      await serverAnswers(port, '/health/ready', 60_000);
      const base = `http://127.0.0.1:${port}/api/v1`;
      const email = uniqueEmail('kill');
      const registered = await fetch(`${base}/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: PASSWORD, name: 'Killed' }),
      });
      expect(registered.status).toBe(201);
      const userId = ((await registered.json()) as { id: string }).id;
      const loggedIn = await fetch(`${base}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: PASSWORD }),
      });
      const token = ((await loggedIn.json()) as { accessToken: string }).accessToken;

      // All at once. Every tenth create is slowed in the database (see slowCreates), so the kill
      // always finds requests between their claim and their commit; it comes once one create was
      // acknowledged and one slowed request holds its key, while the others are anywhere in flight.
      await slowCreates(db);
      const acknowledged = new Map<number, Answer>();
      const hashOf = (i: number) =>
        createHash('sha256')
          .update(`user:${userId}\n${keyOf(i)}`)
          .digest('hex');
      const slowHashes = Array.from({ length: REQUESTS }, (_, i) => i)
        .filter(isSlow)
        .map(hashOf);
      const killer = (async () => {
        await until(async () => {
          if (acknowledged.size === 0) return false;
          const held = await db.handle.db
            .selectFrom('idempotency_keys')
            .select('key_hash')
            .where('key_hash', 'in', slowHashes)
            .where('status', 'is', null)
            .execute();
          return held.length > 0;
        }, 60_000);
        first.child.kill('SIGKILL');
      })();
      await Promise.all(
        Array.from({ length: REQUESTS }, async (_, i) => {
          const answer = await createTask(port, token, i);
          if (answer?.status !== 201) return;
          expect(answer.replayed).toBe(false);
          acknowledged.set(i, answer);
        }),
      );
      await killer;
      await first.exited;
      expect(acknowledged.size).toBeGreaterThan(0);
      expect(acknowledged.size).toBeLessThan(REQUESTS);
      await fastCreates(db);

      // What the kill left: replies stored with their tasks, and leases of requests that died
      // between their claim and their commit (each with no task).
      const rows = await db.handle.db.selectFrom('idempotency_keys').select(['key_hash', 'status']).execute();
      const dead = new Set(rows.filter((row) => row.status === null).map((row) => row.key_hash));
      expect(slowHashes.some((hash) => dead.has(hash))).toBe(true);
      const titles = async () =>
        (
          await db.handle.db
            .selectFrom('tasks')
            .select(['id', 'title'])
            .where('owner_id', '=', userId)
            .execute()
        ).map((row) => ({ id: row.id, title: row.title }));
      const afterKill = await titles();
      expect(afterKill.length).toBe(rows.length - dead.size);
      for (const [i, answer] of acknowledged) {
        expect(afterKill.filter((task) => task.title === titleOf(i)).map((task) => task.id)).toEqual([
          answer.id,
        ]);
      }

      const second = startServerProcess(url, port, UNLIMITED);
      await serverAnswers(port, '/health/ready', 60_000);
      // Every request again with its key: a stored reply replays, a key never claimed creates, a
      // dead request's lease answers 409 idempotency_in_progress.
      const final = new Map<number, Answer>();
      const inProgress = new Set<number>();
      const retry = async (i: number) => {
        for (;;) {
          const answer = await createTask(port, token, i);
          if (answer?.status === 201) {
            final.set(i, answer);
            return;
          }
          if (answer?.status === 409 && answer.code === 'idempotency_in_progress') {
            inProgress.add(i);
            return;
          }
          // A connection refused or an overload 503: ask again; anything else is a failure.
          if (answer !== null && answer.status !== 503) throw new Error(`request ${i}: ${answer.body}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      await Promise.all(Array.from({ length: REQUESTS }, (_, i) => retry(i)));
      expect([...inProgress].map(hashOf).sort()).toEqual([...dead].sort());
      for (const [i, answer] of acknowledged) {
        const retried = final.get(i);
        expect(retried?.replayed, `request ${i}`).toBe(true);
        expect(retried?.body).toBe(answer.body);
      }

      // The dead requests' leases end (what 60 s would do), and their retries take the keys over.
      await db.handle.db
        .updateTable('idempotency_keys')
        .set({ lease_until: new Date(Date.now() - 1000).toISOString() })
        .where('status', 'is', null)
        .execute();
      await Promise.all([...inProgress].map((i) => retry(i)));
      expect(final.size).toBe(REQUESTS);
      for (const i of inProgress) expect(final.get(i)?.replayed, `request ${i}`).toBe(false);

      // One more round: every key replays the task it maps to.
      for (let i = 0; i < REQUESTS; i++) {
        const again = await createTask(port, token, i);
        expect(again?.status).toBe(201);
        expect(again?.replayed).toBe(true);
        expect(again?.id).toBe(final.get(i)?.id);
      }
      const tasks = await titles();
      expect(tasks).toHaveLength(REQUESTS);
      expect(new Set(tasks.map((task) => task.title)).size).toBe(REQUESTS);
      expect(new Set(tasks.map((task) => task.id))).toEqual(new Set([...final.values()].map((a) => a.id)));
      for (let i = 0; i < REQUESTS; i++) {
        expect(tasks.find((task) => task.title === titleOf(i))?.id).toBe(final.get(i)?.id);
      }
      second.child.kill('SIGTERM');
      await second.exited;
    } finally {
      await db.drop();
    }
  }, 120_000);
});
