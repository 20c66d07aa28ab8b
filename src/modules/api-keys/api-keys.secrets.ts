import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * An API key is `tf_<prefix>_<secret>`: the prefix (8 random bytes, hex) is public, shown in the
 * key's resource and used to find it; the secret is 32 random bytes, base64url (43 characters).
 * Only the SHA-256 of the whole key is stored: with 256 bits of entropy, a fast hash is enough.
 */
const KEY_FORM = /^(tf_[0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;

export interface NewKey {
  key: string;
  prefix: string;
  hash: string;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function newKey(): NewKey {
  const prefix = `tf_${randomBytes(8).toString('hex')}`;
  const key = `${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, prefix, hash: hashKey(key) };
}

/** The public prefix of a value shaped like a key; null for anything else. */
export function prefixOf(value: string): string | null {
  return KEY_FORM.exec(value)?.[1] ?? null;
}

/** Whether `key` hashes to `storedHash`, compared in constant time. */
export function keyMatches(key: string, storedHash: string): boolean {
  const presented = Buffer.from(hashKey(key), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
