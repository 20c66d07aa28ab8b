/**
 * npm run check:instance-loss — losing an instance under load (run by CI).
 *
 * Two API instances (the compiled start, `node dist/server.js`) behind Debian's nginx on loopback share one PostgreSQL (a schema of its own,
 * dropped at the end) and one Redis. Clients send a steady mix of lists, reads and creates; every
 * create carries an Idempotency-Key, and a client retries a create that failed (network error, 502,
 * 503, 504) with the same key, as the contract asks of clients. Meanwhile instance A gets SIGKILL and,
 * a few seconds later, is started again. The script prints what was sent, the errors clients saw
 * (and for how long), and then checks in the database that every create acknowledged with a 2xx
 * exists, once, and that no key made two tasks. It exits 1 when a check fails.
 *
 * Environment: DATABASE_URL (PostgreSQL; default the CI database), REDIS_URL (default the local
 * Redis), NGINX (default `nginx` on the PATH), LOAD_SECONDS (default 15), CLIENTS (default 8).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { freePort } from '../test/helpers/free-port.js';

const ROOT = resolve(import.meta.dirname, '..');
const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const NGINX = process.env.NGINX || 'nginx';
const LOAD_MS = Number(process.env.LOAD_SECONDS || 15) * 1000;
const CLIENTS = Number(process.env.CLIENTS || 8);
const JWT_SECRET = randomBytes(32).toString('hex');
/**
 * How long a client keeps retrying one create. A create cut by the kill leaves its key leased for
 * the contract's 60 s (409 idempotency_in_progress with Retry-After): the retry after that decides.
 */
const GIVE_UP_MS = 75_000;

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function answers(url: string): Promise<boolean> {
  return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok;
}

interface Instance {
  name: string;
  port: number;
  child: ChildProcess | null;
}

function start(instance: Instance, databaseUrl: string, migrate: boolean): void {
  // The production start, as npm start runs it (compiled once by ensure-build before the run).
  const child = spawn(process.execPath, ['dist/server.js'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(instance.port),
      PUBLIC_URL: 'http://127.0.0.1',
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      JWT_SECRET,
      TRUST_PROXY: '127.0.0.1',
      MIGRATE_ON_START: migrate ? 'true' : 'false',
      LOG_LEVEL: 'warn',
      // Roomy limits: the load comes from a handful of users on one address.
      RATE_LIMIT_MAX: '100000000',
      AUTH_RATE_LIMIT_MAX: '100000',
      LOGIN_FAILURES_MAX: '100000',
      SHUTDOWN_DRAIN_DELAY: '0s',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  instance.child = child;
  child.on('exit', () => {
    if (instance.child === child) instance.child = null;
  });
}

function nginxConfig(dir: string, port: number, upstreams: number[]): string {
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream api {
${upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n')}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_connect_timeout 1s;
      proxy_read_timeout 10s;
      # nginx passes a failed GET to the other instance by itself; a POST it does not (it is not
      # idempotent): the client retries it with its Idempotency-Key.
      proxy_next_upstream error timeout http_502 http_503;
    }
  }
}
`;
}

interface Stats {
  sent: number;
  ok: number;
  errors: Map<string, number>;
  firstErrorAt: number | null;
  lastErrorAt: number | null;
  retries: number;
}

function recordError(stats: Stats, kind: string, t0: number): void {
  stats.errors.set(kind, (stats.errors.get(kind) ?? 0) + 1);
  // A 409 is a retry waiting for the lease of a create the kill cut: counted, not an outage.
  if (kind === '409') return;
  const at = Date.now() - t0;
  stats.firstErrorAt ??= at;
  stats.lastErrorAt = at;
}

async function main(): Promise<number> {
  if (!/^postgres(ql)?:/.test(DATABASE_URL)) {
    log('DATABASE_URL must name a PostgreSQL database: two instances share it');
    return 1;
  }
  if (spawnSync(NGINX, ['-v']).error) {
    log(`FAIL: ${NGINX} is not installed (Debian's package nginx)`);
    return 1;
  }
  // Compiles dist/ when it is missing or older than the sources, as `npm start` does first.
  if (
    spawnSync(process.execPath, ['scripts/ensure-build.mjs'], { cwd: ROOT, stdio: 'inherit' }).status !== 0
  ) {
    log('FAIL: the build did not complete');
    return 1;
  }
  const schema = `loss_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  const url = new URL(DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const dir = mkdtempSync(join(tmpdir(), 'taskforge-instance-loss-'));
  chmodSync(dir, 0o755);
  const a: Instance = { name: 'A', port: await freePort(), child: null };
  const b: Instance = { name: 'B', port: await freePort(), child: null };
  const proxyPort = await freePort();
  let nginx: ChildProcess | null = null;
  try {
    // A migrates; B starts once the schema is there.
    start(a, url.href, true);
    await waitFor(() => answers(`http://127.0.0.1:${a.port}/health/ready`), 60_000, 'instance A');
    start(b, url.href, false);
    await waitFor(() => answers(`http://127.0.0.1:${b.port}/health/ready`), 60_000, 'instance B');
    writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, proxyPort, [a.port, b.port]));
    nginx = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const base = `http://127.0.0.1:${proxyPort}`;
    await waitFor(() => answers(`${base}/health/live`), 10_000, 'nginx');

    // One user per client.
    const tokens: string[] = [];
    for (let i = 0; i < CLIENTS; i += 1) {
      const email = `loss-${i}-${schema}@example.com`;
      const password = `correct horse battery ${randomUUID()}`;
      const headers = { 'content-type': 'application/json' };
      const registered = await fetch(`${base}/api/v1/auth/register`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ email, password, name: `Client ${i}` }),
      });
      if (registered.status !== 201) throw new Error(`register answered ${registered.status}`);
      const login = await fetch(`${base}/api/v1/auth/login`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ email, password }),
      });
      if (login.status !== 200) throw new Error(`login answered ${login.status}`);
      tokens.push(((await login.json()) as { accessToken: string }).accessToken);
    }

    const stats: Stats = {
      sent: 0,
      ok: 0,
      errors: new Map(),
      firstErrorAt: null,
      lastErrorAt: null,
      retries: 0,
    };
    /** Idempotency key → the task id its acknowledged create returned. */
    const acknowledged = new Map<string, string>();
    /** Each client's own acknowledged tasks, which it reads back (another's would be a 404). */
    const own: string[][] = Array.from({ length: CLIENTS }, () => []);
    const gaveUp: string[] = [];
    /** The longest a create took from its first try to its acknowledgement, when it was retried. */
    let longestRetryMs = 0;
    const t0 = Date.now();
    /** The load runs LOAD_SECONDS, and at least LOAD_SECONDS / 3 past A's restart. */
    let stopAt = t0 + LOAD_MS;

    async function send(token: string, path: string, init: RequestInit = {}): Promise<Response | null> {
      stats.sent += 1;
      try {
        const response = await fetch(`${base}${path}`, {
          ...init,
          headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
          signal: AbortSignal.timeout(15_000),
        });
        if (response.ok) stats.ok += 1;
        else recordError(stats, String(response.status), t0);
        return response;
      } catch (error) {
        recordError(stats, `network (${(error as Error).name})`, t0);
        return null;
      }
    }

    async function create(token: string, client: number, n: number): Promise<void> {
      const key = `loss-${client}-${n}-${randomUUID()}`;
      const began = Date.now();
      for (let attempt = 1; Date.now() - began < GIVE_UP_MS; attempt += 1) {
        if (attempt > 1) stats.retries += 1;
        const response = await send(token, '/api/v1/tasks', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify({ title: key }),
        });
        if (response?.status === 201) {
          const { id } = (await response.json()) as { id: string };
          acknowledged.set(key, id);
          own[client]?.push(id);
          if (attempt > 1) longestRetryMs = Math.max(longestRetryMs, Date.now() - began);
          return;
        }
        await response?.body?.cancel();
        const retryAfter = Number(response?.headers.get('retry-after'));
        // 409 idempotency_in_progress: the first try still holds the key (or died holding it).
        if (response && ![409, 502, 503, 504].includes(response.status)) {
          throw new Error(`a create answered ${response.status}, which no retry fixes`);
        }
        await sleep(retryAfter > 0 ? retryAfter * 1000 : 100 + Math.random() * 300);
      }
      gaveUp.push(key);
    }

    async function client(index: number): Promise<void> {
      const token = tokens[index] as string;
      for (let n = 0; Date.now() < stopAt; n += 1) {
        const roll = Math.random();
        if (roll < 0.3) await create(token, index, n);
        else if (roll < 0.8) await (await send(token, '/api/v2/tasks?limit=20'))?.body?.cancel();
        else {
          const known = own[index] ?? [];
          const id = known[Math.floor(Math.random() * known.length)];
          if (id) await (await send(token, `/api/v1/tasks/${id}`))?.body?.cancel();
        }
      }
    }

    const load = Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
    await sleep(LOAD_MS / 3);
    const killedAt = Date.now() - t0;
    a.child?.kill('SIGKILL');
    log(`${(killedAt / 1000).toFixed(1)} s: SIGKILL to instance A (pid ${a.child?.pid})`);
    await sleep(LOAD_MS / 6);
    start(a, url.href, false);
    await waitFor(() => answers(`http://127.0.0.1:${a.port}/health/ready`), 60_000, 'instance A again');
    log(`${((Date.now() - t0) / 1000).toFixed(1)} s: instance A restarted and ready`);
    stopAt = Math.max(stopAt, Date.now() + LOAD_MS / 3);
    await load;
    const elapsed = Date.now() - t0;

    // The database, read directly.
    const { rows } = await admin.query<{ title: string; id: string }>(
      `select id, title from ${schema}.tasks`,
    );
    const byTitle = new Map<string, string[]>();
    for (const row of rows) byTitle.set(row.title, [...(byTitle.get(row.title) ?? []), row.id]);
    const missing = [...acknowledged].filter(([key, id]) => !byTitle.get(key)?.includes(id));
    const duplicated = [...byTitle].filter(([, ids]) => ids.length > 1);

    const errorCount = [...stats.errors.values()].reduce((sum, n) => sum + n, 0);
    log(`load: ${CLIENTS} clients for ${(elapsed / 1000).toFixed(1)} s through nginx to two instances`);
    log(
      `requests sent: ${stats.sent}, 2xx: ${stats.ok}, create retries: ${stats.retries} (the longest retried create took ${(longestRetryMs / 1000).toFixed(1)} s)`,
    );
    const window =
      stats.firstErrorAt === null
        ? 'none'
        : `from ${(stats.firstErrorAt / 1000).toFixed(1)} s to ${((stats.lastErrorAt ?? 0) / 1000).toFixed(1)} s`;
    log(
      `errors seen by clients: ${errorCount} (${[...stats.errors].map(([kind, n]) => `${kind}: ${n}`).join(', ') || 'none'}); ` +
        `failures other than 409 (a retry waiting for the lease of a create the kill cut): ${window}, the kill at ${(killedAt / 1000).toFixed(1)} s`,
    );
    log(
      `creates acknowledged: ${acknowledged.size}; tasks in the database: ${rows.length}; given up after ${GIVE_UP_MS / 1000} s: ${gaveUp.length}`,
    );
    const failures = [
      ...(missing.length ? [`${missing.length} acknowledged creates are not in the database`] : []),
      ...(duplicated.length ? [`${duplicated.length} keys made more than one task`] : []),
      ...(gaveUp.length ? [`${gaveUp.length} creates never succeeded`] : []),
      ...(rows.length !== acknowledged.size
        ? [`${rows.length} tasks for ${acknowledged.size} acknowledged creates`]
        : []),
      ...(acknowledged.size === 0 ? ['no create was acknowledged: no load was applied'] : []),
    ];
    for (const failure of failures) log(`FAIL: ${failure}`);
    if (failures.length === 0) log('every acknowledged write is in the database, once');
    return failures.length ? 1 : 0;
  } finally {
    nginx?.kill('SIGQUIT');
    for (const instance of [a, b]) instance.child?.kill('SIGKILL');
    await sleep(200);
    await admin.query(`drop schema if exists ${schema} cascade`).catch(() => {});
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`FAIL: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
