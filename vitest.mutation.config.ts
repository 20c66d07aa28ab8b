import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The handlers of the auth routes, which only requests reach: one app, built once for the file
 * (about 1.5 s). Its tests also reach most of the plugins' and services' mutants: run last (see
 * LastHttp), a mutant a unit test kills never builds the app.
 */
export const HTTP_MUTATION_TESTS = ['test/auth/auth-routes-unit.test.ts'];

/**
 * The tests Stryker runs (stryker.config.mjs, `npm run test:mutation`): the focused unit tests of
 * the mutated files, in one process (the repository and service ones on a migrated database of
 * their own). Each mutant re-runs the tests that reach it. The suite's HTTP files are not here:
 * each builds its app per run, and nearly every one reaches the error handler, about 30 s per
 * mutant on a 2-core machine. The route handlers of the auth module, which only requests reach,
 * have one HTTP file of their own (HTTP_MUTATION_TESTS), whose app is built once per Stryker
 * process. A mutant these tests miss is a gap in them, whatever the HTTP tests do.
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
  'test/webhooks/webhooks-service-unit.test.ts',
  'test/webhooks/deliveries-service-unit.test.ts',
  'test/events/events-service-unit.test.ts',
  'test/events/activity-service-unit.test.ts',
  'test/idempotency/idempotency-service-unit.test.ts',
  'test/password-reset/password-reset-service-unit.test.ts',
  'test/health/health-service-unit.test.ts',
  'test/projects/projects-service-unit.test.ts',
  'test/projects/members-service-unit.test.ts',
  'test/api-keys/api-keys-service-unit.test.ts',
  'test/tasks/tasks-service-unit.test.ts',
  'test/comments/comments-service-unit.test.ts',
  // Builds a context inside each test: the auth module's listeners and cache options, made there.
  'test/auth/auth-module-unit.test.ts',
  ...HTTP_MUTATION_TESTS,
];

/** The HTTP files after the unit files: a mutant run stops at its first failure (Stryker's bail). */
class LastHttp extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const isHttp = (file: TestSpecification) =>
      HTTP_MUTATION_TESTS.some((path) => file.moduleId.endsWith(`/${path}`));
    return [...sorted.filter((file) => !isHttp(file)), ...sorted.filter(isHttp)];
  }
}

export default defineConfig({
  test: {
    include: MUTATION_TESTS,
    environment: 'node',
    // One module graph for every file (none of them mocks modules): each mutant run imports once.
    isolate: false,
    // One file after another, in LastHttp's order, so that a failure spares the files after it.
    fileParallelism: false,
    sequence: { sequencer: LastHttp },
  },
});
