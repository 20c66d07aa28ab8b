import { defineConfig } from 'vitest/config';

/**
 * The tests Stryker runs (stryker.config.mjs, `npm run test:mutation`), on SQLite in one process.
 * Each mutant re-runs the files whose tests reach it, so the list holds the focused unit tests of
 * the mutated files and the fast HTTP files about them (errors, problems, credentials, tokens,
 * lock-outs): on this 2-core machine a file that builds an app costs seconds per mutant, and the
 * error handler is reached by nearly every test of the suite. Not here: files that start child
 * processes, several instances or real servers, or need Redis. Widen the list as the services'
 * tests are added to the mutated scope's run.
 */
export const MUTATION_TESTS = [
  // Unit tests of the mutated files.
  'test/problems/errors-unit.test.ts',
  'test/problems/problem-details-unit.test.ts',
  'test/http/client-errors.test.ts',
  'test/http/validation-unit.test.ts',
  'test/auth/tokens-unit.test.ts',
  'test/auth/auth-state-unit.test.ts',
  'test/limits/login-failures-unit.test.ts',
  // The HTTP behaviour of errors, validation and authentication.
  'test/http/errors.test.ts',
  'test/problems/problems.test.ts',
  'test/auth/jwt-attacks.test.ts',
  'test/auth/credentials.test.ts',
  'test/auth/token-endpoint.test.ts',
  'test/auth/control-characters.test.ts',
  'test/auth/register-login.test.ts',
  'test/auth/tokens.test.ts',
  'test/auth/refresh-grace.test.ts',
  'test/auth/sessions.test.ts',
  'test/limits/login-failures.test.ts',
];

export default defineConfig({
  test: {
    include: MUTATION_TESTS,
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // One module graph for every file (no test here mocks modules): importing the app once instead
    // of once per file halves a run.
    isolate: false,
  },
});
