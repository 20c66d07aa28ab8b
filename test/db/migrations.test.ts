import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.js';
import { migrations } from '../../src/db/migrations/index.js';
import {
  appliedMigrations,
  MigrationError,
  migrateDown,
  migrateTo,
  migrateToLatest,
  migrateToZero,
  migrationStatus,
} from '../../src/db/migrator.js';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from '../helpers/database.js';

const NAMES = Object.keys(migrations).sort();
const LAST = NAMES.at(-1) ?? '';
/** How many CLI processes race on one database; raise it by hand to stress the lock. */
const PROCESSES = 2;
const repo = process.cwd();
const dir = mkdtempSync(join(tmpdir(), 'taskforge-migrate-'));
const opened: TestDatabase[] = [];

afterAll(async () => {
  await Promise.all(opened.map((t) => t.drop()));
  rmSync(dir, { recursive: true, force: true });
});

async function freshDatabase(): Promise<TestDatabase> {
  const t = await createTestDatabase();
  opened.push(t);
  return t;
}

/** The application's tables (not Kysely's) in the handle's own schema. */
async function tables(handle: DatabaseHandle): Promise<string[]> {
  const all = await handle.db.introspection.getTables();
  return all
    .filter((table) => handle.dialect === 'sqlite' || table.schema === handle.schema)
    .map((table) => table.name)
    .sort();
}

/**
 * The application's tables, indexes and columns (not Kysely's), as `table:<name>`,
 * `index:<name>` and `column:<table>.<name> <type> [null]`: a migration may add only indexes
 * (0010) or columns, and its way down must drop exactly those.
 */
async function schemaObjects(handle: DatabaseHandle): Promise<string[]> {
  const columns = (await handle.db.introspection.getTables())
    .filter((table) => handle.dialect === 'sqlite' || table.schema === handle.schema)
    .flatMap((table) =>
      table.columns.map((c) => `column:${table.name}.${c.name} ${c.dataType}${c.isNullable ? ' null' : ''}`),
    );
  return [...(await tablesAndIndexes(handle)), ...columns].sort();
}

async function tablesAndIndexes(handle: DatabaseHandle): Promise<string[]> {
  const names =
    handle.dialect === 'sqlite'
      ? await sql<{ name: string }>`select type || ':' || name as name from sqlite_master
          where type in ('table', 'index') and name not like 'sqlite_%' and name not like 'kysely_%'`.execute(
          handle.db,
        )
      : await sql<{ name: string }>`select 'table:' || tablename as name from pg_tables
          where schemaname = ${handle.schema} and tablename not like 'kysely_%'
          union all select 'index:' || indexname from pg_indexes
          where schemaname = ${handle.schema} and tablename not like 'kysely_%'`.execute(handle.db);
  return names.rows.map((row) => row.name).sort();
}

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function finished(child: ChildProcess): Promise<Exit> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function childEnv(databaseUrl: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(TEST_)?DATABASE_URL$/.test(key)),
  );
  return { ...env, DATABASE_URL: databaseUrl };
}

/** The CLI as `npm run migrate` runs it, minus npm's own start-up time. */
function cli(databaseUrl: string, args: string[] = []): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/migrate.ts', ...args], {
    cwd: repo,
    env: childEnv(databaseUrl),
  });
}

/** The real `npm run migrate`; --silent keeps npm's own notices off stderr. */
function npmMigrate(databaseUrl: string): Promise<Exit> {
  return finished(spawn('npm', ['run', '--silent', 'migrate'], { cwd: repo, env: childEnv(databaseUrl) }));
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}

/** Every process succeeded and exactly one of them applied the migrations. */
function expectOneWinner(exits: Exit[]): void {
  for (const exit of exits) expect(exit).toMatchObject({ code: 0, stderr: '' });
  const outputs = exits.map((exit) => exit.stdout).sort();
  expect(outputs).toEqual(
    [
      `applied: ${NAMES.join(', ')}\n`,
      ...Array.from({ length: exits.length - 1 }, () => 'already up to date\n'),
    ].sort(),
  );
}

function sqliteMigrationRows(file: string): string[] {
  const db = new SqliteDatabase(file, { readonly: true });
  try {
    const exists = db.prepare("select 1 from sqlite_master where name = 'kysely_migration'").get();
    if (!exists) return [];
    return db
      .prepare<[], { name: string }>('select name from kysely_migration order by name')
      .all()
      .map((row) => row.name);
  } finally {
    db.close();
  }
}

/** Resolves once every child has the file open (seen in /proc), or after a generous pause without /proc. */
async function untilOpened(children: ChildProcess[], file: string): Promise<void> {
  if (!existsSync('/proc/self/fd')) {
    await new Promise((resolve) => setTimeout(resolve, 5000));
    return;
  }
  const holds = (pid: number | undefined) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`) === file;
        } catch {
          return false; // the descriptor closed while we looked
        }
      });
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 15_000;
  while (!children.every((child) => holds(child.pid))) {
    if (Date.now() > deadline) throw new Error('the migrating processes never opened the database');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe(`migrations (${testDatabaseUrl ? 'postgres' : 'sqlite'})`, () => {
  it('go up, do nothing twice, step down, go to zero and come back up', async () => {
    const { handle } = await freshDatabase();
    expect(await appliedMigrations(handle)).toEqual([]);
    expect(await tables(handle)).toEqual([]);

    expect(await migrateToLatest(handle)).toEqual(NAMES);
    expect(await appliedMigrations(handle)).toEqual(NAMES);
    const latestTables = await tables(handle);
    expect(latestTables).toContain('users');

    expect(await migrateToLatest(handle)).toEqual([]);
    expect(await appliedMigrations(handle)).toEqual(NAMES);

    const latestObjects = await schemaObjects(handle);
    expect(await migrateDown(handle)).toEqual([LAST]);
    expect(await appliedMigrations(handle)).toEqual(NAMES.slice(0, -1));
    // The last step removes something (a table, or only indexes), and nothing else changes.
    const downObjects = await schemaObjects(handle);
    expect(downObjects.length).toBeLessThan(latestObjects.length);
    expect(latestObjects).toEqual(expect.arrayContaining(downObjects));
    expect(latestTables).toEqual(expect.arrayContaining(await tables(handle)));
    if (NAMES.length === 1) expect(await tables(handle)).not.toContain('users');

    expect(await migrateToZero(handle)).toEqual(NAMES.slice(0, -1).reverse());
    expect(await appliedMigrations(handle)).toEqual([]);
    expect(await tables(handle)).toEqual([]);
    expect(await migrateDown(handle)).toEqual([]);

    expect(await migrateToLatest(handle)).toEqual(NAMES);
    expect(await appliedMigrations(handle)).toEqual(NAMES);
    expect(await tables(handle)).toEqual(latestTables);
    // Down to the first migration and up again: the same schema, columns and indexes included.
    expect(await migrateTo(handle, NAMES[0] ?? '')).toEqual(NAMES.slice(1).reverse());
    expect(await appliedMigrations(handle)).toEqual(NAMES.slice(0, 1));
    expect(await migrateTo(handle, LAST)).toEqual(NAMES.slice(1));
    expect(await schemaObjects(handle)).toEqual(latestObjects);
  });

  it('every migration goes down to exactly the tables and indexes before it', async () => {
    const { handle } = await freshDatabase();
    const before: string[][] = [];
    for (const name of NAMES) {
      before.push(await schemaObjects(handle));
      expect(await migrateTo(handle, name)).toEqual([name]);
      // Each migration creates something: a step that changed nothing could not be checked.
      expect(await schemaObjects(handle)).not.toEqual(before.at(-1));
    }
    for (const name of [...NAMES].reverse()) {
      expect(await migrateDown(handle)).toEqual([name]);
      expect({ name, objects: await schemaObjects(handle) }).toEqual({ name, objects: before.pop() });
    }
  });

  it('roll a failing run back whole and report the migration by name', async () => {
    const { handle } = await freshDatabase();
    await sql`create table users (id text primary key)`.execute(handle.db);
    const failure = migrateToLatest(handle);
    await expect(failure).rejects.toBeInstanceOf(MigrationError);
    await expect(failure).rejects.toThrow(new RegExp(`^migration ${NAMES[0]} failed: .*users`));
    expect(await appliedMigrations(handle)).toEqual([]);
    expect(await tables(handle)).toEqual(['users']);
  });
});

// SQLite-only: the PostgreSQL pass of the suite runs the same race on PostgreSQL below instead.
describe.skipIf(testDatabaseUrl)('migrating one SQLite file from several processes', () => {
  it(`${PROCESSES} processes started at once: all succeed, one applies`, async () => {
    const file = join(dir, 'race.db');
    const exits = await Promise.all(Array.from({ length: PROCESSES }, () => finished(cli(`sqlite:${file}`))));
    expectOneWinner(exits);
    expect(sqliteMigrationRows(file)).toEqual(NAMES);
  });

  it('processes waiting for the lock neither fail with SQLITE_BUSY nor migrate twice', async () => {
    const file = join(dir, 'queued.db');
    // Kysely's bookkeeping tables already exist (every migration was reverted), so a migrator
    // without a lock would read "all pending" beside the held lock and then race to apply them.
    const previous = openDatabase({ kind: 'sqlite', filename: file });
    await migrateToLatest(previous);
    await migrateToZero(previous);
    await previous.close();
    const holder = new SqliteDatabase(file);
    holder.pragma('journal_mode = WAL');
    // The lock the migrator takes: everyone must wait for it to be released.
    holder.exec('begin exclusive');
    const children = Array.from({ length: PROCESSES }, () => cli(`sqlite:${file}`));
    const exits = Promise.all(children.map(finished));
    try {
      await untilOpened(children, file);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(children.map((child) => child.exitCode)).toEqual(children.map(() => null));
      expect(sqliteMigrationRows(file)).toEqual([]);
    } finally {
      holder.exec('rollback');
      holder.close();
    }
    expectOneWinner(await exits);
    expect(sqliteMigrationRows(file)).toEqual(NAMES);
  });
});

describe.runIf(testDatabaseUrl)('migrating one PostgreSQL schema concurrently', () => {
  it('two handles at once: both succeed, one applies', async () => {
    const t = await freshDatabase();
    const second = openDatabase(
      { kind: 'postgres', connectionString: testDatabaseUrl ?? '' },
      { searchPath: t.schema ?? '' },
    );
    try {
      const results = await Promise.all([migrateToLatest(t.handle), migrateToLatest(second)]);
      expect(results.sort((a, b) => b.length - a.length)).toEqual([NAMES, []]);
      expect(await appliedMigrations(second)).toEqual(NAMES);
    } finally {
      await second.close();
    }
  });

  it(`${PROCESSES} CLI processes on one schema (URL options=-c search_path): all succeed, one applies`, async () => {
    const t = await freshDatabase();
    expect(t.url).toMatch(/[?&]options=/);
    const exits = await Promise.all(Array.from({ length: PROCESSES }, () => finished(cli(t.url ?? ''))));
    expectOneWinner(exits);
    expect(await appliedMigrations(t.handle)).toEqual(NAMES);
    const { rows } = await sql<{ n: string }>`select count(*) as n from kysely_migration`.execute(
      t.handle.db,
    );
    expect(rows).toEqual([{ n: String(NAMES.length) }]);
  });

  it('migrate a schema chosen by the URL alone while another schema is migrated', async () => {
    const migrated = await freshDatabase();
    await migrateToLatest(migrated.handle);
    const target = await freshDatabase();
    // No searchPath: the schema comes from the URL, so the handle does not know its name.
    const byUrl = openDatabase({ kind: 'postgres', connectionString: target.url ?? '' });
    try {
      expect(byUrl.schema).toBeNull();
      expect(await appliedMigrations(byUrl)).toEqual([]);
      expect(await migrateToLatest(byUrl)).toEqual(NAMES);
      expect(await appliedMigrations(byUrl)).toEqual(NAMES);
      expect(await tables(target.handle)).toContain('users');
    } finally {
      await byUrl.close();
    }
  });

  it('a migrator waiting for the advisory lock outlives the statement timeout', async () => {
    const t = await freshDatabase();
    const impatient = openDatabase(
      { kind: 'postgres', connectionString: testDatabaseUrl ?? '' },
      { searchPath: t.schema ?? '', statementTimeoutMs: 200, poolSize: 1 },
    );
    const holder = new pg.Client({ connectionString: testDatabaseUrl ?? '' });
    await holder.connect();
    try {
      // Kysely's migration lock (kysely/dist/esm/dialect/postgres/postgres-adapter.js, LOCK_ID).
      await holder.query('select pg_advisory_lock(3853314791062309107)');
      const migrating = migrateToLatest(impatient);
      migrating.catch(() => {}); // awaited below; a rejection before then is not unhandled
      // Longer than the statement timeout and the client's own bound after it (200 ms + 1 s).
      await new Promise((resolve) => setTimeout(resolve, 2500));
      await holder.query('select pg_advisory_unlock(3853314791062309107)');
      expect(await migrating).toEqual(NAMES);
      // The pooled connection has its statement timeout back.
      const { rows } = await sql<{ statement_timeout: string }>`show statement_timeout`.execute(impatient.db);
      expect(rows).toEqual([{ statement_timeout: '200ms' }]);
    } finally {
      await holder.end();
      await impatient.close();
    }
  });
});

/** A database a child process can reach: a SQLite file, or a PostgreSQL schema. */
async function reachableDatabase(name: string): Promise<TestDatabase & { url: string }> {
  const t = testDatabaseUrl
    ? await createTestDatabase()
    : await createTestDatabase({ sqliteFile: join(dir, name) });
  opened.push(t);
  return { ...t, url: t.url ?? '' };
}

/** Migrated up to 0003 exactly (later migrations reverted), holding one user with two tasks, one tagged. */
async function withTasks(handle: DatabaseHandle): Promise<void> {
  await migrateToLatest(handle);
  while ((await appliedMigrations(handle)).at(-1) !== '0003-create-tasks') await migrateDown(handle);
  const at = '2030-01-01T00:00:00.000Z';
  await handle.db
    .insertInto('users')
    .values({
      id: 'owner',
      email: 'owner@example.com',
      name: 'Owner',
      role: 'user',
      password_hash: 'x',
      search_text: 'owner owner@example.com',
      created_at: at,
      updated_at: at,
    })
    .execute();
  const task = (id: string) => ({
    id,
    owner_id: 'owner',
    assignee_id: null,
    title: id,
    description: '',
    status: 'todo' as const,
    priority: 2,
    start_at: null,
    due_at: null,
    tags: '[]',
    completed_at: null,
    version: 1,
    search_text: id,
    created_at: at,
    updated_at: at,
  });
  await handle.db
    .insertInto('tasks')
    // The rows of 0003's tasks table, which today's Database type (with project_id) no longer describes.
    .values([task('t1'), task('t2')] as never)
    .execute();
  await handle.db.insertInto('task_tags').values({ task_id: 't1', tag: 'home' }).execute();
}

describe('npm run migrate -- down and -- status', () => {
  it('down says which tables it removes, with their rows, and changes nothing without --yes', async () => {
    const t = await reachableDatabase('down.db');
    await withTasks(t.handle);
    const before = await appliedMigrations(t.handle);
    const refused = await finished(cli(t.url, ['down']));
    expect(refused.code).toBe(1);
    expect(lines(refused.stdout)).toEqual([
      'reverting 0003-create-tasks removes:',
      '  table task_tags (1 row)',
      '  table tasks (2 rows)',
    ]);
    expect(lines(refused.stderr)).toEqual([
      expect.stringMatching(/^refusing to revert without --yes: .*--yes$/),
    ]);
    expect(await appliedMigrations(t.handle)).toEqual(before);
    expect(await tables(t.handle)).toEqual(expect.arrayContaining(['tasks', 'task_tags']));

    const done = await finished(cli(t.url, ['down', '--yes']));
    expect(done).toMatchObject({ code: 0, stderr: '' });
    expect(lines(done.stdout)).toEqual([...lines(refused.stdout), 'reverted: 0003-create-tasks']);
    expect(await tables(t.handle)).not.toContain('tasks');
  });

  it('--to moves up or down to a named migration, says what it reverts, and needs --yes to go down', async () => {
    const t = await reachableDatabase('to.db');
    const up = await finished(cli(t.url, ['--to', '0003']));
    expect(up).toMatchObject({ code: 0, stderr: '' });
    expect(lines(up.stdout)).toEqual([`applied: ${NAMES.slice(0, 3).join(', ')}`]);
    expect(await appliedMigrations(t.handle)).toEqual(NAMES.slice(0, 3));
    const again = await finished(cli(t.url, ['--to=0003-create-tasks']));
    expect(lines(again.stdout)).toEqual(['already at 0003-create-tasks']);

    const refused = await finished(cli(t.url, ['--to', '0001-create-users']));
    expect(refused.code).toBe(1);
    expect(lines(refused.stdout)).toEqual([
      'reverting 0003-create-tasks, 0002-create-sessions removes:',
      '  table refresh_tokens (0 rows)',
      '  table sessions (0 rows)',
      '  table task_tags (0 rows)',
      '  table tasks (0 rows)',
    ]);
    expect(lines(refused.stderr)).toEqual([
      expect.stringMatching(/^refusing to revert without --yes: .*--to 0001-create-users --yes$/),
    ]);
    expect(await appliedMigrations(t.handle)).toEqual(NAMES.slice(0, 3));

    const down = await finished(cli(t.url, ['--to', '0001-create-users', '--yes']));
    expect(down).toMatchObject({ code: 0, stderr: '' });
    expect(lines(down.stdout).at(-1)).toBe(
      'reverted: 0003-create-tasks, 0002-create-sessions (now at 0001-create-users)',
    );
    expect(await appliedMigrations(t.handle)).toEqual(NAMES.slice(0, 1));

    const none = await finished(cli(t.url, ['--to', '0', '--yes']));
    expect(lines(none.stdout)).toEqual([
      'reverting 0001-create-users removes:',
      '  table users (0 rows)',
      'reverted: 0001-create-users (now at before the first migration)',
    ]);
    expect(await tables(t.handle)).toEqual([]);

    const unknown = await finished(cli(t.url, ['--to', '0042']));
    expect(unknown.code).toBe(2);
    expect(lines(unknown.stderr)).toEqual([
      `unknown version "0042": a migration of this version (${NAMES[0]} … ${LAST}, or its number such as ${LAST.slice(0, 4)}), or 0 for before the first`,
    ]);
    const both = await finished(cli(t.url, ['down', '--to', '0001']));
    expect(both.code).toBe(2);
    expect(lines(both.stderr)).toEqual([expect.stringContaining('usage: npm run migrate')]);

    const latest = await finished(cli(t.url, ['--to', LAST]));
    expect(lines(latest.stdout)).toEqual([`applied: ${NAMES.join(', ')}`]);
    expect(await appliedMigrations(t.handle)).toEqual(NAMES);
  });

  it('status lists applied and pending migrations; a bad flag is a usage error', async () => {
    const t = await reachableDatabase('status.db');
    await migrateToLatest(t.handle);
    await migrateDown(t.handle);
    const exit = await finished(cli(t.url, ['status']));
    expect(exit).toMatchObject({ code: 0, stderr: '' });
    expect(lines(exit.stdout)).toEqual([
      ...NAMES.slice(0, -1).map((name) =>
        expect.stringMatching(new RegExp(`^${name} +applied \\d{4}-\\d\\d-\\d\\dT`)),
      ),
      expect.stringMatching(new RegExp(`^${LAST} +pending$`)),
      'schema: behind, 1 pending (npm run migrate applies it)',
    ]);
    const bad = await finished(cli(t.url, ['status', '--yes']));
    expect(bad.code).toBe(2);
    expect(lines(bad.stderr)).toEqual([expect.stringContaining('usage: npm run migrate')]);
  });

  it('a schema ahead of the code (a newer version ran): status says so, latest leaves it, down refuses', async () => {
    const { handle } = await freshDatabase();
    await migrateToLatest(handle);
    await sql`insert into kysely_migration (name, timestamp) values ('9999-from-a-newer-version', ${new Date().toISOString()})`.execute(
      handle.db,
    );
    const status = await migrationStatus(handle);
    expect(status.pending).toEqual([]);
    expect(status.unknown).toEqual(['9999-from-a-newer-version']);
    // A rolling deploy starts the previous version beside the new one: it must not fail here.
    expect(await migrateToLatest(handle)).toEqual([]);
    const { planMigrateDown } = await import('../../src/db/down-plan.js');
    await expect(planMigrateDown(handle)).rejects.toThrow(/does not know \(9999-from-a-newer-version\)/);
  });
});

describe('npm run migrate reports failures on one line', () => {
  it('exits non-zero when PostgreSQL cannot be reached', async () => {
    const exit = await npmMigrate('postgres://127.0.0.1:1/x');
    expect(exit.code).toBe(1);
    expect(lines(exit.stderr)).toEqual([expect.stringMatching(/^cannot migrate: .*ECONNREFUSED/)]);
  });

  it('exits 1 naming DATABASE_URL when it is not a supported URL', async () => {
    const exit = await npmMigrate('mysql://x');
    expect(exit.code).toBe(1);
    expect(lines(exit.stderr)).toEqual([expect.stringContaining('DATABASE_URL')]);
  });

  it('exits 1 without a stack trace when the SQLite file cannot be created', async () => {
    const notADirectory = join(dir, 'plain-file');
    writeFileSync(notADirectory, '');
    const exit = await finished(cli(`sqlite:${notADirectory}/x.db`));
    expect(exit.code).toBe(1);
    expect(lines(exit.stderr)).toHaveLength(1);
  });
});
