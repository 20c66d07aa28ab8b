import { uuidv7 } from 'uuidv7';
import { ApiError } from '../../errors.js';
import { LastUsedRecorder } from '../../lib/last-used.js';
import { type CursorPage, type CursorRequest, type Page, type PageRequest, pageOf } from '../../lib/lists.js';
import type { AppContext } from '../../lib/module.js';
import { ROLE_SCOPES, type Role, type Scope } from '../../lib/principal.js';
import * as repo from './api-keys.repository.js';
import type { ApiKey, CreateApiKey } from './api-keys.schemas.js';
import { keyMatches, newKey, prefixOf } from './api-keys.secrets.js';

/** A key's stored state, as the auth cache keeps it (see auth-state.ts, ApiKeyState). */
export interface ApiKeyRecord {
  id: string;
  userId: string;
  secretHash: string;
  scopes: Scope[];
  expiresAt: string | null;
}

/** Who a valid key belongs to and what it holds (before the owner's current role is applied). */
export interface KeyIdentity {
  keyId: string;
  userId: string;
  scopes: Scope[];
}

/** Few enough that a list of them is one page; enough for every CI system a person runs. */
const MAX_KEYS_PER_USER = 100;

function scopesOf(row: repo.ApiKeyRow): Scope[] {
  return row.scopes.split(' ') as Scope[];
}

function toApiKey(row: repo.ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: scopesOf(row),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
  };
}

/** API keys: issued to a signed-in user, listed, revoked; and what a presented key is. */
export class ApiKeysService {
  private readonly lastUsed: LastUsedRecorder;

  constructor(private readonly ctx: AppContext) {
    this.lastUsed = new LastUsedRecorder((id, at) => repo.touchApiKey(this.db, id, at), ctx.log, ctx.clock);
  }

  private get db(): repo.Db {
    return this.ctx.database.db;
  }

  private now(): string {
    return new Date(this.ctx.clock()).toISOString();
  }

  async create(userId: string, role: Role, input: CreateApiKey): Promise<ApiKey & { key: string }> {
    const allowed = ROLE_SCOPES[role];
    const refused = input.scopes.flatMap((scope, i) =>
      allowed.includes(scope)
        ? []
        : [
            {
              pointer: `/scopes/${i}`,
              code: 'scope_not_allowed',
              detail: `the role ${role} does not allow it`,
            },
          ],
    );
    const now = this.now();
    const expiresAt = input.expiresAt ?? null;
    const errors = [
      ...refused,
      ...(expiresAt !== null && expiresAt <= now
        ? [{ pointer: '/expiresAt', code: 'too_small', detail: 'must be in the future' }]
        : []),
    ];
    if (errors.length > 0) {
      throw new ApiError('validation_failed', {
        detail: `${errors.length} ${errors.length === 1 ? 'field is' : 'fields are'} invalid`,
        errors,
      });
    }
    if ((await repo.countOwned(this.db, userId)) >= MAX_KEYS_PER_USER) {
      throw new ApiError('conflict', {
        detail: `At most ${MAX_KEYS_PER_USER} API keys per user: revoke one first`,
      });
    }
    const secret = newKey();
    const row: repo.ApiKeyRow = {
      id: uuidv7(),
      user_id: userId,
      name: input.name,
      prefix: secret.prefix,
      secret_hash: secret.hash,
      scopes: input.scopes.join(' '),
      created_at: now,
      expires_at: expiresAt,
      last_used_at: null,
    };
    await repo.insertApiKey(this.db, row);
    // A lookup of this prefix may have been cached as unknown before it existed.
    this.ctx.services.authState.apiKeyChanged(secret.prefix);
    return { ...toApiKey(row), key: secret.key };
  }

  async get(userId: string, id: string): Promise<ApiKey> {
    const row = await repo.findOwned(this.db, userId, id);
    if (!row) throw new ApiError('not_found');
    return toApiKey(row);
  }

  async list(userId: string, request: PageRequest): Promise<Page<ApiKey>> {
    const [rows, total] = await Promise.all([
      repo.listOwned(this.db, userId, request.size, (request.page - 1) * request.size),
      repo.countOwned(this.db, userId),
    ]);
    return pageOf(rows.map(toApiKey), total, request);
  }

  /** Version 2: newest first, a cursor page at a time. */
  async listAfter(userId: string, request: CursorRequest): Promise<CursorPage<ApiKey>> {
    const { cursors } = this.ctx;
    const { limit, cursor } = request;
    const binding = { list: 'api-keys', caller: userId };
    let after: { createdAt: string; id: string } | null = null;
    if (cursor !== undefined) {
      const p = cursors.open(binding, cursor) as { v?: unknown; id?: unknown } | null;
      if (typeof p?.v !== 'string' || typeof p.id !== 'string') throw new ApiError('invalid_cursor');
      after = { createdAt: p.v, id: p.id };
    }
    const rows = await repo.listOwned(this.db, userId, limit + 1, 0, after);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > limit && last ? cursors.sign(binding, { v: last.created_at, id: last.id }) : null;
    return { items: page.map(toApiKey), nextCursor };
  }

  /** Revokes one of the caller's keys: it stops working at once, on every instance. */
  async revoke(userId: string, id: string): Promise<void> {
    const prefix = await repo.deleteOwned(this.db, userId, id);
    if (prefix === null) throw new ApiError('not_found');
    this.ctx.services.authState.apiKeyChanged(prefix);
  }

  /** The stored state of the key with this prefix (the auth cache's loader). */
  async stateOf(prefix: string): Promise<ApiKeyRecord | null> {
    const row = await repo.findByPrefix(this.db, prefix);
    if (!row) return null;
    return {
      id: row.id,
      userId: row.user_id,
      secretHash: row.secret_hash,
      scopes: scopesOf(row),
      expiresAt: row.expires_at,
    };
  }

  /** A request was authenticated with this key: its lastUsedAt follows (batched, see LastUsedRecorder). */
  recordUse(keyId: string): void {
    this.lastUsed.record(keyId);
  }

  /**
   * Who a presented key is: found by its public prefix (cached, invalidated on revocation), its
   * hash compared in constant time; null for anything malformed, unknown, revoked or expired.
   */
  async authenticate(value: string): Promise<KeyIdentity | null> {
    const prefix = prefixOf(value);
    if (prefix === null) return null;
    const state = await this.ctx.services.authState.apiKey(prefix);
    if (!state || !keyMatches(value, state.secretHash)) return null;
    if (state.expiresAt !== null && state.expiresAt <= this.now()) return null;
    return { keyId: state.id, userId: state.userId, scopes: state.scopes };
  }
}
