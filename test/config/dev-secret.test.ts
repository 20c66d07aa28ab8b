import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateDevSecret } from '../../src/lib/dev-secret.js';

const dir = mkdtempSync(join(tmpdir(), 'taskforge-secret-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const mode = (path: string) => statSync(path).mode & 0o777;

describe('the generated development secret', () => {
  it('is kept, with the folder it creates, for its owner only, and reused', () => {
    const data = join(dir, 'fresh', 'data');
    const secret = loadOrCreateDevSecret(data);
    expect(Buffer.byteLength(secret)).toBeGreaterThanOrEqual(32);
    expect(mode(join(dir, 'fresh'))).toBe(0o700);
    expect(mode(data)).toBe(0o700);
    expect(mode(join(data, 'jwt-secret'))).toBe(0o600);
    expect(loadOrCreateDevSecret(data)).toBe(secret);
  });

  it('tightens a secret file that others could read, whether it is reused or replaced', () => {
    const kept = join(dir, 'kept');
    const long = 'k'.repeat(48);
    loadOrCreateDevSecret(kept);
    writeFileSync(join(kept, 'jwt-secret'), `${long}\n`); // as an older version, or an operator, kept it
    const loose = join(kept, 'jwt-secret');
    chmodSync(loose, 0o644);
    expect(loadOrCreateDevSecret(kept)).toBe(long);
    expect(mode(loose)).toBe(0o600);

    const short = join(dir, 'short');
    loadOrCreateDevSecret(short);
    const file = join(short, 'jwt-secret');
    writeFileSync(file, 'too short\n');
    chmodSync(file, 0o644);
    const replaced = loadOrCreateDevSecret(short);
    expect(readFileSync(file, 'utf8').trim()).toBe(replaced);
    expect(mode(file)).toBe(0o600);
  });
});
