import { defineConfig } from 'vitest/config';

/**
 * The tests Stryker runs (stryker.config.mjs, `npm run test:mutation`): the focused unit tests of
 * the mutated files, in one process (the repository and service ones on a migrated database of their own). Each mutant re-runs the files whose tests reach
 * it; a file that builds the whole app costs seconds per mutant on this 2-core machine (the error
 * handler alone is reached by nearly every test of the suite), so the HTTP files were tried and
 * dropped: about 30 s per mutant, hours per file. A mutant these tests miss is a gap in them,
 * whatever the HTTP tests do.
 */
export const MUTATION_TESTS = [
  'test/problems/errors-unit.test.ts',
  'test/problems/problem-details-unit.test.ts',
  'test/http/client-errors.test.ts',
  'test/http/validation-unit.test.ts',
  'test/auth/tokens-unit.test.ts',
  'test/auth/auth-state-unit.test.ts',
  'test/auth/auth-hooks-unit.test.ts',
  // An in-memory SQLite database of its own: the sessions repository and the cache's loaders.
  'test/auth/sessions-repository.test.ts',
  'test/limits/login-failures-unit.test.ts',
  // The services with their real repositories (test/helpers/services.ts), without the HTTP layer.
  'test/auth/auth-service-unit.test.ts',
  'test/users/users-service-unit.test.ts',
  'test/tasks/tasks-service-unit.test.ts',
  'test/comments/comments-service-unit.test.ts',
];

export default defineConfig({
  test: {
    include: MUTATION_TESTS,
    environment: 'node',
    // One module graph for every file (none of them mocks modules): each mutant run imports once.
    isolate: false,
  },
});
