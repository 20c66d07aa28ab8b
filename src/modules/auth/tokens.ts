import { createHash, randomBytes } from 'node:crypto';

/** Opaque refresh tokens: 256 random bits, stored only as a SHA-256 hash. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = `tfr_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** The claims of an access token: its user, its session, and what kind of token it is. */
export interface AccessClaims {
  sub: string;
  sid: string;
  typ: 'access';
}

export function isAccessClaims(value: unknown): value is AccessClaims & { exp: number } {
  const v = value as Partial<AccessClaims & { exp: unknown }> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    v.typ === 'access' &&
    typeof v.sub === 'string' &&
    typeof v.sid === 'string' &&
    typeof v.exp === 'number'
  );
}
