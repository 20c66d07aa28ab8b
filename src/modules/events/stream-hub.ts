import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { ApiError } from '../../errors.js';
import { formatEventId } from '../../lib/change-log.js';
import { isDatabaseUnavailable } from '../../lib/db-errors.js';
import type { AppContext } from '../../lib/module.js';
import type { Principal } from '../../lib/principal.js';
import { LIMITS_REDIS_TIMEOUT_MS, rateLimitedWarning } from '../../lib/rate-limited-log.js';
import { bounded, type Subscription, subscribe } from '../../lib/redis.js';
import { positionAfter, type Viewer, viewerOf } from './events.service.js';

/**
 * The live event stream's hub (contract §8, `GET /events/stream`): one per app. It learns of new
 * commits from this process's change log, from the other instances over Redis pub/sub (each
 * publishes `{head}` on `<keyPrefix>events` after its commits), and, without Redis (or while its
 * link is not live: lib/redis.ts `subscribe`), by reading `event_log.head` every second while
 * streams are open. On news, each
 * stream reads what its caller may see after its position through the feed
 * (`ctx.services.events.feed`), so visibility is the feed's, decided at read time.
 *
 * A stream ends when its session ends, its user is disabled or deleted, its access token expires,
 * or its API key is revoked or expires: checked on every wake-up and every `recheckMs`, through
 * the auth module's state cache (kept fresh across instances, see auth/auth-state.ts).
 */

export interface StreamTimings {
  /** A comment line this often keeps proxies and clients from timing the stream out. */
  heartbeatMs: number;
  /** How often each stream checks its credentials again (and reads, if the head moved). */
  recheckMs: number;
  /** How often `event_log.head` is read when Redis cannot tell of other instances' commits. */
  pollMs: number;
  /** With Redis up, a read of the head this often anyway (a message lost in a reconnect). */
  safetyPollMs: number;
  /** How long a stream's place in the per-user count lives in Redis unless refreshed. */
  leaseMs: number;
}

export const DEFAULT_STREAM_TIMINGS: StreamTimings = {
  heartbeatMs: 15_000,
  recheckMs: 2_000,
  pollMs: 1_000,
  safetyPollMs: 10_000,
  leaseMs: 30_000,
};

/** Contract §8: the 6th open stream of one user is refused. */
export const MAX_STREAMS_PER_USER = 5;
/** How many events one read of the feed asks for. */
const PAGE = 100;
/** When the 6th stream is refused: a stream of the same user may have closed by then. */
const FULL_RETRY_AFTER_SECONDS = 5;

/** Takes a place, unless the set already holds `max` live ones (expired ones are dropped first). */
const ACQUIRE_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

/** What a stream checks again while it is open: the session of a token, or the key itself. */
export type StreamCredential = { kind: 'token' } | { kind: 'api_key'; value: string };

/** Why a stream ended (its last comment line says so). */
export type EndReason =
  | 'session_ended'
  | 'account_disabled'
  | 'token_expired'
  | 'api_key_revoked'
  | 'events_expired'
  | 'shutdown'
  | 'client_closed';

/** The frames of one event, as the stream writes them. */
export function eventFrame(event: { id: string; type: string }): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

class EventStream {
  readonly id = randomUUID();
  readonly body = new PassThrough();
  closed = false;
  private pumping = false;
  private again = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private expiry: NodeJS.Timeout | null = null;
  viewer: Viewer;

  constructor(
    private readonly hub: StreamHub,
    readonly principal: Principal,
    readonly credential: StreamCredential,
    public position: number,
  ) {
    this.viewer = viewerOf(principal);
  }

  start(first: string): void {
    this.body.write(first);
    this.heartbeat = setInterval(() => {
      if (!this.closed && !this.body.writableNeedDrain) this.body.write(': heartbeat\n\n');
    }, this.hub.timings.heartbeatMs);
    this.heartbeat.unref();
    const expiresAt = this.principal.tokenExpiresAt;
    if (expiresAt !== null) {
      // Timers may fire a little early by the clock: armed again until the clock has passed it.
      const arm = () => {
        const left = expiresAt - this.hub.ctx.clock();
        if (left <= 0) {
          this.wake();
          return;
        }
        // A timer's delay is capped at 2^31-1 ms; it is armed again from there.
        this.expiry = setTimeout(arm, Math.min(left + 5, 2_147_000_000));
        this.expiry.unref();
      };
      arm();
    }
  }

  /** Re-checks the credentials, then reads what followed its position (one read at a time). */
  wake(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void this.pump().finally(() => {
      this.pumping = false;
    });
  }

  private async pump(): Promise<void> {
    try {
      do {
        this.again = false;
        const ending = await this.hub.endReason(this);
        if (ending) {
          this.end(ending);
          return;
        }
        if (this.position < this.hub.head) await this.catchUp();
      } while (this.again && !this.closed);
    } catch (error) {
      // A failed read (the database away) is tried again at the next wake-up or check.
      this.hub.readFailed(error, 'an event stream could not read the feed');
    }
  }

  private async catchUp(): Promise<void> {
    const events = this.hub.ctx.services.events;
    while (!this.closed) {
      const page = await events.feed(this.viewer, this.position, PAGE);
      // Retention deleted events after this position before they were read: the page skipped
      // them. End the stream; its client's Last-Event-ID then answers 410 (resynchronise).
      if ((await events.state()).prunedThrough > this.position) {
        this.end('events_expired');
        return;
      }
      for (const event of page.items) {
        if (this.closed) return;
        await this.send(eventFrame(event));
      }
      if (page.next <= this.position) return;
      this.position = page.next;
      this.hub.noteHead(page.next);
      if (!page.hasMore) return;
    }
  }

  /** Writes one frame; waits while the client reads slower than events come (no unbounded buffer). */
  private async send(frame: string): Promise<void> {
    if (this.body.write(frame)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.body.off('drain', done);
        this.body.off('close', done);
        resolve();
      };
      this.body.on('drain', done);
      this.body.on('close', done);
    });
  }

  end(reason: EndReason): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.expiry) clearTimeout(this.expiry);
    this.hub.detach(this);
    if (reason === 'client_closed') {
      this.body.destroy();
      return;
    }
    this.body.end(`: end ${reason}\n\n`);
  }
}

export type { EventStream };

export class StreamHub {
  timings: StreamTimings = { ...DEFAULT_STREAM_TIMINGS };
  /** The newest committed event number this process knows of. */
  head = 0;
  private readonly streams = new Set<EventStream>();
  /** Open streams per user in this process (the count itself without Redis). */
  private readonly perUser = new Map<string, number>();
  /** Streams whose place is held in Redis (released there when they end). */
  private readonly leased = new Set<string>();
  private subscription: Subscription | null = null;
  private recheck: NodeJS.Timeout | null = null;
  private poll: NodeJS.Timeout | null = null;
  private lastPollAt = 0;
  private polling = false;
  private listening = false;
  private stopping = false;
  /**
   * While the database does not answer, every open stream's check and every poll fails: one line
   * a minute says so instead of one per stream and round. The streams stay open and read again.
   */
  private readonly databaseDown: (error: Error) => void;

  constructor(readonly ctx: AppContext) {
    ctx.metrics.watchOpenStreams(() => this.streams.size);
    this.databaseDown = rateLimitedWarning(
      ctx.log,
      'event streams: the database does not answer; open streams wait and read again when it is back',
    );
  }

  /** A failed read of a stream or of the head: tried again on the next round. */
  readFailed(error: unknown, message: string): void {
    if (isDatabaseUnavailable(error)) this.databaseDown(error as Error);
    else this.ctx.log.warn({ err: error }, message);
  }

  private get channel(): string {
    return `${this.ctx.keyPrefix}events`;
  }

  private slotsKey(userId: string): string {
    return `${this.ctx.keyPrefix}event-streams:${userId}`;
  }

  /** Tests shorten the intervals (heartbeats, checks, polls). */
  configure(timings: Partial<StreamTimings>): void {
    this.timings = { ...this.timings, ...timings };
    if (this.streams.size > 0) {
      this.stopTimers();
      this.startTimers();
    }
  }

  /**
   * In every process that writes (the API, the worker, the tools): tells the other instances of
   * each local commit. Called once, from the module's `subscribe`.
   */
  publishCommits(): void {
    this.ctx.changes.onCommit(({ head }) => {
      this.notify(head);
      const redis = this.ctx.redis;
      if (redis?.status !== 'ready') return;
      redis.publish(this.channel, JSON.stringify({ head })).catch((error: Error) => {
        this.ctx.log.warn({ err: { message: error.message } }, 'could not publish an event commit');
      });
    });
  }

  /** In the app: hears of other instances' commits (Redis), so its streams can be served. */
  listen(): void {
    if (this.listening || !this.ctx.redis) return;
    this.listening = true;
    this.subscription = subscribe(this.ctx.redis, this.channel, {
      message: (text) => {
        try {
          const { head } = JSON.parse(text) as { head: unknown };
          if (typeof head === 'number' && Number.isSafeInteger(head)) this.notify(head);
        } catch {
          void this.pollHead(true);
        }
      },
      // After a gap in the link, messages may have been missed: read the head again.
      resumed: () => void this.pollHead(true),
    });
  }

  /** A newer head: every stream behind it reads. */
  notify(head: number): void {
    if (head <= this.head) return;
    this.head = head;
    for (const stream of this.streams) if (stream.position < head) stream.wake();
  }

  /** What a stream read shows of the head (never lowers it). */
  noteHead(head: number): void {
    if (head > this.head) this.head = head;
  }

  /**
   * Where a stream starts: after `Last-Event-ID` when it is sent (malformed → 400
   * invalid_cursor; from another database, newer than the head or pruned by retention → 410
   * events_expired), else at the head now.
   */
  async startPosition(lastEventId: string | undefined): Promise<{ position: number; tag: string }> {
    const log = await this.ctx.services.events.state();
    this.noteHead(log.head);
    if (lastEventId === undefined) return { position: log.head, tag: log.tag };
    return { position: positionAfter(log, lastEventId, 'Last-Event-ID'), tag: log.tag };
  }

  /**
   * Opens a stream for `principal` after `position`: its place among the user's 5 (else 429
   * rate_limited), then the first comment at once. Returns the body to send.
   */
  async open(
    principal: Principal,
    credential: StreamCredential,
    start: { position: number; tag: string },
  ): Promise<EventStream> {
    if (this.stopping) throw new ApiError('not_ready', { headers: { 'retry-after': '5' } });
    const stream = new EventStream(this, principal, credential, start.position);
    await this.acquire(stream);
    if (this.stopping) {
      this.release(stream);
      throw new ApiError('not_ready', { headers: { 'retry-after': '5' } });
    }
    this.streams.add(stream);
    if (this.streams.size === 1) this.startTimers();
    stream.body.on('close', () => stream.end('client_closed'));
    stream.start(`: events after ${formatEventId(start.tag, start.position)}\n\n`);
    // Whatever committed between reading the start and now.
    stream.wake();
    return stream;
  }

  private async acquire(stream: EventStream): Promise<void> {
    const userId = stream.principal.userId;
    const redis = this.ctx.redis;
    let held: boolean | null = null;
    if (redis && redis.status === 'ready') {
      const now = Date.now();
      try {
        // Bounded: a Redis that does not answer holds no stream's opening (rate limits do the same).
        const result = await bounded(
          redis,
          redis.eval(
            ACQUIRE_SCRIPT,
            1,
            this.slotsKey(userId),
            now,
            now + this.timings.leaseMs,
            stream.id,
            MAX_STREAMS_PER_USER,
            this.timings.leaseMs,
          ),
          LIMITS_REDIS_TIMEOUT_MS,
          'event stream places',
        );
        held = result === 1;
        if (held) this.leased.add(stream.id);
      } catch (error) {
        // A late answer may still take a place: give it back (when the link is still up; else
        // the place, never refreshed, expires after leaseMs).
        redis.zrem(this.slotsKey(userId), stream.id).catch(() => {});
        // Counted in this process only while Redis does not answer.
        this.ctx.log.warn({ err: error }, 'could not count event streams in redis');
      }
    }
    const local = this.perUser.get(userId) ?? 0;
    if (held === false || (held === null && local >= MAX_STREAMS_PER_USER)) {
      throw new ApiError('rate_limited', {
        detail: `At most ${MAX_STREAMS_PER_USER} event streams may be open per user`,
        headers: { 'retry-after': String(FULL_RETRY_AFTER_SECONDS) },
      });
    }
    this.perUser.set(userId, local + 1);
  }

  private release(stream: EventStream): void {
    const userId = stream.principal.userId;
    const left = (this.perUser.get(userId) ?? 1) - 1;
    if (left > 0) this.perUser.set(userId, left);
    else this.perUser.delete(userId);
    if (this.leased.delete(stream.id)) {
      this.ctx.redis?.zrem(this.slotsKey(userId), stream.id).catch(() => {});
    }
  }

  detach(stream: EventStream): void {
    if (!this.streams.delete(stream)) return;
    this.release(stream);
    if (this.streams.size === 0) this.stopTimers();
  }

  /** Null while the stream may go on; else why it ends. */
  async endReason(stream: EventStream): Promise<EndReason | null> {
    const { authState, apiKeys } = this.ctx.services;
    const { principal, credential } = stream;
    if (credential.kind === 'api_key') {
      const identity = await apiKeys.authenticate(credential.value);
      if (!identity || identity.keyId !== principal.apiKeyId) return 'api_key_revoked';
    }
    const user = await authState.user(principal.userId);
    if (!user || user.disabled) return 'account_disabled';
    // An admin demoted sees what a member sees from the next read on (and the other way round).
    stream.viewer = { userId: principal.userId, admin: user.role === 'admin' };
    if (credential.kind === 'token') {
      if (principal.tokenExpiresAt !== null && this.ctx.clock() >= principal.tokenExpiresAt)
        return 'token_expired';
      const session = principal.sessionId ? await authState.session(principal.sessionId) : null;
      if (!session || session.ended || session.userId !== principal.userId) return 'session_ended';
    }
    return null;
  }

  private startTimers(): void {
    this.recheck = setInterval(() => this.checkAll(), this.timings.recheckMs);
    this.recheck.unref();
    this.poll = setInterval(() => void this.pollHead(), this.timings.pollMs);
    this.poll.unref();
  }

  private stopTimers(): void {
    if (this.recheck) clearInterval(this.recheck);
    if (this.poll) clearInterval(this.poll);
    this.recheck = null;
    this.poll = null;
  }

  /** Every stream checks its credentials again; the Redis places are refreshed. */
  private checkAll(): void {
    for (const stream of this.streams) stream.wake();
    const redis = this.ctx.redis;
    if (!redis || this.leased.size === 0 || redis.status !== 'ready') return;
    const until = Date.now() + this.timings.leaseMs;
    const pipeline = redis.pipeline();
    for (const stream of this.streams) {
      if (!this.leased.has(stream.id)) continue;
      const key = this.slotsKey(stream.principal.userId);
      pipeline.zadd(key, 'XX', until, stream.id);
      pipeline.pexpire(key, this.timings.leaseMs);
    }
    pipeline.exec().catch(() => {});
  }

  /** Reads the committed head (other instances' commits, when Redis cannot tell of them). */
  private async pollHead(force = false): Promise<void> {
    if (this.polling || this.streams.size === 0) return;
    const redisUp = this.subscription?.live ?? false;
    const now = Date.now();
    if (!force && redisUp && now - this.lastPollAt < this.timings.safetyPollMs) return;
    this.polling = true;
    this.lastPollAt = now;
    try {
      const { head } = await this.ctx.services.events.state();
      this.notify(head);
    } catch (error) {
      this.readFailed(error, 'could not read the event head');
    } finally {
      this.polling = false;
    }
  }

  /** Whether other instances' commits are heard over Redis now (else the head is polled). */
  get hearing(): boolean {
    return this.subscription?.live ?? false;
  }

  /** How many streams are open in this process (tests, metrics). */
  get size(): number {
    return this.streams.size;
  }

  /** App close: every stream ends now (the server's close must not wait on them). */
  closeAll(): void {
    this.stopping = true;
    for (const stream of [...this.streams]) stream.end('shutdown');
    this.stopTimers();
  }

  async stop(): Promise<void> {
    this.closeAll();
    this.subscription?.close();
    this.subscription = null;
  }
}
