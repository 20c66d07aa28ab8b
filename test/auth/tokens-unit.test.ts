import { createHash, createHmac, hkdfSync } from 'node:crypto';
import { createSigner } from 'fast-jwt';
import { describe, expect, it } from 'vitest';
import {
  AccessTokens,
  hashToken,
  isAccessClaims,
  newRefreshToken,
  SuccessorTokens,
} from '../../src/modules/auth/tokens.js';

const SECRET = 's'.repeat(32);
const claims = { sub: 'user-1', sid: 'session-1', typ: 'access' as const };

describe('refresh tokens', () => {
  it('are 256 random bits, stored as their SHA-256', () => {
    const { token, hash } = newRefreshToken();
    expect(token).toMatch(/^tfr_[A-Za-z0-9_-]{43}$/);
    expect(hash).toBe(createHash('sha256').update(token).digest('base64url'));
    expect(hashToken(token)).toBe(hash);
    expect(newRefreshToken().token).not.toBe(token);
  });

  it('rotate to a successor derived from the spent token and the secret', () => {
    const successors = new SuccessorTokens(SECRET);
    const next = successors.of('tfr_spent');
    expect(next.token).toMatch(/^tfr_[A-Za-z0-9_-]{43}$/);
    expect(next.hash).toBe(hashToken(next.token));
    expect(successors.of('tfr_spent')).toEqual(next);
    expect(new SuccessorTokens(SECRET).of('tfr_spent')).toEqual(next);
    expect(successors.of('tfr_other').token).not.toBe(next.token);
    expect(new SuccessorTokens('t'.repeat(32)).of('tfr_spent').token).not.toBe(next.token);
    // The derivation is fixed (HKDF-SHA256, salt "taskforge", info "refresh-successor-v1"): a change
    // would turn every retry inside the grace of a running deployment into a reuse.
    const key = Buffer.from(hkdfSync('sha256', SECRET, 'taskforge', 'refresh-successor-v1', 32));
    const expected = `tfr_${createHmac('sha256', key).update('tfr_spent').digest('base64url')}`;
    expect(next.token).toBe(expected);
  });
});

describe('isAccessClaims', () => {
  it('takes an access token claims with a numeric exp only', () => {
    expect(isAccessClaims({ ...claims, exp: 1 })).toBe(true);
    expect(isAccessClaims(null)).toBe(false);
    expect(isAccessClaims('access')).toBe(false);
    expect(isAccessClaims({ ...claims })).toBe(false);
    expect(isAccessClaims({ ...claims, exp: '1' })).toBe(false);
    expect(isAccessClaims({ ...claims, exp: 1, typ: 'refresh' })).toBe(false);
    expect(isAccessClaims({ ...claims, exp: 1, sub: 1 })).toBe(false);
    expect(isAccessClaims({ ...claims, exp: 1, sid: null })).toBe(false);
  });
});

describe('AccessTokens', () => {
  it('sign HS256 tokens that expire after the whole seconds of the lifetime', () => {
    const tokens = new AccessTokens(SECRET, 900_999);
    const before = Math.floor(Date.now() / 1000);
    const read = tokens.read(tokens.sign(claims));
    expect(read).toMatchObject({ expired: false, claims });
    if (!('claims' in read)) throw new Error('not read');
    const lifetime = read.claims.exp - ((read.claims as { iat?: number }).iat ?? 0);
    expect(lifetime).toBe(900);
    expect(read.claims.exp).toBeGreaterThanOrEqual(before + 900);
    const [header = ''] = tokens.sign(claims).split('.');
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toMatchObject({ alg: 'HS256' });
  });

  it('read an expired token of ours as expired, with its claims', () => {
    const old = createSigner({ key: SECRET, algorithm: 'HS256', clockTimestamp: 1_000_000, expiresIn: 1000 });
    const read = new AccessTokens(SECRET, 60_000).read(old(claims));
    expect(read).toMatchObject({ expired: true, claims: { ...claims, exp: 1001 } });
  });

  it('refuse other secrets, other algorithms, garbage and claims of another kind', () => {
    const tokens = new AccessTokens(SECRET, 60_000);
    expect(tokens.read(new AccessTokens('t'.repeat(32), 60_000).sign(claims))).toEqual({ invalid: true });
    const hs512 = createSigner({ key: SECRET, algorithm: 'HS512', expiresIn: 60_000 });
    expect(tokens.read(hs512(claims))).toEqual({ invalid: true });
    expect(tokens.read('not.a.token')).toEqual({ invalid: true });
    const other = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 60_000 });
    expect(tokens.read(other({ ...claims, typ: 'refresh' }))).toEqual({ invalid: true });
    const expiredOther = createSigner({
      key: SECRET,
      algorithm: 'HS256',
      clockTimestamp: 1_000_000,
      expiresIn: 1000,
    });
    expect(tokens.read(expiredOther({ sub: 'user-1' }))).toEqual({ invalid: true });
    const expiredForged = createSigner({
      key: 't'.repeat(32),
      algorithm: 'HS256',
      clockTimestamp: 1_000_000,
      expiresIn: 1000,
    });
    expect(tokens.read(expiredForged(claims))).toEqual({ invalid: true });
  });
});
