import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A secret kept by an older version, or copied in with a looser mode, becomes its owner's only. */
function tighten(file: string): void {
  try {
    if (statSync(file).mode & 0o077) chmodSync(file, 0o600);
  } catch (error) {
    // Another user's file: leave it, as the database files are left.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
  }
}

/**
 * Outside production a missing JWT_SECRET is generated once and kept in the data folder, so
 * tokens survive restarts of a zero-configuration start. Production refuses to start without one.
 */
export function loadOrCreateDevSecret(dataDir: string): string {
  const file = join(dataDir, 'jwt-secret');
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (Buffer.byteLength(existing) >= 32) {
      tighten(file);
      return existing;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secret = randomBytes(48).toString('base64url');
  try {
    // Owner-only, whatever the umask: the folder also holds the database.
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    // The mode above applies only when the file is new; a short one was overwritten in place.
    chmodSync(file, 0o600);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `cannot keep the generated JWT_SECRET in ${file}: ${reason}; make its folder writable or set JWT_SECRET`,
    );
  }
  return secret;
}
