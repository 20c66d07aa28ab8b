import { describe, expect, it } from 'vitest';
import { RestartBackoff } from '../../src/lib/restart-backoff.js';

/** The cluster primary's delay before replacing a worker that exited (src/server.ts). */
describe('RestartBackoff', () => {
  const options = { initialMs: 500, maxMs: 30_000, healthyAfterMs: 10_000 };

  it('replaces a worker that ran a while at once', () => {
    const backoff = new RestartBackoff(options);
    expect(backoff.next(60_000)).toBe(0);
    expect(backoff.next(10_000)).toBe(0);
  });

  it('doubles the delay while workers keep dying young, up to the ceiling', () => {
    const backoff = new RestartBackoff(options);
    const delays = Array.from({ length: 10 }, () => backoff.next(200));
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
  });

  it('starts over once a worker lived long enough', () => {
    const backoff = new RestartBackoff(options);
    backoff.next(100);
    backoff.next(100);
    expect(backoff.next(100)).toBe(2000);
    expect(backoff.next(20_000)).toBe(0);
    expect(backoff.next(100)).toBe(500);
  });
});
