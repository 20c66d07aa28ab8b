import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'taskforge-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string>) {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(DATABASE_URL|REDIS_URL|ADMIN_)/.test(k)),
  );
  return spawnSync(
    join(process.cwd(), 'node_modules/.bin/tsx'),
    [join(process.cwd(), 'src/cli/create-admin.ts'), ...args],
    {
      cwd: dir,
      env: { ...clean, DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, ...env },
      encoding: 'utf8',
    },
  );
}

describe('npm run create-admin', () => {
  it('creates an admin, then promotes instead of duplicating; refuses weak passwords', () => {
    const weak = run(['root@example.com'], { ADMIN_PASSWORD: 'password1234' });
    expect(weak.status).toBe(1);
    expect(weak.stderr).toMatch(/^ADMIN_PASSWORD /);
    const made = run(['Root@Example.com', 'Root'], { ADMIN_PASSWORD: 'a strong admin passphrase' });
    expect(made.stderr).toBe('');
    expect(made.status).toBe(0);
    expect(made.stdout).toBe('created admin root@example.com\n');
    const again = run(['root@example.com'], { ADMIN_PASSWORD: 'a strong admin passphrase' });
    expect(again.stdout).toBe('promoted root@example.com to admin\n');
    const db = new Database(join(dir, 'db.sqlite'), { readonly: true });
    try {
      expect(db.prepare('select role, name from users').all()).toEqual([{ role: 'admin', name: 'Root' }]);
    } finally {
      db.close();
    }
    expect(run([], {}).status).toBe(2);
  });
});
