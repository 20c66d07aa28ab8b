import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    environment: 'node',
    pool: 'forks',
    // Generous: some tests start child processes, and CI machines are shared and noisy.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Each file builds its own app on its own database or schema, so files may run in parallel.
    fileParallelism: true,
    // Vitest's default is one worker per core minus one: a single worker on CI's two cores, where a
    // file spends much of its time waiting (child processes, timers, the databases). Two workers
    // took a sample of 20 files from 61 s to 40 s on such a machine (three: 45 s).
    maxWorkers: 2,
    minWorkers: 1,
  },
});
