import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, SQLITE_BUSY_TIMEOUT_MS } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { writeProbe, writeProblem } from '../../src/db/write-probe.js';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from '../helpers/database.js';

const dir = mkdtempSync(join(tmpdir(), 'taskforge-db-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite file database', () => {
  it('opens in WAL mode with foreign keys on and a busy timeout', async () => {
    const handle = openDatabase({ kind: 'sqlite', filename: join(dir, 'nested', 'pragmas.db') });
    try {
      const pragma = async (name: string) =>
        (await sql<Record<string, unknown>>`${sql.raw(`pragma ${name}`)}`.execute(handle.db)).rows[0];
      expect(await pragma('journal_mode')).toEqual({ journal_mode: 'wal' });
      expect(await pragma('foreign_keys')).toEqual({ foreign_keys: 1 });
      expect(await pragma('synchronous')).toEqual({ synchronous: 1 }); // NORMAL
      expect(await pragma('busy_timeout')).toEqual({ timeout: SQLITE_BUSY_TIMEOUT_MS });
      await handle.ping();
      expect(handle.dialect).toBe('sqlite');
      expect(handle.schema).toBeNull();
    } finally {
      await handle.close();
    }
  });

  it('keeps its files and the folders it creates readable by their owner only, whatever the umask', async () => {
    const file = join(dir, 'private', 'nested', 'db.sqlite');
    const handle = openDatabase({ kind: 'sqlite', filename: file });
    try {
      // A write brings the -wal and -shm files into being.
      await sql`create table t (x integer)`.execute(handle.db);
      await sql`insert into t values (1)`.execute(handle.db);
      const mode = (path: string) => statSync(path).mode & 0o777;
      expect(mode(join(dir, 'private'))).toBe(0o700);
      expect(mode(join(dir, 'private', 'nested'))).toBe(0o700);
      expect([file, `${file}-wal`, `${file}-shm`].map(mode)).toEqual([0o600, 0o600, 0o600]);
    } finally {
      await handle.close();
    }
  });

  it('tightens an existing database file that others could read', async () => {
    const file = join(dir, 'loose.db');
    writeFileSync(file, '', { mode: 0o644 }); // an empty file is an empty database
    const handle = openDatabase({ kind: 'sqlite', filename: file });
    await handle.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('takes the busy timeout it is given', async () => {
    const handle = openDatabase(
      { kind: 'sqlite', filename: join(dir, 'timeout.db') },
      { busyTimeoutMs: 60_000 },
    );
    try {
      const { rows } = await sql<{ timeout: number }>`pragma busy_timeout`.execute(handle.db);
      expect(rows).toEqual([{ timeout: 60_000 }]);
    } finally {
      await handle.close();
    }
  });

  it('enforces foreign keys', async () => {
    const handle = openDatabase({ kind: 'sqlite', filename: join(dir, 'fk.db') });
    try {
      await sql`create table parent (id text primary key)`.execute(handle.db);
      await sql`create table child (parent_id text references parent (id))`.execute(handle.db);
      await expect(sql`insert into child values ('missing')`.execute(handle.db)).rejects.toThrow(
        /FOREIGN KEY constraint failed/,
      );
    } finally {
      await handle.close();
    }
  });
});

describe('the start-up write probe', () => {
  // Tests run as root, which writes through any file mode: SQLite's query_only makes the
  // connection refuse writes whoever runs it (test/server/start-up-checks.test.ts covers modes).
  it('SQLite: reports a connection that cannot write, and leaves no trace when it can', async () => {
    const handle = openDatabase({ kind: 'sqlite', filename: join(dir, 'probe.db') });
    try {
      expect(await writeProbe(handle)).toBeNull();
      const { rows } = await sql`select name from sqlite_master where name like 'taskforge%'`.execute(
        handle.db,
      );
      expect(rows).toEqual([]);
      await sql`pragma query_only = on`.execute(handle.db);
      expect(await writeProbe(handle)).toMatch(/readonly database/);
    } finally {
      await handle.close();
    }
  });

  it('SQLite: a file that cannot be created is one line naming DATABASE_URL', async () => {
    writeFileSync(join(dir, 'not-a-folder'), '');
    const problem = await writeProblem({ kind: 'sqlite', filename: join(dir, 'not-a-folder', 'x.db') });
    expect(problem).toMatch(/^DATABASE_URL sqlite:\/.*not-a-folder\/x\.db cannot be opened for writing: .+/);
    expect(problem).not.toContain('\n');
    expect(await writeProblem({ kind: 'sqlite', filename: join(dir, 'fine.db') })).toBeNull();
  });

  it.runIf(testDatabaseUrl)(
    'PostgreSQL: a server that accepts only reads is named, a writable one passes',
    async () => {
      const readOnly = new URL(testDatabaseUrl ?? '');
      readOnly.searchParams.set('options', '-c default_transaction_read_only=on');
      expect(await writeProblem({ kind: 'postgres', connectionString: readOnly.href })).toBe(
        'DATABASE_URL (PostgreSQL) cannot be written: the server accepts only reads (transaction_read_only is on); point it at a primary that accepts writes',
      );
      expect(await writeProblem({ kind: 'postgres', connectionString: testDatabaseUrl ?? '' })).toBeNull();
    },
  );
});

describe.runIf(testDatabaseUrl)('PostgreSQL handle', () => {
  it('refuses a search path that would not survive the startup option unquoted', () => {
    expect(() =>
      openDatabase({ kind: 'postgres', connectionString: testDatabaseUrl ?? '' }, { searchPath: 'a b' }),
    ).toThrow(/searchPath/);
  });

  it('without a statement timeout (0: the seed, bench:scale) the client does not cut a long statement either', async () => {
    const handle = openDatabase(
      { kind: 'postgres', connectionString: testDatabaseUrl ?? '' },
      { statementTimeoutMs: 0, poolSize: 1 },
    );
    try {
      // Longer than the margin the client adds to a statement timeout (QUERY_TIMEOUT_MARGIN_MS).
      const { rows } = await sql<{ ok: number }>`select 1 as ok from pg_sleep(1.3)`.execute(handle.db);
      expect(rows).toEqual([{ ok: 1 }]);
    } finally {
      await handle.close();
    }
  });

  it('introspects its own schema only, by object ids: schemas dropped meanwhile by others cannot fail it', async () => {
    // Kysely's own introspector looked every schema's tables up again by name, and failed with
    // "schema … does not exist" now and then while another client dropped one (the migrator asks it
    // whether kysely_migration exists): two test files on PostgreSQL at once met that.
    const t = await createTestDatabase();
    const churn = new pg.Client({ connectionString: testDatabaseUrl ?? '' });
    await churn.connect();
    let stop = false;
    const churning = (async () => {
      for (let i = 0; !stop; i += 1) {
        const name = `${t.schema}_churn_${i}`;
        await churn.query(`create schema ${name}; create table ${name}.t (id serial primary key, a text)`);
        await churn.query(`drop schema ${name} cascade`);
      }
    })();
    try {
      await migrateToLatest(t.handle);
      for (let i = 0; i < 150; i += 1) await t.handle.db.introspection.getTables();
      const tables = await t.handle.db.introspection.getTables({ withInternalKyselyTables: true });
      expect(new Set(tables.map((table) => table.schema))).toEqual(new Set([t.schema]));
      const names = tables.map((table) => table.name);
      expect(names).toEqual(expect.arrayContaining(['kysely_migration', 'tasks', 'events']));
      expect((await t.handle.db.introspection.getTables()).map((table) => table.name)).not.toContain(
        'kysely_migration',
      );
      const columns = new Map(
        tables.find((table) => table.name === 'tasks')?.columns.map((c) => [c.name, c]),
      );
      expect(columns.get('title')).toMatchObject({ isNullable: false, isAutoIncrementing: false });
      expect(columns.get('due_at')).toMatchObject({ isNullable: true });
    } finally {
      stop = true;
      await churning;
      await churn.end();
      await t.drop();
    }
  });
});

describe(`dialect parity (${testDatabaseUrl ? 'postgres' : 'sqlite'})`, () => {
  const stamps = ['2024-02-29T23:59:59.999Z', '2030-01-01T00:00:00.000Z', '1999-12-31T12:34:56.070Z'];
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    await migrateToLatest(t.handle);
    for (const [i, stamp] of stamps.entries()) {
      await t.handle.db
        .insertInto('users')
        .values({
          id: `parity-${i}`,
          email: `parity-${i}@example.com`,
          name: 'Parity',
          role: 'user',
          password_hash: 'x',
          search_text: `parity parity-${i}@example.com`,
          created_at: stamp,
          updated_at: stamp,
        })
        .execute();
    }
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('works in its own schema on PostgreSQL', async () => {
    await t.handle.ping();
    if (t.handle.dialect === 'postgres') {
      const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(t.handle.db);
      expect(rows).toEqual([{ schema: t.schema }]);
      expect(t.handle.schema).toBe(t.schema);
    }
  });

  it('returns an RFC 3339 timestamp with milliseconds exactly as stored', async () => {
    const rows = await t.handle.db
      .selectFrom('users')
      .select(['created_at', 'updated_at', 'disabled'])
      .where('id', 'like', 'parity-%')
      .orderBy('created_at')
      .execute();
    expect(rows).toEqual([...stamps].sort().map((s) => ({ created_at: s, updated_at: s, disabled: 0 })));
  });

  it('returns count(*) as a string on PostgreSQL and a number on SQLite', async () => {
    const row = await t.handle.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('id', 'like', 'parity-%')
      .executeTakeFirstOrThrow();
    // Callers convert with Number(): that is right on both dialects.
    expect(row.n).toBe(t.handle.dialect === 'postgres' ? '3' : 3);
    expect(Number(row.n)).toBe(3);
  });
});
