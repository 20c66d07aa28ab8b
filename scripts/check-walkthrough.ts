/**
 * Runs the README's walkthrough and the API guide's examples, as a reader would paste them, against
 * a fresh start of the sources (as `npm start` runs them, compiled; a temporary SQLite database), and fails when a script fails, a captured value
 * is empty or null, or an expected answer does not appear. Keeps the copy-paste promise true.
 *
 *   npx tsx scripts/check-walkthrough.ts      (or: npm run check:walkthrough)
 *
 * Needs bash, curl and jq (Debian: apt-get install jq).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/helpers/free-port.js';

const ROOT = join(import.meta.dirname, '..');
const DOCUMENTED_ORIGIN = 'http://127.0.0.1:3000';

interface Walk {
  name: string;
  script: string;
  /** Variables the script captures; each must end up set and not "null". */
  captured: string[];
  /** Output each walk must show: the answers the text promises. */
  expected: RegExp[];
}

function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');
}

function walks(): Walk[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = /<!-- walkthrough:start -->([\s\S]*?)<!-- walkthrough:end -->/.exec(readme)?.[1];
  if (!section) throw new Error('README.md has no walkthrough section');
  const guide = readFileSync(join(ROOT, 'docs/api.md'), 'utf8');
  return [
    {
      name: 'README walkthrough',
      script: shellBlocks(section).join('\n'),
      captured: ['AT', 'RT', 'ID'],
      expected: [
        /"email": "ada@example.com"/,
        /"titles": \[\s*"Buy milk"\s*\]/,
        /"status": "done"/,
        /"code": "precondition_failed"/,
        /"code": "validation_failed"/,
        /DELETE → 204/,
        /"token_type": "Bearer"/,
        /logout → 204/,
        /"code": "token_revoked"/,
        /"name": "Taskforge"/,
        /"database": "ok"/,
        /DELETE \/health\/live → 405/,
      ],
    },
    {
      name: 'docs/api.md examples',
      script: shellBlocks(guide).join('\n'),
      captured: ['AT', 'RT', 'ID'],
      expected: [
        /"precondition_failed"/,
        /"pointer": "\/title"/,
        /"code": "validation_failed"/,
        /reset → 202/,
        /confirm → 400/,
        // The projects example: Grace added as an editor, then refused as a viewer.
        /"role": "editor"/,
        /^"viewer"$/m,
        /"status": 403,\s*"code": "forbidden"/,
        // The sync example: the task created after the head arrives through the feed.
        /"types": \[\s*"task\.created"\s*\],\s*"hasMore": false/,
      ],
    },
  ];
}

async function start(dir: string, port: number): Promise<ChildProcess> {
  // A clean start, as after `npm ci && npm start`: none of this shell's Taskforge settings.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(NODE_ENV|JWT_SECRET|DATABASE_URL|REDIS_URL|ADMIN_)/.test(name),
    ),
  );
  const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'src/server.ts')], {
    cwd: dir,
    env: {
      ...env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: `sqlite:${dir}/taskforge.db`,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 300; i += 1) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health/live`)).ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGTERM');
  throw new Error('the server did not start');
}

function run(walk: Walk, origin: string): string[] {
  const checks = walk.captured
    .map(
      (name) =>
        `[ -n "\${${name}:-}" ] && [ "$${name}" != null ] || { echo "${name} is empty or null" >&2; exit 1; }`,
    )
    .join('\n');
  const script = `set -euo pipefail\n${walk.script.replaceAll(DOCUMENTED_ORIGIN, origin)}\n${checks}\n`;
  const result = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  const problems: string[] = [];
  if (result.status !== 0) problems.push(`exited with ${result.status}: ${result.stderr.trim()}`);
  if (/^jq: error/m.test(result.stderr)) problems.push(`jq: ${result.stderr.trim()}`);
  for (const pattern of walk.expected) {
    if (!pattern.test(result.stdout)) problems.push(`no output matches ${pattern}`);
  }
  console.log(`${problems.length === 0 ? 'ok  ' : 'FAIL'} ${walk.name}`);
  for (const problem of problems) console.log(`     ✗ ${problem}`);
  if (problems.length > 0) console.log(result.stdout);
  return problems;
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'taskforge-walkthrough-'));
  const port = await freePort();
  const server = await start(dir, port);
  try {
    const problems = walks().flatMap((walk) => run(walk, `http://127.0.0.1:${port}`));
    return problems.length === 0 ? 0 : 1;
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
