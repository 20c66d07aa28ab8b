/**
 * Lints the OpenAPI document as the service serves it with Spectral and the OWASP API Security
 * ruleset (`.spectral.yaml`), and fails on any error. The app is built in process on a temporary
 * SQLite database, configured as a deployment (an https:// PUBLIC_URL); its `/openapi.json` (both
 * versions) is what is linted.
 *
 *   npx tsx scripts/check-spectral.ts      (or: npm run check:spectral)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';

const ROOT = join(import.meta.dirname, '..');

async function openApiDocument(dataDir: string): Promise<string> {
  const config = loadConfig({
    DATABASE_URL: `sqlite:${join(dataDir, 'spectral.db')}`,
    JWT_SECRET: 'spectral-check-secret-of-at-least-32-bytes',
    // The document of a deployment, which serves HTTPS (owasp:api8:2023-no-server-http).
    NODE_ENV: 'production',
    PUBLIC_URL: 'https://taskforge.example.com',
    LOG_LEVEL: 'silent',
  });
  const app = await buildApp(config);
  try {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    if (res.statusCode !== 200) throw new Error(`GET /openapi.json answered ${res.statusCode}`);
    return res.body;
  } finally {
    await app.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'taskforge-spectral-'));
let status = 1;
try {
  const file = join(dir, 'openapi.json');
  writeFileSync(file, await openApiDocument(dir));
  const result = spawnSync(
    join(ROOT, 'node_modules', '.bin', 'spectral'),
    [
      'lint',
      file,
      '--ruleset',
      join(ROOT, '.spectral.yaml'),
      '--fail-severity',
      'error',
      '--display-only-failures',
    ],
    { stdio: 'inherit', cwd: ROOT },
  );
  status = result.status ?? 1;
  console.log(status === 0 ? 'spectral: no errors' : 'spectral: errors in the OpenAPI document (above)');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(status);
