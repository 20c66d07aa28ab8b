#!/usr/bin/env node
// Compiles src/ into dist/ when dist/ is missing or older than what it is built from, so that
// `npm start` (node dist/server.js) works on a fresh clone and after every edit or pull.
// Plain JavaScript: it runs before anything is compiled, with nothing but Node.
//
//   node scripts/ensure-build.mjs           build when stale (npm's prestart, premigrate, ...)
//   node scripts/ensure-build.mjs --always  build whatever the stamp says (npm run build)
//   node scripts/ensure-build.mjs --check   print "fresh" or "stale: <reason>"; exit 0 or 1
//
// Stale means: no dist/.build-stamp, or a file under src/, a tsconfig*.json or package-lock.json
// changed after the build that wrote it began. The build compiles into a fresh dist/ (a deleted
// source leaves nothing behind) and writes the stamp last, so an interrupted build is stale.
// Two starts at once (npm start beside npm run migrate) build once: the second waits on a lock
// and finds the build fresh.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');
const lock = join(root, '.build-lock');
/** A lock older than this is left by a build that was killed: taken over. */
const LOCK_STALE_MS = 10 * 60_000;

/** Runs `work` holding the build lock (a directory: mkdir is atomic), waiting for another holder. */
function withLock(work) {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS)
          rmSync(lock, { recursive: true, force: true });
      } catch {
        // Released between the two calls: try again.
      }
      Atomics.wait(pause, 0, 0, 200);
    }
  }
  try {
    work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** The newest file that dist/ is built from, as [mtimeMs, path]. */
function newestInput() {
  let newest = [0, ''];
  const consider = (path) => {
    const { mtimeMs } = statSync(path);
    if (mtimeMs > newest[0]) newest = [mtimeMs, path];
  };
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else consider(path);
    }
  };
  // An image's runtime stage may hold dist/ alone: nothing to compare, the stamp decides.
  if (existsSync(join(root, 'src'))) walk(join(root, 'src'));
  for (const name of readdirSync(root)) {
    if (/^tsconfig.*\.json$/.test(name) || name === 'package-lock.json') consider(join(root, name));
  }
  return newest;
}

/** Null when dist/ is current, else why it is not. */
function staleness() {
  if (!existsSync(stamp)) return 'dist/ has not been built';
  const built = statSync(stamp).mtimeMs;
  const [mtimeMs, path] = newestInput();
  return mtimeMs > built ? `${relative(root, path)} changed after the last build` : null;
}

function build(reason) {
  const require = createRequire(import.meta.url);
  let tsc;
  try {
    tsc = require.resolve('typescript/bin/tsc');
  } catch {
    process.stderr.write(
      `${reason}, and TypeScript is not installed (npm ci --omit=dev?): ` +
        'build dist/ with npm ci && npm run build first (a container image does it in its build stage)\n',
    );
    rmSync(lock, { recursive: true, force: true });
    process.exit(1);
  }
  process.stderr.write(`${reason}: compiling src/ into dist/ (tsc -p tsconfig.build.json)\n`);
  const began = new Date();
  rmSync(join(root, 'dist'), { recursive: true, force: true });
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    rmSync(lock, { recursive: true, force: true });
    process.stderr.write('the build failed; dist/ is incomplete and will be rebuilt on the next start\n');
    process.exit(result.status ?? 1);
  }
  // The stamp carries the time the build began: a source saved during the build makes it stale.
  writeFileSync(stamp, `${began.toISOString()}\n`);
  utimesSync(stamp, began, began);
}

const mode = process.argv[2];
if (mode === '--check') {
  const reason = staleness();
  process.stdout.write(reason ? `stale: ${reason}\n` : 'fresh\n');
  process.exit(reason ? 1 : 0);
} else if (mode === '--always') {
  withLock(() => build('npm run build'));
} else if (mode === undefined) {
  if (staleness()) {
    withLock(() => {
      // Another process may have built while this one waited.
      const reason = staleness();
      if (reason) build(reason);
    });
  }
} else {
  process.stderr.write(`unknown option ${mode}; use --check, --always or nothing\n`);
  process.exit(2);
}
