import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { Lru } from '../../lib/lru.js';
import type { Role, Scope } from '../../lib/principal.js';
import { type Subscription, subscribe } from '../../lib/redis.js';

/**
 * What every authenticated request needs besides the token: the user's current role and disabled
 * flag, whether the session has ended, and an API key's stored state (a revoked key is gone). Read from the database once and cached in-process;
 * local writes invalidate at once. Changes committed by another process (another instance, the
 * command-line tools) arrive by one of three ways, per the contract's "whichever process made it":
 * - SQLite: the connection's data_version moves when another connection commits; the cache is
 *   emptied then (one cheap read per lookup);
 * - Redis pub/sub, from every process that writes; while the link is not live (down, or silent
 *   for SUBSCRIPTION_SILENCE_MS: lib/redis.ts) the cache is bypassed and every request reads the
 *   database (fail closed), and it starts empty when the link is back;
 * - on PostgreSQL an entry is also trusted for at most `maxAgeMs`: without Redis that is the only
 *   bound, with it the bound of what pub/sub cannot promise (a writer whose own link was down
 *   could not publish; a link that lost messages in under a heartbeat).
 */
export interface UserState {
  role: Role;
  disabled: boolean;
}

export interface SessionState {
  userId: string;
  ended: boolean;
}

/** An API key as its lookup by public prefix finds it (the secret only as its hash). */
export interface ApiKeyState {
  id: string;
  userId: string;
  secretHash: string;
  scopes: Scope[];
  expiresAt: string | null;
}

export interface AuthStateLoaders {
  user(id: string): Promise<UserState | null>;
  session(id: string): Promise<SessionState | null>;
  apiKey(prefix: string): Promise<ApiKeyState | null>;
}

export interface AuthStateOptions {
  /** SQLite's PRAGMA data_version on this process's connection (see above). */
  dataVersion?: (() => number) | null;
  /** How long an entry may be trusted when nothing tells this process of foreign changes. */
  maxAgeMs?: number | null;
  /** Milliseconds, for maxAgeMs; tests move it instead of sleeping. */
  now?: () => number;
}

const CHANNEL = 'taskforge:auth-invalidate';
const MISSING = 'missing' as const;

interface Entry<T> {
  value: T | typeof MISSING;
  loadedAt: number;
}

type Message =
  | { kind: 'user'; id: string }
  | { kind: 'session'; id: string }
  | { kind: 'user-sessions'; id: string }
  | { kind: 'api-key'; id: string }
  | { kind: 'user-api-keys'; id: string };

export class AuthStateCache {
  private readonly users = new Lru<string, Entry<UserState>>(20_000);
  private readonly sessions = new Lru<string, Entry<SessionState>>(50_000);
  /** By public prefix. */
  private readonly apiKeys = new Lru<string, Entry<ApiKeyState>>(20_000);
  /** Bumped by every invalidation: a load that started before one must not fill the cache. */
  private generation = 0;
  private subscription: Subscription | null = null;
  private seenVersion: number | null = null;
  private readonly pending = new Set<Promise<unknown>>();
  private failedPublishes = 0;
  private readonly dataVersion: (() => number) | null;
  private readonly maxAgeMs: number | null;
  private readonly now: () => number;

  constructor(
    private readonly loaders: AuthStateLoaders,
    private readonly redis: Redis | null,
    private readonly log: FastifyBaseLogger,
    options: AuthStateOptions = {},
  ) {
    this.dataVersion = options.dataVersion ?? null;
    this.maxAgeMs = options.maxAgeMs ?? null;
    this.now = options.now ?? Date.now;
  }

  /** Subscribes to other instances' invalidations (when Redis is configured). */
  start(): void {
    if (!this.redis || this.subscription) return;
    this.subscription = subscribe(this.redis, CHANNEL, {
      message: (text) => {
        try {
          this.apply(JSON.parse(text) as Message);
        } catch {
          this.clear();
        }
      },
      // After any gap in the link, messages may have been missed: start from an empty cache.
      resumed: () => this.clear(),
    });
  }

  /** Whether this process hears other processes' invalidations now (tests wait for it). */
  get listening(): boolean {
    return this.subscription?.live ?? false;
  }

  async stop(): Promise<void> {
    this.subscription?.close();
    this.subscription = null;
  }

  /** Whether cached entries may be served now; empties the cache when another process committed. */
  private usable(): boolean {
    if (this.redis !== null && !this.listening) return false;
    if (this.dataVersion === null) return true;
    let version: number;
    try {
      version = this.dataVersion();
    } catch {
      return false; // cannot tell: read the database, which reports its own error
    }
    if (version !== this.seenVersion) {
      // Which rows changed is unknown: forget everything (reads by primary key are cheap on SQLite).
      this.seenVersion = version;
      this.clear();
    }
    return true;
  }

  user(id: string): Promise<UserState | null> {
    return this.cached(this.users, id, this.loaders.user);
  }

  session(id: string): Promise<SessionState | null> {
    return this.cached(this.sessions, id, this.loaders.session);
  }

  /** The key with this public prefix, if it exists (expiry and the secret are the caller's to check). */
  apiKey(prefix: string): Promise<ApiKeyState | null> {
    return this.cached(this.apiKeys, prefix, this.loaders.apiKey);
  }

  private async cached<T>(
    cache: Lru<string, Entry<T>>,
    id: string,
    load: (id: string) => Promise<T | null>,
  ): Promise<T | null> {
    if (this.usable()) {
      const hit = cache.get(id);
      const fresh =
        hit !== undefined && (this.maxAgeMs === null || this.now() - hit.loadedAt < this.maxAgeMs);
      if (hit && fresh) return hit.value === MISSING ? null : hit.value;
    }
    const generation = this.generation;
    // Taken before the read: the entry's age counts from a moment the row was at least this fresh.
    const loadedAt = this.now();
    const loaded = await load(id);
    if (generation === this.generation) cache.set(id, { value: loaded ?? MISSING, loadedAt });
    return loaded;
  }

  /** The user's role, disabled flag or existence changed. */
  userChanged(id: string): void {
    this.publish({ kind: 'user', id });
  }

  /** One session ended. */
  sessionChanged(id: string): void {
    this.publish({ kind: 'session', id });
  }

  /** Some or all sessions of a user ended. */
  userSessionsChanged(userId: string): void {
    this.publish({ kind: 'user-sessions', id: userId });
  }

  /** The key with this public prefix was created or revoked. */
  apiKeyChanged(prefix: string): void {
    this.publish({ kind: 'api-key', id: prefix });
  }

  /** Some or all API keys of a user were revoked (its deletion, a takeover). */
  userApiKeysChanged(userId: string): void {
    this.publish({ kind: 'user-api-keys', id: userId });
  }

  private publish(message: Message): void {
    this.apply(message);
    if (!this.redis) return;
    const sent = this.redis.publish(CHANNEL, JSON.stringify(message)).catch((error: Error) => {
      // Stryker disable next-line AssignmentOperator: published() only asks whether the count moved from 0
      this.failedPublishes += 1;
      this.log.warn({ err: { message: error.message } }, 'could not publish an auth invalidation');
    });
    this.pending.add(sent);
    // Stryker disable next-line ArrowFunction: only frees settled promises; published() awaits them either way
    void sent.finally(() => this.pending.delete(sent));
  }

  /**
   * Resolves once every invalidation published so far has reached Redis; false when one could
   * not be sent. A short-lived process (the command-line tool) awaits it before exiting.
   */
  async published(): Promise<boolean> {
    await Promise.all(this.pending);
    return this.failedPublishes === 0;
  }

  private apply(message: Message): void {
    // Stryker disable next-line AssignmentOperator: a load compares generations for equality only
    this.generation += 1;
    if (message.kind === 'user') this.users.delete(message.id);
    else if (message.kind === 'session') this.sessions.delete(message.id);
    else if (message.kind === 'api-key') this.apiKeys.delete(message.id);
    else if (message.kind === 'user-api-keys')
      this.apiKeys.deleteWhere((entry) => entry.value !== MISSING && entry.value.userId === message.id);
    else this.sessions.deleteWhere((entry) => entry.value !== MISSING && entry.value.userId === message.id);
  }

  private clear(): void {
    // Stryker disable next-line AssignmentOperator: a load compares generations for equality only
    this.generation += 1;
    this.users.clear();
    this.sessions.clear();
    this.apiKeys.clear();
  }
}
