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
  },
});
