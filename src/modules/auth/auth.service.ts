import type { Kysely } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { Database } from '../../db/schema.js';
import { ApiError, fieldError, type ProblemCode } from '../../errors.js';
import { normalizeEmail } from '../../lib/email.js';
import { LastUsedRecorder } from '../../lib/last-used.js';
import { type CursorPage, type CursorRequest, type Page, type PageRequest, pageOf } from '../../lib/lists.js';
import type { AppContext } from '../../lib/module.js';
import { effectiveScopes, type Principal } from '../../lib/principal.js';
import type { Credentials } from '../users/index.js';
import type { AuthStateCache } from './auth-state.js';
import type { LoginFailures } from './login-failures.js';
import * as sessions from './sessions.repository.js';
import { type AccessClaims, AccessTokens, hashToken, newRefreshToken, SuccessorTokens } from './tokens.js';

export interface TokenPair {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  refreshToken: string;
  refreshExpiresIn: number;
}

/** A live session as its user sees it (contract §2). */
export interface SessionView {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

function toSessionView(row: sessions.SessionRow, currentId: string | null): SessionView {
  return {
    id: row.id,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    userAgent: row.user_agent,
    ip: row.ip,
    current: row.id === currentId,
  };
}

export interface ClientInfo {
  userAgent: string | null;
  ip: string | null;
}

const USER_AGENT_MAX = 512;
const INVALID_TOKEN_CHALLENGE = 'Bearer realm="taskforge", error="invalid_token"';

/** A 401 about a presented credential, with the RFC 6750 challenge that names the error. */
export function tokenFailure(code: ProblemCode, detail?: string): ApiError {
  return new ApiError(code, {
    status: 401,
    headers: { 'www-authenticate': INVALID_TOKEN_CHALLENGE },
    ...(detail ? { detail } : {}),
  });
}

function requireSecret(ctx: AppContext): string {
  const secret = ctx.config.jwtSecret;
  if (!secret) throw new Error('JWT_SECRET must be resolved before tokens are made or read');
  return secret;
}

/** Logins, sessions and tokens, and who a presented credential authenticates. */
export class AuthService {
  // Made on first use: the command-line tools share this context without needing a secret.
  private successorTokens: SuccessorTokens | null = null;
  private accessTokens: AccessTokens | null = null;
  private readonly sessionsUsed: LastUsedRecorder;

  constructor(
    private readonly ctx: AppContext,
    private readonly authState: AuthStateCache,
    private readonly loginFailures: LoginFailures,
  ) {
    this.sessionsUsed = new LastUsedRecorder(
      (id, at) => sessions.touchSession(this.db, id, at),
      ctx.log,
      ctx.clock,
    );
  }

  private get db(): Kysely<Database> {
    return this.ctx.database.db;
  }

  private get config() {
    return this.ctx.config;
  }

  private get successors(): SuccessorTokens {
    this.successorTokens ??= new SuccessorTokens(requireSecret(this.ctx));
    return this.successorTokens;
  }

  private get tokens(): AccessTokens {
    this.accessTokens ??= new AccessTokens(requireSecret(this.ctx), this.config.accessTokenTtlMs);
    return this.accessTokens;
  }

  /** Checks a password; unknown emails cost the same (a dummy hash is verified). */
  async checkCredentials(email: string, password: string): Promise<Credentials> {
    const hasher = this.ctx.passwordHasher;
    const user = await this.ctx.services.users.credentials(email);
    if (!user) {
      await hasher.verifyDummy(password);
      throw new ApiError('invalid_credentials');
    }
    if (!(await hasher.verify(user.passwordHash, password))) throw new ApiError('invalid_credentials');
    if (user.disabled) throw new ApiError('account_disabled');
    return user;
  }

  /**
   * Who an API key authenticates as. The api-keys module says whether the key is valid (malformed,
   * unknown, revoked, expired: 401 invalid_token) and whose it is; its owner's current state decides
   * the rest: disabled → 401 account_disabled; the scopes are the key's ∩ the owner's current role.
   */
  async authenticateApiKey(value: string): Promise<Principal | ApiError> {
    const identity = await this.ctx.services.apiKeys.authenticate(value);
    if (!identity) return tokenFailure('invalid_token');
    const user = await this.authState.user(identity.userId);
    if (!user) return tokenFailure('invalid_token');
    if (user.disabled) return tokenFailure('account_disabled');
    this.ctx.services.apiKeys.recordUse(identity.keyId);
    return {
      userId: identity.userId,
      role: user.role,
      sessionId: null,
      scopes: effectiveScopes(identity.scopes, user.role),
      apiKeyId: identity.keyId,
      tokenExpiresAt: null,
    };
  }

  /** A bearer value: a JWT is an access token (three dot-separated parts); anything else would be a key. */
  authenticateBearer(value: string): Promise<Principal | ApiError> {
    return value.split('.').length === 3
      ? this.authenticateAccessToken(value)
      : this.authenticateApiKey(value);
  }

  private async authenticateAccessToken(token: string): Promise<Principal | ApiError> {
    const read = this.tokens.read(token);
    if ('invalid' in read) return tokenFailure('invalid_token');
    const { claims, expired } = read;
    // The contract's order: invalid_token (unknown user or session) → account_disabled →
    // token_expired → token_revoked.
    const [user, session] = await Promise.all([
      this.authState.user(claims.sub),
      this.authState.session(claims.sid),
    ]);
    if (!user || !session || session.userId !== claims.sub) return tokenFailure('invalid_token');
    if (user.disabled) return tokenFailure('account_disabled');
    if (expired) return tokenFailure('token_expired');
    if (session.ended) return tokenFailure('token_revoked');
    return {
      userId: claims.sub,
      role: user.role,
      sessionId: claims.sid,
      scopes: null,
      apiKeyId: null,
      tokenExpiresAt: claims.exp * 1000,
    };
  }

  /** Records a session's use (its lastUsedAt), batched like API keys' (see LastUsedRecorder). */
  touch(sessionId: string): void {
    this.sessionsUsed.record(sessionId);
  }

  /**
   * A login, unless the email is locked out by its failed logins (contract §4: 429 even with the
   * right password). Every wrong password counts, known email or not; the lock is checked before
   * any hashing, so a locked email costs the same whether or not it has an account.
   */
  async login(email: string, password: string, client: ClientInfo): Promise<TokenPair> {
    const normalized = normalizeEmail(email);
    const wait = await this.loginFailures.lockedFor(normalized);
    if (wait > 0) {
      this.ctx.metrics.rateLimited('login');
      throw new ApiError('rate_limited', {
        detail: 'Too many failed logins for this email; try again later',
        headers: { 'retry-after': String(wait) },
      });
    }
    let user: Credentials;
    try {
      user = await this.checkCredentials(email, password);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'invalid_credentials')
        await this.loginFailures.record(normalized);
      throw error;
    }
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
        expires_at: new Date(now.getTime() + this.config.refreshTokenTtlMs).toISOString(),
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
    // Stryker disable next-line ObjectLiteral: 401 is invalid_token's own status (errors.ts); said here for the reader
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
        expires_at: new Date(now.getTime() + this.config.refreshTokenTtlMs).toISOString(),
      });
      await sessions.touchSession(trx, found.session_id, now.toISOString());
      return true;
    });
    if (spent) return this.pair(found.user_id, found.session_id, next.token);
    // Another request spent it between our read and our write: the loser takes the grace path.
    const again = await sessions.findRefreshToken(this.db, tokenHash);
    // Unspent after a failed spend only when it is gone: its session went with its user meanwhile.
    // Stryker disable next-line ObjectLiteral: 401 is invalid_token's own status (errors.ts); said here for the reader
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
    if (now - Date.parse(spentAt) < this.config.refreshReuseGraceMs) {
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

  /** Ends every live session of the user (the command-line tool names its own reason); returns how many. */
  async logoutAll(userId: string, reason = 'logout_all'): Promise<number> {
    const ended = await sessions.endUserSessions(this.db, userId, reason, new Date().toISOString());
    this.authState.userSessionsChanged(userId);
    return ended;
  }

  /** The caller's live sessions, newest first; `current` marks the caller's own. */
  async listSessions(
    userId: string,
    currentId: string | null,
    request: PageRequest,
  ): Promise<Page<SessionView>> {
    const [rows, total] = await Promise.all([
      sessions.listLiveSessions(this.db, userId, request.size, (request.page - 1) * request.size),
      sessions.countLiveSessions(this.db, userId),
    ]);
    return pageOf(
      rows.map((row) => toSessionView(row, currentId)),
      total,
      request,
    );
  }

  /** Version 2: newest first, a cursor page at a time. */
  async listSessionsAfter(
    userId: string,
    currentId: string | null,
    request: CursorRequest,
  ): Promise<CursorPage<SessionView>> {
    const { cursors } = this.ctx;
    const { limit, cursor } = request;
    const binding = { list: 'sessions', caller: userId };
    let after: { createdAt: string; id: string } | null = null;
    if (cursor !== undefined) {
      const p = cursors.open(binding, cursor) as { v?: unknown; id?: unknown } | null;
      if (typeof p?.v !== 'string' || typeof p.id !== 'string') throw new ApiError('invalid_cursor');
      after = { createdAt: p.v, id: p.id };
    }
    const rows = await sessions.listLiveSessions(this.db, userId, limit + 1, 0, after);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > limit && last ? cursors.sign(binding, { v: last.created_at, id: last.id }) : null;
    return { items: page.map((row) => toSessionView(row, currentId)), nextCursor };
  }

  /** Ends one of the user's live sessions at once, on every instance; anything else is not found. */
  async endUserSession(userId: string, sessionId: string): Promise<void> {
    if (!(await sessions.endOwnSession(this.db, userId, sessionId, new Date().toISOString()))) {
      throw new ApiError('not_found');
    }
    this.authState.sessionChanged(sessionId);
  }

  private async endSession(sessionId: string, reason: string): Promise<void> {
    await sessions.endSession(this.db, sessionId, reason, new Date().toISOString());
    this.authState.sessionChanged(sessionId);
  }

  private pair(userId: string, sessionId: string, refreshToken: string): TokenPair {
    const claims: AccessClaims = { sub: userId, sid: sessionId, typ: 'access' };
    const ttlMs = this.config.accessTokenTtlMs;
    return {
      accessToken: this.tokens.sign(claims),
      tokenType: 'Bearer',
      expiresIn: Math.floor(ttlMs / 1000),
      refreshToken,
      refreshExpiresIn: Math.floor(this.config.refreshTokenTtlMs / 1000),
    };
  }
}
