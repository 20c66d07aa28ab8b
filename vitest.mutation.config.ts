import { defineConfig } from 'vitest/config';

/**
 * The tests Stryker runs (stryker.config.mjs, `npm run test:mutation`): the files that exercise the
 * mutated code (services, auth, the validation and error plugins) in one process on SQLite. Left
 * out: files that start child processes, several instances, Redis or real servers (they would
 * outlive a mutant run or need services the sandbox has not), the load and benchmark files, and
 * the status check of test/global-setup.ts (without it, test/helpers/app.ts records nothing).
 */
export const MUTATION_TESTS = [
  'test/auth/*.test.ts',
  'test/users/*.test.ts',
  'test/projects/*.test.ts',
  'test/tasks/*.test.ts',
  'test/comments/*.test.ts',
  'test/api-keys/*.test.ts',
  'test/webhooks/*.test.ts',
  'test/events/*.test.ts',
  'test/idempotency/*.test.ts',
  'test/password-reset/*.test.ts',
  'test/problems/*.test.ts',
  'test/roles/*.test.ts',
  'test/http/errors.test.ts',
  'test/limits/login-failures*.test.ts',
  'test/http/client-errors.test.ts',
];

const EXCLUDED = [
  'test/auth/auth-state.test.ts',
  'test/auth/real-http.test.ts',
  'test/projects/instances.test.ts',
  'test/tasks/real-http.test.ts',
  'test/api-keys/processes.test.ts',
  'test/webhooks/deliveries-instances.test.ts',
  'test/webhooks/restart.test.ts',
  'test/events/stream-instances.test.ts',
  'test/idempotency/instances.test.ts',
  'test/idempotency/kill.test.ts',
  'test/password-reset/durability.test.ts',
  // Over 10 s each (list and calendar walks, a stream's whole lifecycle) and about tasks' listing,
  // which is not in the mutated scope: each mutant they cover would pay for them again.
  'test/tasks/due-months.test.ts',
  'test/tasks/list.test.ts',
  'test/tasks/walk.test.ts',
  'test/events/stream-lifecycle.test.ts',
  // Seconds each on matters outside the scope (SSRF policy and transport, delivery latency, the
  // event stream, retention, idempotency's storage): Stryker's single-threaded first run must stay
  // within a few minutes.
  'test/webhooks/ssrf.test.ts',
  'test/webhooks/ssrf-transport.test.ts',
  'test/webhooks/deliveries-latency.test.ts',
  'test/events/stream.test.ts',
  'test/events/retention.test.ts',
  'test/events/feed-properties.test.ts',
  'test/idempotency/unrecorded.test.ts',
  'test/idempotency/rotation.test.ts',
  'test/auth/admin-bootstrap.test.ts',
];

export default defineConfig({
  test: {
    include: MUTATION_TESTS,
    exclude: EXCLUDED,
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
