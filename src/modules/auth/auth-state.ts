import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { Lru } from '../../lib/lru.js';
import type { Role } from '../users/users.schemas.js';

/**
 * What every authenticated request needs besides the token: the user's current role and disabled
 * flag, and whether the session has ended. Read from the database once and cached in-process;
 * local writes invalidate at once, and with Redis other instances hear of them by pub/sub. While
 * the pub/sub link is down the cache is bypassed: every request reads the database (fail closed).
 */
export interface UserState {
  role: Role;
  disabled: boolean;
}

export interface SessionState {
  userId: string;
  ended: boolean;
}

export interface AuthStateLoaders {
  user(id: string): Promise<UserState | null>;
  session(id: string): Promise<SessionState | null>;
}

const CHANNEL = 'taskforge:auth-invalidate';
const MISSING = 'missing' as const;

type Message =
  | { kind: 'user'; id: string }
  | { kind: 'session'; id: string }
  | { kind: 'user-sessions'; id: string };

export class AuthStateCache {
  private readonly users = new Lru<string, UserState | typeof MISSING>(20_000);
  private readonly sessions = new Lru<string, SessionState | typeof MISSING>(50_000);
  /** Bumped by every invalidation: a load that started before one must not fill the cache. */
  private generation = 0;
  private subscriber: Redis | null = null;

  constructor(
    private readonly loaders: AuthStateLoaders,
    private readonly redis: Redis | null,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Subscribes to other instances' invalidations (when Redis is configured). */
  start(): void {
    if (!this.redis) return;
    const subscriber = this.redis.duplicate({ enableOfflineQueue: true });
    this.subscriber = subscriber;
    subscriber.on('error', () => {}); // the main client already reports connection problems
    // After any gap in the link, messages may have been missed: start from an empty cache.
    subscriber.on('ready', () => this.clear());
    subscriber.subscribe(CHANNEL).catch(() => {});
    subscriber.on('message', (_channel: string, text: string) => {
      try {
        this.apply(JSON.parse(text) as Message);
      } catch {
        this.clear();
      }
    });
  }

  async stop(): Promise<void> {
    this.subscriber?.disconnect();
    this.subscriber = null;
  }

  private usable(): boolean {
    return this.redis === null || this.subscriber?.status === 'ready';
  }

  user(id: string): Promise<UserState | null> {
    return this.cached(this.users, id, this.loaders.user);
  }

  session(id: string): Promise<SessionState | null> {
    return this.cached(this.sessions, id, this.loaders.session);
  }

  private async cached<T>(
    cache: Lru<string, T | typeof MISSING>,
    id: string,
    load: (id: string) => Promise<T | null>,
  ): Promise<T | null> {
    if (this.usable()) {
      const hit = cache.get(id);
      if (hit !== undefined) return hit === MISSING ? null : hit;
    }
    const generation = this.generation;
    const loaded = await load(id);
    if (generation === this.generation) cache.set(id, loaded ?? MISSING);
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

  private publish(message: Message): void {
    this.apply(message);
    this.redis?.publish(CHANNEL, JSON.stringify(message)).catch((error: Error) => {
      this.log.warn({ err: { message: error.message } }, 'could not publish an auth invalidation');
    });
  }

  private apply(message: Message): void {
    this.generation += 1;
    if (message.kind === 'user') this.users.delete(message.id);
    else if (message.kind === 'session') this.sessions.delete(message.id);
    else this.sessions.deleteWhere((state) => state !== MISSING && state.userId === message.id);
  }

  private clear(): void {
    this.generation += 1;
    this.users.clear();
    this.sessions.clear();
  }
}
