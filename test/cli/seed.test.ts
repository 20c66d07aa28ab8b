import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_PASSWORD, SeedModel } from '../../scripts/seed/model.js';
import { runSeed, SeedError, type SeedOptions } from '../../scripts/seed/run.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { PasswordHasher } from '../../src/lib/passwords.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from '../helpers/database.js';
import { login } from '../helpers/factories.js';

/** The seed (scripts/seed.ts) at small sizes: the data's invariants, resuming, refusals, the CLI. */

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
// 20 users, so that teams are not everyone and "assignees are members" can fail.
const SIZES = { users: 20, projects: 10, tasks: 500, events: 700, seed: 7 };

const quiet = new Writable({ write: (_chunk, _encoding, done) => done() }) as unknown as NodeJS.WriteStream;
let passwordHash: string;
let database: TestDatabase;
let testApp: TestApp;

function options(extra: Partial<SeedOptions> = {}): SeedOptions {
  return { ...SIZES, passwordHash, out: quiet, ...extra };
}

async function rows<T>(query: string): Promise<T[]> {
  const result = await sql.raw<T>(query).execute(database.handle.db);
  return result.rows;
}

async function countOf(query: string): Promise<number> {
  const [row] = await rows<{ n: unknown }>(query);
  return Number(row?.n);
}

beforeAll(async () => {
  // The cheap argon2id the test apps use, so logging in with it is quick.
  passwordHash = await new PasswordHasher({ memoryCost: 1024, timeCost: 1 }).hash(SEED_PASSWORD);
  database = await createTestDatabase();
  await migrateToLatest(database.handle);
  // Interrupted after three batches, in the middle of the tasks...
  let batches = 0;
  const first = await runSeed(
    database.handle,
    options({ batchSize: 100, stopRequested: () => batches++ >= 3 }),
  );
  expect(first).toEqual({ finished: false, phase: 'tasks' });
  expect(await countOf('select count(*) as n from tasks')).toBe(100);
  // ...and continued by the same command.
  expect(await runSeed(database.handle, options({ batchSize: 100 }))).toEqual({ finished: true });
  testApp = await buildTestApp({ database });
});
afterAll(async () => {
  await testApp?.close();
  await database?.drop();
});

describe('the seeded data', () => {
  it('has the sizes asked for: users with their Inbox, shared projects, tasks, events', async () => {
    expect(await countOf('select count(*) as n from users')).toBe(20);
    expect(await countOf('select count(*) as n from projects where personal = 1')).toBe(20);
    expect(await countOf('select count(*) as n from projects where personal = 0')).toBe(10);
    expect(await countOf('select count(*) as n from tasks')).toBe(500);
    expect(await countOf('select count(*) as n from events')).toBe(700);
    const [log] = await rows<{ head: unknown }>('select head from event_log');
    expect(Number(log?.head)).toBe(700);
  });

  it('is what one uninterrupted run makes: the interrupted run continued with the same rows', async () => {
    const admin = await rows<{ created_at: string }>(
      "select created_at from users where email = 'admin@seed.invalid'",
    );
    const model = new SeedModel(SIZES, SIZES.seed, Date.parse(admin[0]?.created_at ?? ''));
    const ids = (await rows<{ id: string }>('select id from tasks order by id')).map((r) => r.id);
    const expected = Array.from({ length: SIZES.tasks }, (_, i) => model.taskId(i)).sort();
    expect(ids).toEqual(expected);
  });

  it('has valid UUIDv7 ids for users, projects and tasks', async () => {
    for (const table of ['users', 'projects', 'tasks']) {
      const ids = (await rows<{ id: string }>(`select id from ${table}`)).map((r) => r.id);
      expect(
        ids.filter((id) => !UUID_V7.test(id)),
        table,
      ).toEqual([]);
    }
  });

  it('assigns tasks only to members of their project, and has them made by its owners and editors', async () => {
    const strays =
      await countOf(`select count(*) as n from tasks t where t.assignee_id is not null and not exists
      (select 1 from project_members m where m.project_id = t.project_id and m.user_id = t.assignee_id)`);
    expect(strays).toBe(0);
    const writers = await countOf(`select count(*) as n from tasks t where not exists
      (select 1 from project_members m where m.project_id = t.project_id and m.user_id = t.owner_id
       and m.role in ('owner', 'editor'))`);
    expect(writers).toBe(0);
    expect(await countOf('select count(*) as n from tasks where assignee_id is not null')).toBeGreaterThan(
      100,
    );
  });

  it('has subtasks of a task in the same project, tags in both places, and varied fields', async () => {
    expect(await countOf('select count(*) as n from tasks where parent_id is not null')).toBeGreaterThan(0);
    expect(
      await countOf(
        'select count(*) as n from tasks c join tasks p on p.id = c.parent_id where p.project_id <> c.project_id',
      ),
    ).toBe(0);
    const tagged = await rows<{ id: string; tags: string }>("select id, tags from tasks where tags <> '[]'");
    expect(tagged.length).toBeGreaterThan(0);
    const tagRows = await countOf('select count(*) as n from task_tags');
    expect(tagRows).toBe(tagged.reduce((sum, t) => sum + (JSON.parse(t.tags) as string[]).length, 0));
    for (const column of ['status', 'priority']) {
      expect(await countOf(`select count(distinct ${column}) as n from tasks`), column).toBe(3);
    }
    expect(await countOf('select count(*) as n from tasks where due_at is null')).toBeGreaterThan(0);
    expect(await countOf('select count(*) as n from tasks where due_at is not null')).toBeGreaterThan(0);
    expect(
      await countOf("select count(*) as n from tasks where (status = 'done') <> (completed_at is not null)"),
    ).toBe(0);
  });

  it('is skewed: project sizes differ by far more than chance would make them', async () => {
    const sizes = (
      await rows<{ n: unknown }>(
        'select count(*) as n from tasks t join projects p on p.id = t.project_id where p.personal = 0 group by p.id',
      )
    ).map((r) => Number(r.n));
    expect(Math.max(...sizes)).toBeGreaterThan(4 * Math.min(...sizes));
  });

  it('the API lists them: a user walks its v2 list, an admin counts every task', async () => {
    const { app } = testApp;
    const user = await login(app, 'user-2@seed.invalid', SEED_PASSWORD);
    const headers = { authorization: `Bearer ${user.accessToken}` };
    const [me] = await rows<{ id: string }>("select id from users where email = 'user-2@seed.invalid'");
    const visible = await countOf(`select count(*) as n from tasks t where t.project_id in
      (select project_id from project_members where user_id = '${me?.id}') or t.assignee_id = '${me?.id}'`);
    let seen = 0;
    let cursor: string | null = null;
    do {
      const res = await app.inject({
        url: `/api/v2/tasks?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        headers,
      });
      expect(res.statusCode, res.body).toBe(200);
      const page = res.json() as { items: unknown[]; nextCursor: string | null };
      seen += page.items.length;
      cursor = page.nextCursor;
    } while (cursor);
    expect(visible).toBeGreaterThan(0);
    expect(seen).toBe(visible);

    const admin = await login(app, 'admin@seed.invalid', SEED_PASSWORD);
    const res = await app.inject({
      url: '/api/v1/tasks?size=1',
      headers: { authorization: `Bearer ${admin.accessToken}` },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect((res.json() as { total: number }).total).toBe(500);
  });
});

describe('refusals', () => {
  it('refuses to continue with other sizes, naming the ones the database was seeded with', async () => {
    const run = runSeed(database.handle, options({ tasks: 600 }));
    await expect(run).rejects.toThrow(SeedError);
    await expect(runSeed(database.handle, options({ tasks: 600 }))).rejects.toThrow(
      /seeded with "seed: users=20 projects=10 tasks=500 seed=7"/,
    );
  });

  it('refuses a database holding users it did not make', async () => {
    const other = await createTestDatabase();
    try {
      await migrateToLatest(other.handle);
      await other.handle.db
        .insertInto('users')
        .values({
          id: 'someone',
          email: 'someone@example.com',
          name: 'Someone',
          role: 'user',
          disabled: 0,
          password_hash: 'x',
          search_text: 'someone',
          created_at: new Date().toISOString(),
          updated_at: new Date().toISOString(),
        })
        .execute();
      await expect(runSeed(other.handle, options())).rejects.toThrow(/1 user\(s\) the seed did not make/);
      expect(await other.handle.db.selectFrom('tasks').select('id').execute()).toEqual([]);
    } finally {
      await other.drop();
    }
  });
});

describe('npm run seed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'taskforge-seed-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('migrates and seeds the DATABASE_URL given, reporting progress on stderr', async () => {
    const target = await createTestDatabase();
    const url = testDatabaseUrl ? (target.url ?? '') : `sqlite:${join(dir, 'seed.db')}`;
    try {
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !/^(DATABASE_URL|REDIS_URL)$/.test(k)),
      );
      const child = spawn(
        join(process.cwd(), 'node_modules/.bin/tsx'),
        ['scripts/seed.ts', '--users', '3', '--projects', '4', '--tasks', '50', '--events', '20'],
        { env: { ...env, DATABASE_URL: url }, cwd: process.cwd() },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(status, stderr).toBe(0);
      expect(stdout).toMatch(/seeded: 3 users, 4 shared projects, 50 tasks, 20 events/);
      expect(stderr).toMatch(/tasks\s+50\/50 100% .*\/s in /);
    } finally {
      await target.drop();
    }
  }, 60_000);
});
