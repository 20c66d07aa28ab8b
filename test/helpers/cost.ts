/**
 * How an input rule's cost grows: the time of a 1 MB hostile input over the time of a 100 KB one,
 * within one run. A linear rule gives about 10, a quadratic one about 100. Time is this process's
 * CPU time, so other processes on a busy machine do not count; each size is timed a few times and
 * the fastest run kept; the whole measurement is tried up to five times and the smallest ratio
 * kept, since a quadratic rule cannot get lucky.
 */
export const SMALL = 100_000;
export const LARGE = 1_000_000;
/** The contract's bound: a 1 MB input costs at most about 20 times a 100 KB one. */
export const MAX_RATIO = 20;

/** Milliseconds of CPU time for `batch` calls. */
function cpuTime(run: () => unknown, batch: number): number {
  const start = process.cpuUsage();
  for (let i = 0; i < batch; i++) run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** The fastest time of one call; calls too quick to time alone are timed in batches of at least 5 ms. */
function fastest(run: () => unknown, repetitions: number): number {
  let batch = 1;
  while (batch < 65_536 && cpuTime(run, batch) < 5) batch *= 2;
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < repetitions; i++) best = Math.min(best, cpuTime(run, batch) / batch);
  return best;
}

export function costRatio<T>(rule: (input: T) => unknown, make: (size: number) => T): number {
  const small = make(SMALL);
  const large = make(LARGE);
  fastest(() => rule(make(1000)), 3); // let the JIT settle
  let ratio = Number.POSITIVE_INFINITY;
  for (let attempt = 0; attempt < 5 && ratio > MAX_RATIO; attempt++) {
    const smallMs = fastest(() => rule(small), 5);
    const largeMs = fastest(() => rule(large), 5);
    ratio = Math.min(ratio, largeMs / smallMs);
  }
  return ratio;
}
