import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';

/**
 * The real entry point from the sources (tsx; `npm start` runs the compiled copy, which
 * production-start.test.ts covers): start-up refusals, zero-config start, SIGTERM.
 */

const tsx = join(process.cwd(), 'node_modules/.bin/tsx');
const dirs: string[] = [];
const running = new Set<Started>();
afterAll(async () => {
  // A test that fails before its SIGTERM must not leave its server running; wait for it to exit,
  // or it outlives this worker with its output pipes closed. (SIGTERM: tsx passes it on, while a
  // SIGKILL would stop tsx alone and orphan the server.)
  for (const run of running) run.child.kill('SIGTERM');
  await Promise.all([...running].map((run) => run.exited));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'taskforge-server-'));
  dirs.push(dir);
  return dir;
}

interface Started {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startServer(env: Record<string, string>, cwd: string): Started {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(NODE_ENV|JWT_SECRET|DATABASE_URL|REDIS_URL|PORT|HOST|PUBLIC_URL)$/.test(k),
    ),
  );
  const child = spawn(tsx, [join(process.cwd(), 'src/server.ts')], { cwd, env: { ...clean, ...env } });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const started: Started = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: new Promise<number | null>((resolve) =>
      child.on('exit', (code) => {
        running.delete(started);
        resolve(code);
      }),
    ),
  };
  running.add(started);
  return started;
}

/** Until the server answers, or exits; the test's own timeout bounds the wait on a loaded machine. */
async function waitForLive(port: number, run: Started): Promise<void> {
  let exited = false;
  void run.exited.then(() => {
    exited = true;
  });
  while (!exited) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health/live`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server exited before it answered: ${run.stderr()}`);
}

describe('start-up refusals', () => {
  it.each([
    [{ NODE_ENV: 'production', PUBLIC_URL: 'https://tasks.example.com' }, 'JWT_SECRET'],
    [{ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40) }, 'PUBLIC_URL'],
    [{ PORT: 'eighty' }, 'PORT'],
  ])('refuses %j with exit 1 and one line naming %s', async (env, variable) => {
    const dir = tempDir();
    const run = startServer({ ...env, DATABASE_URL: `sqlite:${dir}/db.sqlite` }, dir);
    expect(await run.exited).toBe(1);
    const lines = run.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^Invalid configuration: ${variable} `));
  });

  it('reports every bad or missing variable in one start-up, one line each', async () => {
    const dir = tempDir();
    const run = startServer(
      { NODE_ENV: 'production', PORT: 'eighty', ACCESS_TOKEN_TTL: '15 minutes', DATABASE_URL: 'mysql://db' },
      dir,
    );
    expect(await run.exited).toBe(1);
    const lines = run.stderr().trim().split('\n');
    expect(lines.sort()).toEqual([
      'Invalid configuration: ACCESS_TOKEN_TTL must be a duration such as 15m',
      expect.stringMatching(/^Invalid configuration: DATABASE_URL must start with sqlite: or postgres:\/\//),
      expect.stringMatching(/^Invalid configuration: JWT_SECRET is required in production/),
      'Invalid configuration: PORT must be a whole number from 0 to 65535',
      expect.stringMatching(/^Invalid configuration: PUBLIC_URL is required in production/),
    ]);
  });

  it('stops with one line naming DATABASE_URL, never its password, when PostgreSQL cannot be reached', async () => {
    const dir = tempDir();
    const port = await freePort();
    const run = startServer(
      { DATABASE_URL: `postgres://tasks:hunter2-secret@127.0.0.1:${port}/taskforge` },
      dir,
    );
    expect(await run.exited).toBe(1);
    const lines = run.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('DATABASE_URL');
    expect(lines[0]).toContain(`127.0.0.1:${port}`);
    expect(run.stderr() + run.stdout()).not.toContain('hunter2-secret');
  });
});

describe('a newcomer is guided', () => {
  it('warns about a mistyped .env name (not a library OTEL_ name), and logs the docs, the database and the admin to create', async () => {
    const dir = tempDir();
    const port = await freePort();
    const metricsPort = await freePort();
    const dbFile = join(dir, 'data/taskforge.db');
    writeFileSync(
      join(dir, '.env'),
      [
        `PORT=${port}`,
        `METRICS_PORT=${metricsPort}`,
        `DATABASE_URL=sqlite:${dbFile}`,
        'PROT=3102',
        'OTEL_SERVICE_NAME=taskforge',
        'RATE_LIMIT_MAX=50',
        'API_V1_SUNSET=2030-06-30',
        'LOG_LEVEL=info',
      ].join('\n'),
    );
    const run = startServer({}, dir);
    await waitForLive(port, run);
    const root = await fetch(`http://127.0.0.1:${port}/`);
    expect(root.status).toBe(200);
    expect(((await root.json()) as { docs: string }).docs).toBe(`http://127.0.0.1:${port}/docs`);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(200);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    const lines = run
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; level: number });
    const warnings = lines.filter((l) => l.level === 40).map((l) => l.msg);
    expect(warnings).toContain('PROT is not a Taskforge variable; did you mean PORT?');
    // /metrics is built: METRICS_PORT takes effect, without a warning.
    expect(warnings.join('\n')).not.toContain('METRICS_PORT');
    // Rate limits are built: their settings take effect, without a warning.
    expect(warnings.join('\n')).not.toContain('RATE_LIMIT_MAX');
    expect(warnings.join('\n')).not.toContain('OTEL_SERVICE_NAME');
    expect(warnings).toContainEqual(
      expect.stringMatching(/^no admin account yet: set ADMIN_EMAIL and ADMIN_PASSWORD/),
    );
    const messages = lines.map((l) => l.msg);
    expect(messages).toContainEqual(expect.stringContaining(`API docs at http://127.0.0.1:${port}/docs`));
    expect(messages).toContain(`database: SQLite file ${dbFile}`);
  });
});

describe('zero-configuration start and graceful stop', () => {
  it('migrates, serves, keeps a generated secret in the data folder, and exits 0 on SIGTERM', async () => {
    const dir = tempDir();
    const port = await freePort();
    const run = startServer(
      { PORT: String(port), DATABASE_URL: `sqlite:${dir}/data/taskforge.db`, LOG_LEVEL: 'info' },
      dir,
    );
    await waitForLive(port, run);
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
    expect(ready.status).toBe(200);
    const secretFile = statSync(join(dir, 'data/jwt-secret'));
    expect(secretFile.mode & 0o777).toBe(0o600);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    const lines = run
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string });
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
  });
});
