import type { FastifyInstance } from 'fastify';
import { uuidv7 } from 'uuidv7';
import { ApiError, fieldError } from '../../errors.js';
import { normalizeEmail } from '../../lib/email.js';
import { weakPasswordReason } from '../../lib/password-policy.js';
import type { PasswordHasher } from '../../lib/passwords.js';
import * as users from '../users/users.repository.js';
import type { AuthStateCache } from './auth-state.js';
import * as sessions from './sessions.repository.js';
import { type AccessClaims, hashToken, newRefreshToken, SuccessorTokens } from './tokens.js';

export interface TokenPair {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  refreshToken: string;
  refreshExpiresIn: number;
}

export interface ClientInfo {
  userAgent: string | null;
  ip: string | null;
}

const USER_AGENT_MAX = 512;

/** Logins, sessions and tokens. */
export class AuthService {
  private readonly successors: SuccessorTokens;

  constructor(
    private readonly app: FastifyInstance,
    private readonly hasher: PasswordHasher,
    private readonly authState: AuthStateCache,
  ) {
    const secret = app.config.jwtSecret;
    if (!secret) throw new Error('JWT_SECRET must be resolved before the app is built');
    this.successors = new SuccessorTokens(secret);
  }

  private get db(): users.Db {
    return this.app.database.db;
  }

  /** Checks a password; unknown emails cost the same (a dummy hash is verified). */
  async checkCredentials(email: string, password: string): Promise<users.UserRow> {
    const user = await users.findUserByEmail(this.db, normalizeEmail(email));
    if (!user) {
      await this.hasher.verifyDummy(password);
      throw new ApiError('invalid_credentials');
    }
    if (!(await this.hasher.verify(user.password_hash, password))) throw new ApiError('invalid_credentials');
    if (user.disabled === 1) throw new ApiError('account_disabled');
    return user;
  }

  async login(email: string, password: string, client: ClientInfo): Promise<TokenPair> {
    const user = await this.checkCredentials(email, password);
    const now = new Date();
    const sessionId = uuidv7();
    const refresh = newRefreshToken();
    await this.db.transaction().execute(async (trx) => {
      await sessions.insertSession(trx, {
        id: sessionId,
        user_id: user.id,
        created_at: now.toISOString(),
        user_agent: client.userAgent ? [...client.userAgent].slice(0, USER_AGENT_MAX).join('') : null,
        ip: client.ip,
      });
      await sessions.insertRefreshToken(trx, {
        token_hash: refresh.hash,
        session_id: sessionId,
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + this.app.config.refreshTokenTtlMs).toISOString(),
      });
    });
    return this.pair(user.id, sessionId, refresh.token);
  }

  /**
   * Rotates a refresh token. Presenting a spent one ends its whole session, except within the
   * reuse grace of its first use while its successor is unspent: then the answer is that same
   * successor (two tabs refreshing at once, a retry after a lost reply).
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const tokenHash = hashToken(refreshToken);
    const found = await sessions.findRefreshToken(this.db, tokenHash);
    if (!found) throw new ApiError('invalid_token', { status: 401 });
    if (found.ended_at !== null) throw new ApiError('token_revoked');
    if (found.spent_at !== null) return this.replay(refreshToken, found, found.spent_at);
    const now = new Date();
    if (found.expires_at <= now.toISOString()) throw new ApiError('refresh_token_expired');
    const next = this.successors.of(refreshToken);
    // One conditional UPDATE decides the race between parallel first uses.
    const spent = await this.db.transaction().execute(async (trx) => {
      if (!(await sessions.spendRefreshToken(trx, tokenHash, now.toISOString()))) return false;
      await sessions.insertRefreshToken(trx, {
        token_hash: next.hash,
        session_id: found.session_id,
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + this.app.config.refreshTokenTtlMs).toISOString(),
      });
      await sessions.touchSession(trx, found.session_id, now.toISOString());
      return true;
    });
    if (spent) return this.pair(found.user_id, found.session_id, next.token);
    // Another request spent it between our read and our write: the loser takes the grace path.
    const again = await sessions.findRefreshToken(this.db, tokenHash);
    // Unspent after a failed spend only when it is gone: its session went with its user meanwhile.
    if (!again || again.spent_at === null) throw new ApiError('invalid_token', { status: 401 });
    if (again.ended_at !== null) throw new ApiError('token_revoked');
    return this.replay(refreshToken, again, again.spent_at);
  }

  /** A spent token again: its unspent successor within the grace, else a reuse that ends the session. */
  private async replay(
    refreshToken: string,
    spent: sessions.RefreshTokenRecord,
    spentAt: string,
  ): Promise<TokenPair> {
    const now = Date.now();
    if (now - Date.parse(spentAt) < this.app.config.refreshReuseGraceMs) {
      const next = this.successors.of(refreshToken);
      const successor = await sessions.findRefreshToken(this.db, next.hash);
      const live =
        successor !== undefined &&
        successor.session_id === spent.session_id &&
        successor.spent_at === null &&
        successor.expires_at > new Date(now).toISOString();
      if (live) return this.pair(spent.user_id, spent.session_id, next.token);
    }
    await this.endSession(spent.session_id, 'refresh_reuse');
    throw new ApiError('refresh_token_reused');
  }

  /** Ends the caller's session; a refresh token, when given, must be that session's. */
  async logout(sessionId: string, refreshToken: string | undefined): Promise<void> {
    if (refreshToken !== undefined) {
      const found = await sessions.findRefreshToken(this.db, hashToken(refreshToken));
      if (!found || found.session_id !== sessionId) {
        throw fieldError('/refreshToken', 'not_found', "is not this session's refresh token");
      }
    }
    await this.endSession(sessionId, 'logout');
  }

  async logoutAll(userId: string): Promise<void> {
    await sessions.endUserSessions(this.db, userId, 'logout_all', new Date().toISOString());
    this.authState.userSessionsChanged(userId);
  }

  async changePassword(
    userId: string,
    sessionId: string | null,
    current: string,
    next: string,
  ): Promise<void> {
    const user = await users.findUserById(this.db, userId);
    if (!user) throw new ApiError('not_found');
    if (!(await this.hasher.verify(user.password_hash, current)))
      throw new ApiError('current_password_incorrect');
    const weak = weakPasswordReason(next, user.email);
    if (weak) {
      throw new ApiError('weak_password', {
        detail: `The password ${weak}`,
        errors: [{ pointer: '/newPassword', code: 'weak_password', detail: weak }],
      });
    }
    const now = new Date().toISOString();
    const passwordHash = await this.hasher.hash(next);
    await this.db.transaction().execute(async (trx) => {
      await users.updateUser(trx, userId, { password_hash: passwordHash, updated_at: now }, false);
      await sessions.endUserSessions(trx, userId, 'password_change', now, sessionId ?? undefined);
    });
    this.authState.userSessionsChanged(userId);
  }

  private async endSession(sessionId: string, reason: string): Promise<void> {
    await sessions.endSession(this.db, sessionId, reason, new Date().toISOString());
    this.authState.sessionChanged(sessionId);
  }

  private pair(userId: string, sessionId: string, refreshToken: string): TokenPair {
    const claims: AccessClaims = { sub: userId, sid: sessionId, typ: 'access' };
    const ttlMs = this.app.config.accessTokenTtlMs;
    return {
      // @fastify/jwt takes a numeric expiresIn in seconds.
      accessToken: this.app.jwt.sign(claims, { expiresIn: Math.floor(ttlMs / 1000) }),
      tokenType: 'Bearer',
      expiresIn: Math.floor(ttlMs / 1000),
      refreshToken,
      refreshExpiresIn: Math.floor(this.app.config.refreshTokenTtlMs / 1000),
    };
  }
}
