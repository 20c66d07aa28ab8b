import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Files whose subject is the HTTP layer alone (connection timeouts and caps, the Cache-Control of
 * every route) or the process (the compiled start), whatever the database: they run on SQLite, and
 * the PostgreSQL run leaves them out to keep CI within its time (together about 175 s of a
 * one-worker run).
 */
const HTTP_ONLY = [
  'test/load/slow-clients.test.ts',
  'test/http/cache-every-route.test.ts',
  // The compiled start on a copy of the repository: its servers use SQLite files of their own
  // whatever the run's database (about 85 s, a compile and two clusters included).
  'test/server/production-start.test.ts',
  // The client's generated types against the documents, which no database changes (about 10 s).
  'test/client/generated.test.ts',
];

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: process.env.TEST_DATABASE_URL
      ? [...configDefaults.exclude, ...HTTP_ONLY]
      : configDefaults.exclude,
    globalSetup: ['test/global-setup.ts'],
    environment: 'node',
    pool: 'forks',
    // Generous: some tests start child processes, and CI machines are shared and noisy.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Each file builds its own app on its own database or schema, so files may run in parallel.
    fileParallelism: true,
    // Vitest's default is one worker per core minus one: a single worker on CI's two cores, where a
    // file spends much of its time waiting (child processes, timers, the database). On SQLite two
    // workers ran the whole suite in 272 s instead of ~730 s. On PostgreSQL two files at once met
    // "schema … does not exist" until the introspector stopped reading other files' schemas
    // (src/db/postgres-introspector.ts); every file works in its own schema, so both run two.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
