import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { insertUser } from '../../src/modules/users/users.repository.js';

const dir = mkdtempSync(join(tmpdir(), 'taskforge-cli-email-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'db.sqlite');

function run(args: string[]) {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(DATABASE_URL|REDIS_URL|ADMIN_)/.test(k)),
  );
  return spawnSync(
    join(process.cwd(), 'node_modules/.bin/tsx'),
    [join(process.cwd(), 'src/cli/create-admin.ts'), ...args],
    {
      cwd: dir,
      env: { ...clean, DATABASE_URL: `sqlite:${file}`, ADMIN_PASSWORD: 'a strong admin passphrase' },
      encoding: 'utf8',
    },
  );
}

describe('npm run create-admin and Unicode aliases', () => {
  it('does not promote kate@ when given the Kelvin-sign form of her address', async () => {
    const database = openDatabase({ kind: 'sqlite', filename: file });
    try {
      await migrateToLatest(database);
      const now = new Date().toISOString();
      await insertUser(database.db, {
        id: 'kate',
        email: 'kate@example.com',
        name: 'Kate',
        role: 'user',
        password_hash: 'not a hash',
        created_at: now,
        updated_at: now,
      });
    } finally {
      await database.close();
    }
    const res = run(['\u212Aate@example.com']);
    expect(res.status).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/email/);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('select email, role from users').all()).toEqual([
        { email: 'kate@example.com', role: 'user' },
      ]);
    } finally {
      db.close();
    }
  });
});
