import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { freePort } from '../helpers/free-port.js';

/**
 * The real entry point refusing a database it cannot use. Root writes through any file mode, so
 * when the suite runs as root the server runs as `nobody` (65534): the modes set here then bind
 * it exactly as they bind an ordinary service user.
 */

const tsx = join(process.cwd(), 'node_modules/.bin/tsx');
const asRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const root = mkdtempSync(join(tmpdir(), 'taskforge-startup-'));
// The server may run as another user: it must reach the folders below.
chmodSync(root, 0o755);
afterAll(() => {
  chmodSync(root, 0o755);
  rmSync(root, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startServer(env: Record<string, string>): Run {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(NODE_ENV|JWT_SECRET|DATABASE_URL|REDIS_URL|PORT|HOST|PUBLIC_URL|ADMIN_.*)$/.test(k),
    ),
  );
  const child = spawn(tsx, [join(process.cwd(), 'src/server.ts')], {
    cwd: root,
    env: { ...clean, JWT_SECRET: 'start-up-checks-secret-of-32-bytes-or-more', LOG_LEVEL: 'warn', ...env },
    ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  child.stdout?.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stderr: () => err, exited };
}

/** A migrated SQLite database in its own folder, owned by the user the server runs as. */
async function migratedFolder(name: string): Promise<{ folder: string; file: string }> {
  const folder = join(root, name);
  mkdirSync(folder);
  const file = join(folder, 'db.sqlite');
  const handle = openDatabase({ kind: 'sqlite', filename: file });
  await migrateToLatest(handle);
  await handle.close(); // the last connection removes -wal and -shm
  if (asRoot) {
    chownSync(folder, NOBODY, NOBODY);
    chownSync(file, NOBODY, NOBODY);
  }
  return { folder, file };
}

/** The exit code, or 'serving' once the server answers: it should have refused to start. */
async function outcome(run: Run, port: number): Promise<number | null | 'serving'> {
  let exit: number | null | undefined;
  void run.exited.then((code) => {
    exit = code;
  });
  for (;;) {
    if (exit !== undefined) return exit;
    const live = await fetch(`http://127.0.0.1:${port}/health/live`).then(
      (r) => r.ok,
      () => false,
    );
    if (live) {
      run.child.kill('SIGTERM');
      await run.exited;
      return 'serving';
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function expectRefusal(env: Record<string, string>, pattern: RegExp): Promise<void> {
  const port = await freePort();
  const run = startServer({ ...env, PORT: String(port) });
  expect(await outcome(run, port)).toBe(1);
  const lines = run.stderr().trim().split('\n');
  expect(lines).toEqual([expect.stringMatching(pattern)]);
}

// The PostgreSQL pass runs the same SQLite files: once is enough.
describe.skipIf(process.env.TEST_DATABASE_URL)('start-up refuses a database it cannot write', () => {
  it('a read-only file: one line naming DATABASE_URL and the reason', async () => {
    const { file } = await migratedFolder('read-only-file');
    chmodSync(file, 0o400);
    await expectRefusal(
      { DATABASE_URL: `sqlite:${file}` },
      new RegExp(`^DATABASE_URL sqlite:${file} cannot be written: .*readonly database.*; the user running`),
    );
  });

  it('a read-only folder (no room for -wal and -shm): one line naming DATABASE_URL', async () => {
    const { folder, file } = await migratedFolder('read-only-folder');
    chmodSync(folder, 0o500);
    try {
      await expectRefusal(
        { DATABASE_URL: `sqlite:${file}`, MIGRATE_ON_START: 'false' },
        new RegExp(`^DATABASE_URL sqlite:${file} cannot be opened for writing: .+`),
      );
      // Without JWT_SECRET the generated one cannot be kept there either: said first, in one line.
      await expectRefusal(
        { DATABASE_URL: `sqlite:${file}`, JWT_SECRET: '' },
        new RegExp(
          `cannot keep the generated JWT_SECRET in ${folder}/jwt-secret: .*; make its folder writable or set JWT_SECRET$`,
        ),
      );
    } finally {
      chmodSync(folder, 0o700);
    }
  });
});

describe('a zero-configuration start with MIGRATE_ON_START=false', () => {
  it('starts, live is 200, ready is 503 naming the schema; its data folder and files are private', async () => {
    const parent = join(root, 'unmigrated');
    mkdirSync(parent);
    if (asRoot) chownSync(parent, NOBODY, NOBODY);
    const folder = join(parent, 'data');
    const port = await freePort();
    const run = startServer({
      DATABASE_URL: `sqlite:${join(folder, 'db.sqlite')}`,
      JWT_SECRET: '',
      PORT: String(port),
      MIGRATE_ON_START: 'false',
    });
    try {
      let live = 0;
      for (let i = 0; i < 300 && live !== 200; i += 1) {
        live = await fetch(`http://127.0.0.1:${port}/health/live`).then(
          (r) => r.status,
          () => 0,
        );
        if (live !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(live).toBe(200);
      const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as { code: string; detail: string };
      expect(body.code).toBe('not_ready');
      expect(body.detail).toMatch(/^check schema is behind the code/);
      expect(run.stderr()).toBe('');
      const mode = (name: string) => statSync(join(folder, name)).mode & 0o777;
      expect(statSync(folder).mode & 0o777).toBe(0o700);
      expect(['jwt-secret', 'db.sqlite', 'db.sqlite-wal', 'db.sqlite-shm'].map(mode)).toEqual([
        0o600, 0o600, 0o600, 0o600,
      ]);
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
    }
  });
});
