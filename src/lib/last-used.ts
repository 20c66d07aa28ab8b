import type { FastifyBaseLogger } from 'fastify';

/** `lastUsedAt` may lag by this much (contract §2): one write per credential per interval. */
export const LAST_USED_INTERVAL_MS = 60_000;

/**
 * Keeps a credential's `lastUsedAt` (a session's, an API key's) without a database write per
 * request: the first use in an interval is written, never awaited, and the rest of the interval's
 * uses of that credential cost a map lookup.
 */
export class LastUsedRecorder {
  private readonly written = new Map<string, number>();

  constructor(
    private readonly write: (id: string, at: string) => Promise<void>,
    private readonly log: FastifyBaseLogger,
    private readonly now: () => number,
    private readonly intervalMs = LAST_USED_INTERVAL_MS,
  ) {}

  record(id: string): void {
    const now = this.now();
    const last = this.written.get(id);
    if (last !== undefined && now - last < this.intervalMs) return;
    // Bounded: forgetting only costs one early write per credential.
    if (this.written.size > 100_000) this.written.clear();
    this.written.set(id, now);
    this.write(id, new Date(now).toISOString()).catch((error: Error) => {
      this.log.warn({ err: { message: error.message } }, 'could not record a credential use');
    });
  }
}
