import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { describeDatabase, postgresUnreachable } from '../../src/db/target.js';
import { logStartup, NO_ADMIN_HINT } from '../../src/startup.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { testDatabaseUrl } from '../helpers/database.js';
import { createUser } from '../helpers/factories.js';

interface Line {
  level: number;
  msg: string;
  [key: string]: unknown;
}

const apps: TestApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((t) => t.close()));
});

async function startWithLog(): Promise<{ t: TestApp; lines: Line[] }> {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Line);
      callback();
    },
  });
  // The config names the same database the test app opened, as it does in a real start.
  const env = {
    LOG_LEVEL: 'info',
    PUBLIC_URL: 'https://tasks.example.com',
    DATABASE_URL: testDatabaseUrl ?? 'sqlite::memory:',
  };
  const t = await buildTestApp({ env, logStream: stream });
  apps.push(t);
  lines.length = 0;
  return { t, lines };
}

describe('the start-up log', () => {
  it('says where the docs are, which database is open, and how to create the first admin', async () => {
    const { t, lines } = await startWithLog();
    await logStartup(t.app, ['PROT is not a Taskforge variable; did you mean PORT?']);
    const messages = lines.map((l) => l.msg);
    expect(messages[0]).toBe('PROT is not a Taskforge variable; did you mean PORT?');
    expect(lines[0]?.level).toBe(40);
    expect(messages).toContainEqual(expect.stringContaining('API docs at https://tasks.example.com/docs'));
    const database = lines.find((l) => l.msg.startsWith('database: '));
    expect(database?.database).toBe(describeDatabase(t.app.config.database));
    expect(database?.msg).toMatch(
      testDatabaseUrl ? /PostgreSQL database "\w+" on [\w.-]+:\d+/ : /SQLite in memory/,
    );
    const admin = lines.find((l) => l.msg === NO_ADMIN_HINT);
    expect(admin?.level).toBe(40);
    expect(NO_ADMIN_HINT).toContain('ADMIN_EMAIL and ADMIN_PASSWORD');
    expect(NO_ADMIN_HINT).toContain('npm run create-admin');
  });

  it('says an admin exists once one does', async () => {
    const { t, lines } = await startWithLog();
    await createUser(t.app, { role: 'admin' });
    await logStartup(t.app, []);
    const messages = lines.map((l) => l.msg);
    expect(messages).toContain('an enabled admin account exists');
    expect(messages).not.toContain(NO_ADMIN_HINT);
  });
});

describe('describeDatabase', () => {
  it('names the SQLite file by its absolute path', () => {
    expect(describeDatabase({ kind: 'sqlite', filename: '/var/lib/taskforge/db.sqlite' })).toBe(
      'SQLite file /var/lib/taskforge/db.sqlite',
    );
    expect(describeDatabase({ kind: 'sqlite', filename: './data/taskforge.db' })).toBe(
      `SQLite file ${process.cwd()}/data/taskforge.db`,
    );
  });

  it('names PostgreSQL by host, port, database and user, never the password', () => {
    const text = describeDatabase({
      kind: 'postgres',
      connectionString: 'postgres://tasks:s3cr%40t-pass@db.internal:6432/taskforge?sslmode=require',
    });
    expect(text).toBe('PostgreSQL database "taskforge" on db.internal:6432 as tasks');
    expect(describeDatabase({ kind: 'postgres', connectionString: 'postgresql://db/x' })).toBe(
      'PostgreSQL database "x" on db:5432',
    );
  });
});

describe('postgresUnreachable', () => {
  it('answers one line naming DATABASE_URL and the address, without the password', async () => {
    // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
    const line = await postgresUnreachable('postgres://tasks:hunter2-secret@127.0.0.1:1/taskforge');
    expect(line).toBe(
      'Cannot reach the database: DATABASE_URL names PostgreSQL database "taskforge" on 127.0.0.1:1 as tasks: connection refused (ECONNREFUSED)',
    );
  });

  it.runIf(testDatabaseUrl)('answers null for a database that answers', async () => {
    expect(await postgresUnreachable(testDatabaseUrl ?? '')).toBeNull();
  });
});
