import { stat } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { withTimeout } from '../../src/lib/rate-limited-log.js';

/** Blocks the event loop for `ms`, as a long synchronous task on a loaded host does. */
function blockLoop(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy: nothing else runs
  }
}

/** One operation on libuv's thread pool, whose answer is read in the loop's poll phase. */
function oneIoOperation(): Promise<boolean> {
  return new Promise((resolve, reject) => {
    stat(import.meta.filename, (error, stats) => (error ? reject(error) : resolve(stats.isFile())));
  });
}

describe('withTimeout', () => {
  it('keeps an answer that arrived while the loop was busy past the bound', async () => {
    const bounded = withTimeout(oneIoOperation(), 20, 'stat');
    // The answer arrives during the stall; the bound's timer is due before the loop reads it.
    blockLoop(200);
    await expect(bounded).resolves.toBe(true);
  });

  it('rejects when nothing answers within the bound, naming what was waited for', async () => {
    const silent = new Promise<never>(() => {});
    const started = Date.now();
    await expect(withTimeout(silent, 30, 'the counters')).rejects.toThrow(
      'the counters: no answer within 30 ms',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(29);
  });

  it('settles like the promise when it settles in time, and clears its timer', async () => {
    await expect(withTimeout(Promise.resolve(7), 1000, 'x')).resolves.toBe(7);
    await expect(withTimeout(Promise.reject(new Error('no')), 1000, 'x')).rejects.toThrow('no');
  });
});
