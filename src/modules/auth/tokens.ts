import { createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';

export interface RefreshToken {
  token: string;
  hash: string;
}

/** Opaque refresh tokens: a login's is 256 random bits; all are stored only as a SHA-256 hash. */
export function newRefreshToken(): RefreshToken {
  return refreshToken(randomBytes(32));
}

function refreshToken(bits: Buffer): RefreshToken {
  const token = `tfr_${bits.toString('base64url')}`;
  return { token, hash: hashToken(token) };
}

/**
 * The successor a refresh token rotates to: HMAC(key, spent token), with a key derived from
 * JWT_SECRET for this purpose only (HKDF). A retry inside the reuse grace recomputes the same
 * successor instead of finding it stored, so no token is ever kept in plaintext; without the key,
 * a successor is as unguessable as a random token.
 */
export class SuccessorTokens {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'taskforge', 'refresh-successor-v1', 32));
  }

  of(spent: string): RefreshToken {
    return refreshToken(createHmac('sha256', this.key).update(spent).digest());
  }
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
