import { createHash } from 'node:crypto';
import { Lru } from '../../lib/lru.js';
import type { AppContext } from '../../lib/module.js';
import type { Principal } from '../../lib/principal.js';
import { LIMITS_REDIS_TIMEOUT_MS, rateLimitedWarning, withTimeout } from '../../lib/rate-limited-log.js';
import type { TaskStats } from './tasks.schemas.js';

/** What the aggregate gives: the stats at `now`, and when the next not-done task falls due. */
export interface ComputedStats {
  stats: TaskStats;
  /** The earliest dueAt ≥ now among the not-done tasks counted (RFC 3339); null when none. */
  nextDue: string | null;
}

/** A cached reply and what it is valid for: the change log at `head` of database `tag`, until `nextDue`. */
interface Entry {
  tag: string;
  head: number;
  /** Milliseconds since the epoch; from then on some task counts as overdue that did not. */
  nextDue: number | null;
  stats: TaskStats;
}

/** Why a lookup missed (the debug log names it); `hit` when the entry still held. */
export type Outcome = 'hit' | 'absent' | 'changed' | 'due' | 'pruned' | 'far' | 'other_database';

/** Entries kept in each process (a few hundred bytes each). */
export const STATS_CACHE_ENTRIES = 10_000;
/**
 * The most change-log numbers a lookup checks for an event the caller may see: past that, the
 * check costs about what the aggregate does, and the entry is computed again.
 */
export const STATS_CACHE_SPAN = 1000;
/** How long Redis keeps an entry nobody reads (it is checked against the log on every read anyway). */
const REDIS_TTL_MS = 3_600_000;

/**
 * GET /tasks/stats, cached per caller (and per admin flag, which decides what it sees) and per
 * filter, in this process and, with Redis, shared by every instance. Never stale: an entry holds
 * the change-log head it was computed at, and a lookup reads the head and whether an event the
 * caller may see now was committed since (one statement, so one snapshot; lib/change-log.ts,
 * events.repository.ts stateAndChange). Every write that changes someone's stats records an event
 * that person sees (a task's project members and assignees, a member's own membership events, a
 * deleted project's members and assignees; admins see every event). The clock ends an entry at
 * the next dueAt of its not-done tasks; retention that pruned past its head ends it too.
 */
export class StatsCache {
  private readonly local = new Lru<string, Entry>(STATS_CACHE_ENTRIES);
  private hits = 0;
  private misses = 0;
  private readonly redisFailed: (error: Error) => void;

  constructor(private readonly ctx: AppContext) {
    ctx.metrics.watchStatsCache(() => this.counts());
    this.redisFailed = rateLimitedWarning(
      ctx.log,
      'stats cache: Redis did not answer; using this process only',
    );
  }

  /** Lookups so far that were answered from the cache, and those that computed (for metrics). */
  counts(): { hits: number; misses: number } {
    return { hits: this.hits, misses: this.misses };
  }

  async get(
    caller: Principal,
    filter: object,
    compute: (now: string) => Promise<ComputedStats>,
  ): Promise<TaskStats> {
    const admin = caller.role === 'admin';
    const key = `stats:${caller.userId}:${admin ? 'all' : 'own'}:${createHash('sha256').update(JSON.stringify(filter)).digest('base64url')}`;
    const events = this.ctx.services.events;
    const entry = this.local.get(key) ?? (await this.fromRedis(key));
    let outcome: Outcome = 'absent';
    let state: { tag: string; head: number };
    if (entry) {
      const found = await events.stateAndChange(
        { userId: caller.userId, admin },
        entry.head,
        STATS_CACHE_SPAN,
      );
      state = found;
      outcome =
        found.tag !== entry.tag
          ? 'other_database'
          : entry.head < found.prunedThrough
            ? 'pruned'
            : found.head - entry.head > STATS_CACHE_SPAN
              ? 'far'
              : found.changed
                ? 'changed'
                : entry.nextDue !== null && this.ctx.clock() >= entry.nextDue
                  ? 'due'
                  : 'hit';
      if (outcome === 'hit') {
        this.hits += 1;
        this.ctx.log.debug({ statsCache: outcome, userId: caller.userId }, 'stats cache hit');
        // Nothing the caller sees changed up to this head: later lookups check from here.
        this.local.set(key, { ...entry, head: Math.max(entry.head, found.head) });
        return entry.stats;
      }
    } else {
      state = await events.state();
    }
    this.misses += 1;
    this.ctx.log.debug({ statsCache: outcome, userId: caller.userId }, 'stats cache miss');
    // The head was read before the aggregate: a change committed in between is checked again later.
    const now = this.ctx.clock();
    const computed = await compute(new Date(now).toISOString());
    const fresh: Entry = {
      tag: state.tag,
      head: state.head,
      nextDue: computed.nextDue === null ? null : Date.parse(computed.nextDue),
      stats: computed.stats,
    };
    this.local.set(key, fresh);
    this.toRedis(key, fresh, now);
    return computed.stats;
  }

  private async fromRedis(key: string): Promise<Entry | undefined> {
    const { redis, keyPrefix } = this.ctx;
    if (!redis) return undefined;
    try {
      const text = await withTimeout(redis.get(`${keyPrefix}${key}`), LIMITS_REDIS_TIMEOUT_MS, 'stats cache');
      return text === null ? undefined : (JSON.parse(text) as Entry);
    } catch (error) {
      this.redisFailed(error as Error);
      return undefined;
    }
  }

  /** Written after the reply is decided: a Redis that does not answer delays nothing. */
  private toRedis(key: string, entry: Entry, now: number): void {
    const { redis, keyPrefix } = this.ctx;
    if (!redis) return;
    const ttl = Math.max(
      1,
      Math.min(REDIS_TTL_MS, entry.nextDue === null ? REDIS_TTL_MS : entry.nextDue - now),
    );
    withTimeout(
      redis.set(`${keyPrefix}${key}`, JSON.stringify(entry), 'PX', ttl),
      LIMITS_REDIS_TIMEOUT_MS,
      'stats cache',
    ).catch((error: Error) => this.redisFailed(error));
  }
}
