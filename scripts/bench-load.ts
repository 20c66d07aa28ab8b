/**
 * npm run bench:load — what load does to a normal request (a benchmark, not a test).
 *
 * Starts the service (src/server.ts through tsx; with `-- --built`, dist/server.js from npm run
 * build) on a temporary
 * SQLite database with roomy rate limits and production hashing, then measures GET
 * /api/v1/users/me (p50/p99 over a few sequential clients): calm; under a 20-client login storm
 * (clients that honour Retry-After, like any well-behaved client; floods that do not are the rate
 * limits' job); and while 200 connections send a few bytes of headers and stall (reopened as the
 * server closes them). Prints a table; nothing is asserted.
 *
 *   npm run bench:load                 # 10 s per phase
 *   npm run build && npm run bench:load -- --built
 *   BENCH_SECONDS=20 npm run bench:load
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../test/helpers/free-port.js';
import { startBenchServer } from './bench-server.js';

const ROOT = resolve(import.meta.dirname, '..');
const PHASE_MS = Number(process.env.BENCH_SECONDS ?? 10) * 1000;
const GET_CLIENTS = 2;
const STORM_CLIENTS = 20;
const STALLED = 200;
const PASSWORD = 'correct horse battery staple';

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

function call(
  port: number,
  agent: Agent,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<Reply> {
  return new Promise((done, fail) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: payload ? { ...headers, 'content-type': 'application/json' } : headers,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => done({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      },
    );
    req.on('error', fail);
    req.end(payload);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

interface Measured {
  count: number;
  errors: number;
  p50: number;
  p99: number;
}

/** GET_CLIENTS sequential clients reading /users/me until `until`. */
async function measureGets(port: number, token: string, until: number): Promise<Measured> {
  const latencies: number[] = [];
  let errors = 0;
  await Promise.all(
    Array.from({ length: GET_CLIENTS }, async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      while (Date.now() < until) {
        const start = performance.now();
        try {
          const res = await call(port, agent, 'GET', '/api/v1/users/me', {
            authorization: `Bearer ${token}`,
          });
          if (res.status === 200) latencies.push(performance.now() - start);
          else errors += 1;
        } catch {
          errors += 1;
        }
      }
      agent.destroy();
    }),
  );
  latencies.sort((a, b) => a - b);
  return { count: latencies.length, errors, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

interface Storm {
  ok: number;
  refused: number;
  other: number;
}

/** STORM_CLIENTS clients logging in over and over; a 503 waits its Retry-After. */
async function loginStorm(port: number, email: string, until: number): Promise<Storm> {
  const storm: Storm = { ok: 0, refused: 0, other: 0 };
  await Promise.all(
    Array.from({ length: STORM_CLIENTS }, async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      while (Date.now() < until) {
        try {
          const res = await call(
            port,
            agent,
            'POST',
            '/api/v1/auth/login',
            {},
            { email, password: PASSWORD },
          );
          if (res.status === 200) storm.ok += 1;
          else if (res.status === 503) {
            storm.refused += 1;
            await sleep(Number(res.headers['retry-after'] ?? 1) * 1000);
          } else storm.other += 1;
        } catch {
          storm.other += 1;
        }
      }
      agent.destroy();
    }),
  );
  return storm;
}

interface Stalling {
  opened: number;
  closedByServer: number;
  closeAfterMs: number[];
  stop(): void;
}

/** Keeps STALLED connections open that sent part of their headers; reopens those the server closes. */
function stall(port: number): Stalling {
  const state: Stalling = { opened: 0, closedByServer: 0, closeAfterMs: [], stop: () => {} };
  let stopping = false;
  const sockets = new Set<Socket>();
  const open = () => {
    if (stopping) return;
    const socket = connect(port, '127.0.0.1');
    const start = performance.now();
    state.opened += 1;
    sockets.add(socket);
    socket.on('connect', () => socket.write('GET /api/v1/users/me HTTP/1.1\r\nHost: bench\r\nX-Sl'));
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      if (stopping) return;
      state.closedByServer += 1;
      state.closeAfterMs.push(performance.now() - start);
      open();
    });
  };
  for (let i = 0; i < STALLED; i++) open();
  state.stop = () => {
    stopping = true;
    for (const socket of sockets) socket.destroy();
  };
  return state;
}

async function start(port: number, dataDir: string): Promise<ChildProcess> {
  // A stale dist/ would measure old code: the build is used only when asked for.
  const built = process.argv.includes('--built');
  if (built && !existsSync(join(ROOT, 'dist/server.js'))) throw new Error('run npm run build first');
  const [command, args] = built
    ? [process.execPath, [join(ROOT, 'dist/server.js')]]
    : [join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'src/server.ts')]];
  return startBenchServer(command, args, port, dataDir);
}

function row(name: string, m: Measured, note: string): string {
  const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '—');
  return `| ${name} | ${m.count} | ${ms(m.p50)} | ${ms(m.p99)} | ${note} |`;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'taskforge-bench-load-'));
  const port = await freePort();
  const child = await start(port, dataDir);
  try {
    const agent = new Agent({ keepAlive: true });
    const email = 'bench@example.com';
    await call(
      port,
      agent,
      'POST',
      '/api/v1/auth/register',
      {},
      { email, password: PASSWORD, name: 'Bench' },
    );
    const pair = JSON.parse(
      (await call(port, agent, 'POST', '/api/v1/auth/login', {}, { email, password: PASSWORD })).body,
    ) as { accessToken: string };
    const token = pair.accessToken;
    // Warm-up: JIT, caches, the first reads.
    await measureGets(port, token, Date.now() + 2000);

    const calm = await measureGets(port, token, Date.now() + PHASE_MS);

    const stormUntil = Date.now() + PHASE_MS;
    const [stormGets, storm] = await Promise.all([
      measureGets(port, token, stormUntil),
      loginStorm(port, email, stormUntil),
    ]);

    const stalling = stall(port);
    await sleep(500);
    const stalledGets = await measureGets(port, token, Date.now() + Math.max(PHASE_MS, 12_000));
    stalling.stop();
    const closes = stalling.closeAfterMs.sort((a, b) => a - b);

    const seconds = PHASE_MS / 1000;
    console.log(`GET /api/v1/users/me, ${GET_CLIENTS} sequential clients, ${seconds} s per phase\n`);
    console.log('| phase | GETs | p50 ms | p99 ms | meanwhile |');
    console.log('| --- | --- | --- | --- | --- |');
    console.log(row('calm', calm, '—'));
    console.log(
      row(
        `${STORM_CLIENTS}-client login storm`,
        stormGets,
        `${(storm.ok / seconds).toFixed(1)} logins/s; ${storm.refused} refused 503 overloaded; ${storm.other} other`,
      ),
    );
    console.log(
      row(
        `${STALLED} stalled connections`,
        stalledGets,
        `${stalling.closedByServer} stalled connections closed by the server (median after ${(percentile(closes, 50) / 1000).toFixed(1)} s), reopened`,
      ),
    );
    console.log(
      `\nstorm p99 / calm p99 = ${(stormGets.p99 / calm.p99).toFixed(2)}; GET errors: calm ${calm.errors}, storm ${stormGets.errors}, stalled ${stalledGets.errors}`,
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
