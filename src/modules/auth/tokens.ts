import { createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { createDecoder, createSigner, createVerifier } from 'fast-jwt';

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
    // Stryker disable next-line ConditionalExpression: null is refused on the next line and a non-object has no typ
    typeof v === 'object' &&
    v !== null &&
    v.typ === 'access' &&
    typeof v.sub === 'string' &&
    typeof v.sid === 'string' &&
    typeof v.exp === 'number'
  );
}

/** What reading an access token found: its claims, or why it is no token of ours. */
export type ReadToken = { claims: AccessClaims & { exp: number }; expired: boolean } | { invalid: true };

/**
 * Access tokens: HS256 JWTs with one fixed algorithm (RFC 8725), signed with JWT_SECRET and
 * expiring after `ttlMs` (whole seconds).
 */
export class AccessTokens {
  private readonly signer: (claims: AccessClaims) => string;
  private readonly verifier: (token: string) => unknown;
  private readonly decoder = createDecoder();

  constructor(secret: string, ttlMs: number) {
    this.signer = createSigner({
      key: secret,
      // Stryker disable next-line StringLiteral: fast-jwt signs with HS256 by default for a string key; the verifier pins it
      algorithm: 'HS256',
      expiresIn: Math.floor(ttlMs / 1000) * 1000,
    });
    this.verifier = createVerifier({ key: secret, algorithms: ['HS256'] });
  }

  sign(claims: AccessClaims): string {
    return this.signer(claims);
  }

  /** An expired token is still read: whether it was ours decides between two 401 codes. */
  read(token: string): ReadToken {
    let claims: unknown;
    let expired = false;
    try {
      claims = this.verifier(token);
    } catch (error) {
      // fast-jwt checks the signature before the claims, so an expired token was validly signed.
      if ((error as { code?: string }).code !== 'FAST_JWT_EXPIRED') return { invalid: true };
      expired = true;
      claims = this.decoder(token);
    }
    return isAccessClaims(claims) ? { claims, expired } : { invalid: true };
  }
}
