import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Files whose subject does not depend on the database: the HTTP layer (connection timeouts and
 * caps, proxies, compression, caching and version headers), the process (the compiled start,
 * start-up refusals), pure rules (input cost, query strings, hashing), the documents and the
 * repository's files, and SQLite's own locking. They run on SQLite; the PostgreSQL run leaves them
 * out to keep CI within its time (together about 230 s of a PostgreSQL run's worker time).
 */
const HTTP_ONLY = [
  'test/load/slow-clients.test.ts',
  'test/http/cache-every-route.test.ts',
  'test/http/cache-policy.test.ts',
  'test/http/compression.test.ts',
  'test/http/sunset.test.ts',
  'test/http/trust-proxy.test.ts',
  'test/load/overload.test.ts',
  'test/load/password-hashing.test.ts',
  'test/lib/input-cost.test.ts',
  'test/lib/query-string.test.ts',
  // Delivery's transport checks each address before it connects: loopback receivers, no database.
  'test/webhooks/ssrf-transport.test.ts',
  // The compiled start on a copy of the repository: its servers use SQLite files of their own
  // whatever the run's database (about 85 s, a compile and two clusters included).
  'test/server/production-start.test.ts',
  // Child processes with DATABASE_URLs of their own: SQLite files, or a PostgreSQL that is not there.
  'test/server/server-process.test.ts',
  // SQLite's busy timeout against a file another connection locks.
  'test/outages/sqlite-locked.test.ts',
  // The documents, the pages that show them, the client's types and the request collection built
  // from them, the changelog, and the reply check's own demonstration: no database changes them.
  'test/docs/openapi.test.ts',
  'test/docs/pages.test.ts',
  'test/docs/changelog.test.ts',
  'test/client/generated.test.ts',
  'test/requests/collection.test.ts',
  'test/contract/contract-check.test.ts',
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
