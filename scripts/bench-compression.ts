/**
 * npm run bench:compression — what response compression costs and saves (a benchmark, not a test).
 *
 * Builds when stale (scripts/ensure-build.mjs, as npm start does), starts dist/server.js on a
 * temporary SQLite database, and measures each reply with and without a compressed coding
 * negotiated, in the same run: small replies (`GET /`, one task) that stay under the 1 KiB
 * threshold, and large ones (a 100-task list, the OpenAPI document) that are compressed. The
 * baseline is a request without `Accept-Encoding`, so no setting is needed to turn compression off;
 * it still passes through the plugin's hook, which returns at once when nothing is accepted.
 *
 * One keep-alive connection per case (node:http Agent, one socket each), one request at a time,
 * the cases interleaved round by round in a random order, so drift in the machine's load falls
 * on every case alike. Time is to the reply's last byte, bytes are as they crossed the wire (the
 * client does not decode: that is the client's cost, not the server's). Prints a table; nothing is
 * asserted.
 *
 *   npm run bench:compression                     # 3,000 requests per case (300 for the document)
 *   BENCH_REQUESTS=5000 npm run bench:compression
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { freePort } from '../test/helpers/free-port.js';
import { startBenchServer } from './bench-server.js';

const ROOT = resolve(import.meta.dirname, '..');
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 3000);
/** The 1.5 MB document takes milliseconds to compress: a tenth as many keeps the run short. */
const DOCUMENT_REQUESTS = Math.max(1, Math.round(REQUESTS / 10));
const WARM_UP_ROUNDS = 100;
const TASKS = 100;
const PASSWORD = 'correct horse battery staple';
const BROWSER = 'br, gzip';

interface Reply {
  status: number;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
  ms: number;
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
    const start = performance.now();
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
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          done({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks),
            headers: res.headers,
            ms: performance.now() - start,
          }),
        );
      },
    );
    req.on('error', fail);
    req.end(payload);
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function decode(reply: Reply): Buffer {
  const coding = reply.headers['content-encoding'];
  if (coding === 'br') return brotliDecompressSync(reply.body);
  if (coding === 'gzip') return gunzipSync(reply.body);
  if (coding === undefined) return reply.body;
  throw new Error(`unexpected Content-Encoding ${String(coding)}`);
}

interface Case {
  reply: string;
  path: string;
  acceptEncoding: string | undefined;
  /** How many rounds this case takes part in. */
  requests: number;
  headers: Record<string, string>;
  agent: Agent;
  ms: number[];
  bytes: number;
  coding: string;
  errors: number;
}

async function start(port: number, dataDir: string): Promise<ChildProcess> {
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts/ensure-build.mjs')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (build.status !== 0) throw new Error('the build failed');
  return startBenchServer(process.execPath, [join(ROOT, 'dist/server.js')], port, dataDir);
}

/** A user with TASKS tasks (titles, descriptions and tags like a real list); returns one task's id and a token. */
async function seed(port: number): Promise<{ token: string; taskId: string }> {
  const agent = new Agent({ keepAlive: true });
  const email = 'bench@example.com';
  await call(port, agent, 'POST', '/api/v1/auth/register', {}, { email, password: PASSWORD, name: 'Bench' });
  const login = await call(port, agent, 'POST', '/api/v1/auth/login', {}, { email, password: PASSWORD });
  const { accessToken } = JSON.parse(login.body.toString('utf8')) as { accessToken: string };
  const auth = { authorization: `Bearer ${accessToken}` };
  let taskId = '';
  for (let i = 0; i < TASKS; i++) {
    const created = await call(port, agent, 'POST', '/api/v1/tasks', auth, {
      title: `Task ${i + 1}: ${['call the plumber', 'renew the lease', 'file the receipts', 'buy milk'][i % 4]}`,
      description: `Step ${i + 1} of the move; see the shared checklist before starting.`,
      priority: ['low', 'medium', 'high'][i % 3],
      tags: ['home', i % 2 === 0 ? 'errands' : 'paperwork'],
      dueAt: new Date(Date.UTC(2031, 0, 1 + i)).toISOString(),
    });
    if (created.status !== 201)
      throw new Error(`creating a task: ${created.status} ${created.body.toString()}`);
    if (i === 0) taskId = (JSON.parse(created.body.toString('utf8')) as { id: string }).id;
  }
  agent.destroy();
  return { token: accessToken, taskId };
}

function cases(token: string, taskId: string): Case[] {
  const auth = { authorization: `Bearer ${token}` };
  const replies: Array<[string, string, Record<string, string>, number, Array<string | undefined>]> = [
    ['`GET /`', '/', {}, REQUESTS, [undefined, BROWSER]],
    ['`GET /api/v1/tasks/{id}`', `/api/v1/tasks/${taskId}`, auth, REQUESTS, [undefined, BROWSER]],
    [
      `\`GET /api/v2/tasks?limit=${TASKS}\``,
      `/api/v2/tasks?limit=${TASKS}`,
      auth,
      REQUESTS,
      [undefined, BROWSER, 'gzip'],
    ],
    ['`GET /openapi.json`', '/openapi.json', {}, DOCUMENT_REQUESTS, [undefined, BROWSER, 'gzip']],
  ];
  return replies.flatMap(([reply, path, headers, requests, encodings]) =>
    encodings.map((acceptEncoding) => ({
      reply,
      path,
      acceptEncoding,
      requests,
      headers: acceptEncoding === undefined ? headers : { ...headers, 'accept-encoding': acceptEncoding },
      agent: new Agent({ keepAlive: true, maxSockets: 1 }),
      ms: [],
      bytes: 0,
      coding: '',
      errors: 0,
    })),
  );
}

/**
 * Rounds of one request per case, each round in a fresh random order: a fixed or rotated order
 * would give each case the same predecessor every round (the garbage a 1.5 MB reply leaves would
 * always fall on the case after it). Warm-up rounds are not recorded.
 */
async function run(port: number, all: Case[]): Promise<void> {
  const rounds = Math.max(...all.map((c) => c.requests));
  for (let round = -WARM_UP_ROUNDS; round < rounds; round++) {
    const order = [...all];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j] as Case, order[i] as Case];
    }
    for (const c of order) {
      // A case with fewer requests spreads them evenly over the rounds.
      const every = Math.round(rounds / c.requests);
      if (round >= 0 && round % every !== 0) continue;
      const reply = await call(port, c.agent, 'GET', c.path, c.headers);
      if (reply.status !== 200) {
        c.errors += 1;
        continue;
      }
      if (round < 0) continue;
      c.ms.push(reply.ms);
      c.bytes = reply.body.length;
      c.coding = String(reply.headers['content-encoding'] ?? 'identity');
    }
  }
}

/** Each compressed reply decodes to the identity reply (nothing writes during the run). */
async function check(port: number, all: Case[]): Promise<void> {
  for (const c of all) {
    if (c.acceptEncoding === undefined) continue;
    const plain = await call(port, c.agent, 'GET', c.path, { ...c.headers, 'accept-encoding': 'identity' });
    const coded = await call(port, c.agent, 'GET', c.path, c.headers);
    if (!decode(coded).equals(plain.body)) throw new Error(`${c.path}: the decoded reply differs`);
  }
}

function table(all: Case[]): string {
  const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '—');
  const lines = [
    '| reply | Accept-Encoding | sent as | bytes | requests | p50 ms | p99 ms |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const c of all) {
    const sorted = [...c.ms].sort((a, b) => a - b);
    const errors = c.errors > 0 ? ` (${c.errors} errors)` : '';
    lines.push(
      `| ${c.reply} | ${c.acceptEncoding === undefined ? 'none' : `\`${c.acceptEncoding}\``} | ${c.coding} | ${c.bytes.toLocaleString('en')} | ${sorted.length.toLocaleString('en')}${errors} | ${ms(percentile(sorted, 50))} | ${ms(percentile(sorted, 99))} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'taskforge-bench-compression-'));
  const port = await freePort();
  const child = await start(port, dataDir);
  try {
    const { token, taskId } = await seed(port);
    const all = cases(token, taskId);
    await check(port, all);
    const before = loadavg()[0] ?? Number.NaN;
    const began = new Date();
    await run(port, all);
    const after = loadavg()[0] ?? Number.NaN;
    console.log(
      `${began.toISOString().slice(0, 16).replace('T', ' ')} UTC, node dist/server.js (NODE_ENV=production, SQLite), one keep-alive connection per case, one request at a time, cases interleaved in random order; load average ${before.toFixed(2)} before, ${after.toFixed(2)} after\n`,
    );
    console.log(table(all));
    for (const c of all) c.agent.destroy();
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
