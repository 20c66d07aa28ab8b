import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { TEST_SECRET, testEnv } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import { signedIn } from '../helpers/factories.js';
import { issueKey, xApiKey } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'taskforge-key-processes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tsx = join(process.cwd(), 'node_modules/.bin/tsx');
const script = join(process.cwd(), 'test/fixtures/revoke-api-key.ts');

function revokeInAnotherProcess(file: string, keyId: string, accessToken: string) {
  const child = spawn(tsx, [script, file, keyId], {
    env: { ...process.env, JWT_SECRET: TEST_SECRET, ACCESS_TOKEN: accessToken },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (status) => resolve({ status, stdout, stderr })),
  );
}

describe.skipIf(process.env.TEST_DATABASE_URL)('two processes on one SQLite file, without Redis', () => {
  it('a key revoked by the other process is refused on this one’s next request', async () => {
    const file = join(dir, 'shared.db');
    const db = await createTestDatabase({ sqliteFile: file });
    await migrateToLatest(db.handle);
    const app = await buildApp(loadConfig(testEnv({ REDIS_URL: '' })), {
      database: db.handle,
      hashCost: { memoryCost: 1024, timeCost: 1 },
    });
    try {
      const { tokens, headers } = await signedIn(app);
      const key = await issueKey(app, headers, ['tasks:read']);
      const me = () => app.inject({ method: 'GET', url: '/api/v1/users/me', headers: xApiKey(key.key) });
      expect((await me()).statusCode).toBe(200);
      expect((await me()).statusCode).toBe(200); // served from the cache
      const other = await revokeInAnotherProcess(file, key.id, tokens.accessToken);
      expect(other).toMatchObject({ status: 0, stdout: '204', stderr: '' });
      const res = await me();
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('invalid_token');
    } finally {
      await app.close();
      await db.drop();
    }
  });
});
