/**
 * npm run profile — where a request's time goes (a measurement, not a test).
 *
 * For each scenario of the benchmark (health, GET one task, list 20 with total, create), starts
 * the built service (dist/server.js, NODE_ENV=production, SQLite file, rate limits on and roomy,
 * metrics on, log level warn: the bench's settings) under `node --cpu-prof`, loads it with wrk
 * (one thread, 64 connections), stops it, and sorts every sample taken under load (start-up and
 * seeding left out) into one category
 * by the innermost frame a category claims (SQLite before Kysely before our code, and so on; see
 * CATEGORIES). Prints one table per scenario: the share of busy time and µs per request. The
 * profiles stay in the printed folder (open them in Chrome DevTools or speedscope for a flame
 * graph).
 *
 *   npm run build && npm run profile
 *   PROFILE_SECONDS=20 npm run profile -- get-one list
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../test/helpers/free-port.js';
import { startBenchServer } from './bench-server.js';

const ROOT = resolve(import.meta.dirname, '..');
const SECONDS = Number(process.env.PROFILE_SECONDS ?? 10);
const PASSWORD = 'correct horse battery staple';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  /** µs of the monotonic clock, which process.hrtime reads too (CLOCK_MONOTONIC on Linux). */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Innermost match wins: a frame in better-sqlite3 inside Kysely inside a service is SQLite. */
const CATEGORIES: [string, (frame: ProfileNode['callFrame']) => boolean][] = [
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  // better-sqlite3's calls have no frames of their own: their time is the self time of the JS
  // that calls them, Kysely's SQLite driver and our connection's wrapper (dist/db/database.js).
  [
    'SQLite (better-sqlite3)',
    (f) =>
      f.url.includes('/better-sqlite3/') ||
      f.url.includes('/dialect/sqlite/sqlite-driver.js') ||
      f.url.endsWith('/dist/db/database.js'),
  ],
  ['SQL building (Kysely)', (f) => f.url.includes('/kysely/')],
  ['serialization (fast-json-stringify)', (f) => f.url.includes('/fast-json-stringify/')],
  ['logging (pino)', (f) => /\/(pino|pino-std-serializers|sonic-boom|thread-stream)\//.test(f.url)],
  ['metrics (prom-client)', (f) => f.url.includes('/prom-client/')],
  ['rate limit (@fastify/rate-limit)', (f) => f.url.includes('/@fastify/rate-limit/')],
  ['validation (ajv)', (f) => /\/(ajv|ajv-formats|fast-uri)\//.test(f.url)],
  [
    'JWT and hashing (node:crypto)',
    (f) => f.url.startsWith('node:internal/crypto') || f.url === 'node:crypto',
  ],
  ['authentication (ours)', (f) => f.url.includes('/dist/modules/auth/')],
  ['our code (dist/)', (f) => f.url.includes(`${ROOT}/dist/`)],
  [
    'other packages',
    (f) =>
      f.url.includes('/node_modules/') && !/\/(fastify|find-my-way|avvio|light-my-request)\//.test(f.url),
  ],
  ['fastify (routing, hooks, reply)', (f) => /\/(fastify|find-my-way|avvio|@fastify\/[^/]+)\//.test(f.url)],
  [
    'HTTP and sockets (node)',
    (f) => /^node:(_http|http|net|internal\/(http|stream|streams|net))/.test(f.url),
  ],
  ['node internals', (f) => f.url.startsWith('node:')],
];

/** Each sample taken between `from` and `to` (µs, monotonic), by category. */
function categorize(profile: CpuProfile, from: number, to: number): Map<string, number> {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const categoryOf = new Map<number, string>();
  const resolveNode = (id: number): string => {
    const known = categoryOf.get(id);
    if (known) return known;
    // Innermost first: this frame, then its callers.
    let category = 'other (native, program)';
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (!frame) break;
      if (frame.functionName === '(idle)') {
        category = 'idle';
        break;
      }
      const match = CATEGORIES.find(([, test]) => test(frame));
      if (match) {
        category = match[0];
        break;
      }
    }
    categoryOf.set(id, category);
    return category;
  };
  const totals = new Map<string, number>();
  let time = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    time += delta;
    if (time < from || time > to) return;
    const category = resolveNode(id);
    totals.set(category, (totals.get(category) ?? 0) + delta);
  });
  return totals;
}

async function call(port: number, method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status}: ${await res.text()}`);
  return res.json() as Promise<Record<string, unknown>>;
}

interface Scenario {
  name: string;
  method: string;
  /** The path to load, after `seed` ran. */
  seed(port: number): Promise<{ path: string; token?: string; body?: string }>;
}

async function signedIn(port: number): Promise<string> {
  const email = `profile-${Date.now()}@example.com`;
  await call(port, 'POST', '/api/v1/auth/register', undefined, { email, password: PASSWORD, name: 'P' });
  const login = await call(port, 'POST', '/api/v1/auth/login', undefined, { email, password: PASSWORD });
  return String(login.accessToken);
}

async function withTasks(port: number): Promise<{ token: string; id: string }> {
  const token = await signedIn(port);
  let id = '';
  for (let i = 0; i < 100; i++) {
    const task = await call(port, 'POST', '/api/v1/tasks', token, { title: `task ${i}`, description: 'd' });
    id = String(task.id);
  }
  return { token, id };
}

const SCENARIOS: Scenario[] = [
  { name: 'health', method: 'GET', seed: async () => ({ path: '/health/live' }) },
  {
    name: 'get-one',
    method: 'GET',
    seed: async (port) => {
      const { token, id } = await withTasks(port);
      return { path: `/api/v1/tasks/${id}`, token };
    },
  },
  {
    name: 'list',
    method: 'GET',
    seed: async (port) => {
      const { token } = await withTasks(port);
      return { path: '/api/v1/tasks?page=1&size=20', token };
    },
  },
  {
    name: 'create',
    method: 'POST',
    seed: async (port) => ({
      path: '/api/v1/tasks',
      token: await signedIn(port),
      body: JSON.stringify({ title: 'a task', description: 'from wrk', dueAt: '2030-01-01T00:00:00Z' }),
    }),
  },
];

function wrk(port: number, scenario: Scenario, target: { path: string; token?: string; body?: string }) {
  const dir = mkdtempSync(join(tmpdir(), 'taskforge-wrk-'));
  const script = join(dir, 'request.lua');
  const headers = [
    ...(target.token ? [`["Authorization"] = "Bearer ${target.token}"`] : []),
    ...(target.body ? ['["Content-Type"] = "application/json"'] : []),
  ];
  const lua = `wrk.method = "${scenario.method}"\nwrk.headers = { ${headers.join(', ')} }\n${
    target.body ? `wrk.body = ${JSON.stringify(target.body)}\n` : ''
  }`;
  writeFileSync(script, lua);
  try {
    const out = execFileSync(
      'wrk',
      ['-t1', '-c64', `-d${SECONDS}s`, '--latency', '-s', script, `http://127.0.0.1:${port}${target.path}`],
      { encoding: 'utf8' },
    );
    const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
    const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
    return { requests, rate, non2xx };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const out = mkdtempSync(join(tmpdir(), 'taskforge-profiles-'));
  console.log(`profiles in ${out}; ${SECONDS} s of wrk -t1 -c64 per scenario\n`);
  for (const scenario of SCENARIOS.filter((s) => wanted.length === 0 || wanted.includes(s.name))) {
    const dataDir = mkdtempSync(join(tmpdir(), 'taskforge-profile-data-'));
    const profileDir = join(out, scenario.name);
    mkdirSync(profileDir);
    const port = await freePort();
    const child = await startBenchServer(
      process.execPath,
      ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, join(ROOT, 'dist/server.js')],
      port,
      dataDir,
    );
    try {
      const target = await scenario.seed(port);
      const from = Number(process.hrtime.bigint() / 1000n);
      const load = wrk(port, scenario, target);
      const to = Number(process.hrtime.bigint() / 1000n);
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
      const file = readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'));
      if (!file) throw new Error(`no profile written in ${profileDir}`);
      const totals = categorize(
        JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as CpuProfile,
        from,
        to,
      );
      const busy = [...totals].filter(([name]) => name !== 'idle').reduce((sum, [, us]) => sum + us, 0);
      console.log(
        `## ${scenario.name}: ${load.rate.toFixed(0)} req/s, ${load.requests} requests${
          load.non2xx ? ` (${load.non2xx} not 2xx)` : ''
        }, busy ${(busy / 1e6).toFixed(1)} s of ${SECONDS} s under load\n`,
      );
      console.log('| where | share of busy time | µs per request |');
      console.log('| --- | ---: | ---: |');
      for (const [name, us] of [...totals].sort((a, b) => b[1] - a[1])) {
        if (name === 'idle') continue;
        console.log(
          `| ${name} | ${((100 * us) / busy).toFixed(1)} % | ${(us / Math.max(load.requests, 1)).toFixed(1)} |`,
        );
      }
      console.log(`| **all** | 100 % | ${(busy / Math.max(load.requests, 1)).toFixed(1)} |\n`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
}

await main();
