import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { PasswordHasher } from '../../src/lib/passwords.js';

const dir = mkdtempSync(join(tmpdir(), 'taskforge-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string>, file = join(dir, 'db.sqlite')) {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(DATABASE_URL|REDIS_URL|ADMIN_)/.test(k)),
  );
  return spawnSync(
    join(process.cwd(), 'node_modules/.bin/tsx'),
    [join(process.cwd(), 'src/cli/create-admin.ts'), ...args],
    {
      cwd: dir,
      env: { ...clean, DATABASE_URL: `sqlite:${file}`, ...env },
      encoding: 'utf8',
    },
  );
}

function passwordHashOf(file: string, email: string): string {
  const db = new Database(file, { readonly: true });
  try {
    const row = db.prepare('select password_hash from users where email = ?').get(email) as
      | { password_hash: string }
      | undefined;
    return row?.password_hash ?? '';
  } finally {
    db.close();
  }
}

const hasher = new PasswordHasher({ memoryCost: 1024, timeCost: 1 });

describe('npm run create-admin', () => {
  it('creates an admin, then sets the password of the existing one; refuses weak passwords', async () => {
    const file = join(dir, 'db.sqlite');
    const weak = run(['root@example.com'], { ADMIN_PASSWORD: 'password1234' });
    expect(weak.status).toBe(1);
    expect(weak.stderr).toMatch(/^ADMIN_PASSWORD /);
    const made = run(['Root@Example.com', 'Root'], { ADMIN_PASSWORD: 'a strong admin passphrase' });
    expect(made.stderr).toBe('');
    expect(made.status).toBe(0);
    expect(made.stdout).toBe('created admin root@example.com\n');
    expect(await hasher.verify(passwordHashOf(file, 'root@example.com'), 'a strong admin passphrase')).toBe(
      true,
    );
    const again = run(['root@example.com'], { ADMIN_PASSWORD: 'another admin passphrase' });
    expect(again.stderr).toBe('');
    expect(again.stdout).toBe('root@example.com is already an admin: password updated, its sessions ended\n');
    // What it says is what it did: the new password is the one that works.
    const stored = passwordHashOf(file, 'root@example.com');
    expect(await hasher.verify(stored, 'another admin passphrase')).toBe(true);
    expect(await hasher.verify(stored, 'a strong admin passphrase')).toBe(false);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('select role, name from users').all()).toEqual([{ role: 'admin', name: 'Root' }]);
    } finally {
      db.close();
    }
    expect(run([], {}).status).toBe(2);
  });

  it('takes over a registered account: admin, the given password, every session ended', async () => {
    const file = join(dir, 'takeover.sqlite');
    // Let the tool create the schema, then plant a registrant with a live session beside it.
    expect(run(['first@example.com'], { ADMIN_PASSWORD: 'a strong admin passphrase' }, file).status).toBe(0);
    const db = new Database(file);
    try {
      const now = new Date().toISOString();
      db.prepare(
        `insert into users (id, email, name, role, disabled, password_hash, search_text, created_at, updated_at)
         values ('squatter', 'boss@example.com', 'Squatter', 'user', 0, ?, 'squatter boss@example.com', ?, ?)`,
      ).run(await hasher.hash('the squatter knew this one'), now, now);
      db.prepare(
        `insert into sessions (id, user_id, created_at, last_used_at, user_agent, ip, ended_at, ended_reason)
         values ('squatter-session', 'squatter', ?, ?, null, null, null, null)`,
      ).run(now, now);
    } finally {
      db.close();
    }
    const taken = run(['BOSS@example.com'], { ADMIN_PASSWORD: 'the operator chose this' }, file);
    expect(taken.stderr).toBe('');
    expect(taken.stdout).toBe('promoted boss@example.com to admin: password set, its sessions ended\n');
    const after = new Database(file, { readonly: true });
    try {
      expect(after.prepare("select role, disabled from users where id = 'squatter'").get()).toEqual({
        role: 'admin',
        disabled: 0,
      });
      expect(after.prepare("select ended_reason from sessions where id = 'squatter-session'").get()).toEqual({
        ended_reason: 'admin_takeover',
      });
    } finally {
      after.close();
    }
    const stored = passwordHashOf(file, 'boss@example.com');
    expect(await hasher.verify(stored, 'the operator chose this')).toBe(true);
    expect(await hasher.verify(stored, 'the squatter knew this one')).toBe(false);
  });
});
