import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../../src/db/migrations/index.js';
import { serviceVersion } from '../../src/lib/package-info.js';
import { TEST_SECRET } from '../helpers/app.js';
import { freePort } from '../helpers/free-port.js';
import { parse, value } from '../helpers/metrics.js';
import { until } from '../helpers/wait.js';

/**
 * The production start, on a copy of the repository as a fresh clone has it (sources, scripts,
 * package files; node_modules linked, as `npm ci` would install it): `npm start` compiles once
 * (the only compile of the suite), then every case here runs the compiled `dist/`: the compiled
 * CLI, WEB_CONCURRENCY workers under node:cluster, HTTPS with a certificate made at run time.
 */

const repo = process.cwd();
let clone = '';
const bareDirs: string[] = [];
const running = new Set<Run>();

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** The environment of a fresh shell: none of the test run's settings. */
function cleanEnv(env: Record<string, string>): Record<string, string> {
  const kept = Object.entries(process.env).filter(
    ([key]) =>
      !/^(NODE_ENV|JWT_SECRET|DATABASE_URL|REDIS_URL|PORT|HOST|PUBLIC_URL|TEST_.*|VITEST.*)$/.test(key),
  );
  return { ...(Object.fromEntries(kept) as Record<string, string>), ...env };
}

/** A process in its own group, so a SIGTERM reaches npm and the server it started alike. */
function run(command: string, args: string[], env: Record<string, string>, cwd = clone): Run {
  const child = spawn(command, args, { cwd, env: cleanEnv(env), detached: true });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const started: Run = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: new Promise((resolve) =>
      child.on('exit', (code) => {
        running.delete(started);
        resolve(code);
      }),
    ),
  };
  running.add(started);
  return started;
}

function signalGroup(started: Run, signal: NodeJS.Signals): void {
  if (started.child.pid !== undefined) process.kill(-started.child.pid, signal);
}

/** The JSON log lines a server wrote to stdout. */
function logLines(started: Run): Record<string, unknown>[] {
  return started
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function answers(url: string): Promise<boolean> {
  try {
    // A new connection each time: the cluster hands each connection to one worker.
    return (await fetch(url, { headers: { connection: 'close' } })).ok;
  } catch {
    return false;
  }
}

async function waitAnswering(port: number, started: Run, timeoutMs = 30_000): Promise<void> {
  let exited = false;
  void started.exited.then(() => {
    exited = true;
  });
  await until(async () => {
    if (exited) throw new Error(`server exited before it answered: ${started.stderr()}`);
    return answers(`http://127.0.0.1:${port}/health/live`);
  }, timeoutMs);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

beforeAll(() => {
  clone = mkdtempSync(join(tmpdir(), 'taskforge-clone-'));
  for (const name of [
    'src',
    'scripts',
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsconfig.build.json',
  ]) {
    cpSync(join(repo, name), join(clone, name), { recursive: true });
  }
  symlinkSync(join(repo, 'node_modules'), join(clone, 'node_modules'), 'dir');
});
afterAll(async () => {
  for (const started of running) signalGroup(started, 'SIGKILL');
  await Promise.all([...running].map((started) => started.exited));
  for (const dir of [clone, ...bareDirs]) rmSync(dir, { recursive: true, force: true });
});

describe('npm start on a fresh clone with zero configuration', () => {
  it('compiles src/ into dist/ once, then serves from dist/: the API, the docs and their assets', async () => {
    expect(existsSync(join(clone, 'dist'))).toBe(false);
    const port = await freePort();
    const started = run('npm', ['start'], { PORT: String(port) });
    await waitAnswering(port, started, 120_000);
    expect(started.stderr()).toContain('dist/ has not been built: compiling src/ into dist/');
    expect(existsSync(join(clone, 'dist/server.js'))).toBe(true);
    expect(existsSync(join(clone, 'dist/db/migrations/0001-create-users.js'))).toBe(true);
    // The version comes from package.json, read relative to the compiled file.
    const root = await (await fetch(`http://127.0.0.1:${port}/`)).json();
    expect(root).toMatchObject({ name: 'Taskforge', version: serviceVersion() });
    expect((await fetch(`http://127.0.0.1:${port}/health/ready`)).status).toBe(200);
    for (const path of ['/docs', '/redoc', '/openapi.json']) {
      expect((await fetch(`http://127.0.0.1:${port}${path}`)).status, path).toBe(200);
    }
    const redoc = await (await fetch(`http://127.0.0.1:${port}/redoc`)).text();
    const bundle = /src="([^"]*redoc[^"]*\.js)"/.exec(redoc)?.[1];
    expect(bundle).toBeDefined();
    expect((await fetch(new URL(bundle ?? '', `http://127.0.0.1:${port}/redoc`))).status).toBe(200);
    // The process npm started is node on the compiled entry point, no TypeScript loader.
    const processes = execFileSync('ps', ['-o', 'pid=,args=', '-g', String(started.child.pid)]).toString();
    expect(processes).not.toMatch(/tsx/);
    const server = /^\s*(\d+) node dist\/server\.js$/m.exec(processes)?.[1];
    expect(server, processes).toBeDefined();
    // SIGTERM to the server (as an orchestrator signals it): it stops cleanly, and npm with it.
    process.kill(Number(server), 'SIGTERM');
    expect(await started.exited).toBe(0);
  });

  it('keeps a fresh build and rebuilds after a change to a source, a tsconfig or the lock file', () => {
    const check = () => {
      try {
        return execFileSync(process.execPath, ['scripts/ensure-build.mjs', '--check'], {
          cwd: clone,
        }).toString();
      } catch (error) {
        return String((error as { stdout: Buffer }).stdout);
      }
    };
    expect(check()).toBe('fresh\n');
    const later = new Date(Date.now() + 60_000);
    const earlier = new Date(Date.now() - 3_600_000);
    for (const file of ['src/lib/text.ts', 'tsconfig.build.json', 'package-lock.json']) {
      utimesSync(join(clone, file), later, later);
      expect(check(), file).toBe(`stale: ${file} changed after the last build\n`);
      utimesSync(join(clone, file), earlier, earlier);
      expect(check(), file).toBe('fresh\n');
    }
    // Starting again with a fresh build compiles nothing: prestart is silent.
    const prestart = execFileSync(process.execPath, ['scripts/ensure-build.mjs'], {
      cwd: clone,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(prestart.toString()).toBe('');
  });

  it('runs the compiled CLI: npm run migrate applies the migrations dist/ holds', async () => {
    const file = join(clone, 'cli.db');
    const migrate = run('npm', ['run', '--silent', 'migrate'], { DATABASE_URL: `sqlite:${file}` });
    expect(await migrate.exited).toBe(0);
    expect(migrate.stderr()).toBe('');
    // Every migration the sources list, in order (dist/ holds the same map).
    expect(migrate.stdout()).toBe(`applied: ${Object.keys(migrations).join(', ')}\n`);
    const status = run('npm', ['run', '--silent', 'migrate', '--', 'status'], {
      DATABASE_URL: `sqlite:${file}`,
    });
    expect(await status.exited).toBe(0);
    expect(status.stdout()).toMatch(/schema: up to date\n$/);
  });

  it('refuses a stale build in one line when TypeScript is not installed (npm ci --omit=dev)', async () => {
    // Outside the clone, where no node_modules above it holds TypeScript.
    const bare = mkdtempSync(join(tmpdir(), 'taskforge-bare-'));
    bareDirs.push(bare);
    mkdirSync(join(bare, 'scripts'), { recursive: true });
    mkdirSync(join(bare, 'src'));
    cpSync(join(repo, 'scripts/ensure-build.mjs'), join(bare, 'scripts/ensure-build.mjs'));
    writeFileSync(join(bare, 'src/server.ts'), '');
    const started = run(process.execPath, ['scripts/ensure-build.mjs'], {}, bare);
    expect(await started.exited).toBe(1);
    const lines = started.stderr().trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^dist\/ has not been built, and TypeScript is not installed/),
    ]);
  });
});

describe('WEB_CONCURRENCY', () => {
  it('runs N workers that all answer, replaces one that dies, and stops them all on SIGTERM', async () => {
    const port = await freePort();
    const started = run(process.execPath, ['dist/server.js'], {
      PORT: String(port),
      DATABASE_URL: `sqlite:${join(clone, 'cluster.db')}`,
      JWT_SECRET: TEST_SECRET,
      WEB_CONCURRENCY: '2',
      // A Redis that is down only degrades the service; the shared one when the run has it.
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      RATE_LIMIT_MAX: '1000000',
      LOG_LEVEL: 'info',
    });
    const listening = () =>
      logLines(started)
        .filter((line) => line.msg === 'worker listening')
        .map((line) => Number(line.workerPid));
    await until(() => listening().length === 2, 60_000);
    await waitAnswering(port, started);
    const [first, second] = listening() as [number, number];
    expect(first).not.toBe(second);
    // The primary migrated before forking: one process applied the migrations, the primary.
    expect(logLines(started).filter((line) => line.msg === 'worker listening')).toHaveLength(2);

    // Requests on new connections are shared between the workers (each logs its own pid).
    const served = () =>
      new Set(
        logLines(started)
          .filter((line) => line.msg === 'request completed' && line.pid !== started.child.pid)
          .map((line) => Number(line.pid)),
      );
    let sent = 0;
    for (; sent < 20 && served().size < 2; sent += 1) await answers(`http://127.0.0.1:${port}/`);
    expect([...served()].sort()).toEqual([first, second].sort());

    // Whichever worker a scrape reaches, it reports the whole service: every request to / counted once.
    const scrapedBy = () =>
      new Set(
        logLines(started)
          .filter((line) => line.msg === 'request completed' && line.url === '/metrics')
          .map((line) => Number(line.pid)),
      );
    for (let i = 0; i < 20 && (i < 2 || scrapedBy().size < 2); i += 1) {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { connection: 'close' } });
      expect(res.status).toBe(200);
      const samples = parse(await res.text());
      const root = { http_request_method: 'GET', http_route: '/', http_response_status_code: '200' };
      expect(value(samples, 'http_server_request_duration_seconds_count', root)).toBe(sent);
    }
    expect([...scrapedBy()].sort()).toEqual([first, second].sort());

    // One worker killed: the other keeps answering, and a third takes its place.
    process.kill(first, 'SIGKILL');
    await until(
      () => logLines(started).some((line) => line.msg === 'worker exited; starting another'),
      10_000,
    );
    for (let i = 0; i < 5; i += 1) expect(await answers(`http://127.0.0.1:${port}/`)).toBe(true);
    await until(() => listening().length === 3, 30_000);
    const third = listening()[2] ?? 0;
    expect([first, second]).not.toContain(third);
    expect(alive(third)).toBe(true);

    signalGroup(started, 'SIGTERM');
    expect(await started.exited).toBe(0);
    expect(alive(second)).toBe(false);
    expect(alive(third)).toBe(false);
    expect(logLines(started).filter((line) => line.msg === 'stopped').length).toBeGreaterThanOrEqual(3);
  });
});

describe('WEB_CONCURRENCY with METRICS_PORT', () => {
  it("has the primary serve every worker's metrics on METRICS_PORT; the public port answers 404", async () => {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const started = run(process.execPath, ['dist/server.js'], {
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      DATABASE_URL: `sqlite:${join(clone, 'cluster-metrics.db')}`,
      JWT_SECRET: TEST_SECRET,
      WEB_CONCURRENCY: '2',
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
      RATE_LIMIT_MAX: '1000000',
      LOG_LEVEL: 'info',
    });
    const listening = () => logLines(started).filter((line) => line.msg === 'worker listening').length;
    await until(() => listening() === 2, 60_000);
    await waitAnswering(port, started);
    const sent = 10;
    for (let i = 0; i < sent; i += 1) expect(await answers(`http://127.0.0.1:${port}/`)).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);

    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(res.status).toBe(200);
    const samples = parse(await res.text());
    const root = { http_request_method: 'GET', http_route: '/', http_response_status_code: '200' };
    expect(value(samples, 'http_server_request_duration_seconds_count', root)).toBe(sent);
    // Process metrics: summed over the workers, the event-loop lag averaged, one series each.
    expect(value(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(value(samples, 'nodejs_eventloop_lag_max_seconds')).toBeGreaterThanOrEqual(0);
    // Both workers served some of them: the count is not one worker's.
    const servedBy = logLines(started)
      .filter((line) => line.msg === 'request completed' && line.url === '/')
      .map((line) => Number(line.pid));
    expect(new Set(servedBy).size).toBe(2);

    signalGroup(started, 'SIGTERM');
    expect(await started.exited).toBe(0);
  });
});

describe('HTTPS with TLS_CERT_FILE and TLS_KEY_FILE', () => {
  let cert = '';
  let key = '';
  beforeAll(() => {
    // Node's crypto cannot issue an X.509 certificate: Debian's openssl makes a self-signed one.
    cert = join(clone, 'cert.pem');
    key = join(clone, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
  });

  function env(port: number, extra: Record<string, string> = {}): Record<string, string> {
    return {
      PORT: String(port),
      DATABASE_URL: `sqlite:${join(clone, 'tls.db')}`,
      JWT_SECRET: TEST_SECRET,
      PUBLIC_URL: `https://127.0.0.1:${port}`,
      TLS_CERT_FILE: cert,
      TLS_KEY_FILE: key,
      LOG_LEVEL: 'warn',
      ...extra,
    };
  }

  function httpsGet(port: number, path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port, path, ca: readFileSync(cert), agent: false },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => {
            body += chunk.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('serves HTTPS that a client trusting the certificate reads, and no plain HTTP', async () => {
    const port = await freePort();
    const started = run(process.execPath, ['dist/server.js'], env(port));
    await until(async () => {
      if (started.child.exitCode !== null) throw new Error(`server exited: ${started.stderr()}`);
      return httpsGet(port, '/health/live').then(
        (res) => res.status === 200,
        () => false,
      );
    }, 30_000);
    const root = await httpsGet(port, '/');
    expect(root.status).toBe(200);
    expect(JSON.parse(root.body)).toMatchObject({ docs: `https://127.0.0.1:${port}/docs` });
    expect(await answers(`http://127.0.0.1:${port}/health/live`)).toBe(false);
    signalGroup(started, 'SIGTERM');
    expect(await started.exited).toBe(0);
  });

  it.each([
    [
      'a certificate path that does not exist',
      { TLS_CERT_FILE: '/nonexistent/cert.pem' },
      /^Invalid configuration: TLS_CERT_FILE cannot be read: \/nonexistent\/cert\.pem \(ENOENT\)$/,
    ],
    [
      'a key path that does not exist',
      { TLS_KEY_FILE: '/nonexistent/key.pem' },
      /^Invalid configuration: TLS_KEY_FILE cannot be read: \/nonexistent\/key\.pem \(ENOENT\)$/,
    ],
    [
      'a key that is not PEM',
      { TLS_KEY_FILE: join(repo, 'package.json') },
      /^Invalid configuration: TLS_CERT_FILE and TLS_KEY_FILE must be a PEM certificate and its key/,
    ],
  ])('stops at start-up with one line for %s', async (_what, extra, line) => {
    const started = run(process.execPath, ['dist/server.js'], env(await freePort(), extra));
    expect(await started.exited).toBe(1);
    expect(started.stderr().trim().split('\n')).toEqual([expect.stringMatching(line)]);
  });
});
