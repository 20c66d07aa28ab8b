// @ts-check
/**
 * Mutation testing (`npm run test:mutation`, README "Mutation testing"); not part of .ci/run.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: [
    'src/modules/*/*.service.ts',
    'src/modules/auth/**/*.ts',
    // Declarations only (TypeBox schemas, no branch or computation): a mutant there changes a
    // schema literal, which the contract tests of the routes cover, not logic of this module.
    '!src/modules/auth/auth.schemas.ts',
    'src/plugins/validation.ts',
    'src/plugins/problem-details.ts',
    'src/plugins/client-errors.ts',
    'src/errors.ts',
  ],
  coverageAnalysis: 'perTest',
  // Code that runs while a test file builds its app (plugin registration, module wiring) is covered
  // by no single test: each such mutant would need every test file again (minutes each). Stryker
  // counts them as ignored; `npm run test:mutation -- --ignoreStatic false` runs them too.
  ignoreStatic: true,
  // No TypeScript checker: it type-checks the project once per mutant (tens of seconds each on
  // this machine) to save test runs that vitest's bail already cuts short.
  concurrency: 2,
  // The first run (every test once, one thread, with coverage per test) takes minutes on a busy machine.
  dryRunTimeoutMinutes: 15,
  thresholds: { high: 90, low: 80, break: 80 },
  incremental: true,
  incrementalFile: 'test/mutation/stryker-incremental.json',
  reporters: ['html', 'clear-text', 'progress'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
