/**
 * The map of the house, enforced by `npm run lint` (and so by CI). Layers only point down:
 *
 *   server.ts · startup.ts · cli/        the processes (app.ts is the composition root)
 *   app.ts                               knows every module, through its entry
 *   modules/<name>/                      resources; meet through entries and ports
 *   plugins/                             HTTP wiring for every route
 *   db/ · config.ts                      the database and the configuration
 *   lib/ · errors.ts                     the bottom: what every layer may use
 *
 * lib/ names the config and database types (the context's shape), never code above them.
 */

const TOP = '^src/(app|server|startup)\\.ts$|^src/cli/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No cycles, type-only imports included: a cycle is two files that cannot be read apart.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'lib-is-the-bottom',
      severity: 'error',
      comment: 'lib/ and errors.ts import nothing above them: no plugin, module or process.',
      from: { path: '^src/(lib/|errors\\.ts$)' },
      to: { path: `^src/(plugins|modules)/|${TOP}` },
    },
    {
      name: 'errors-stand-alone',
      severity: 'error',
      comment: 'The error catalogue depends on nothing of ours.',
      from: { path: '^src/errors\\.ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'config-and-db-below-plugins',
      severity: 'error',
      comment: 'The configuration and the database know no HTTP wiring, module or process.',
      from: { path: '^src/(db/|config\\.ts$)' },
      to: { path: `^src/(plugins|modules)/|${TOP}` },
    },
    {
      name: 'config-below-db',
      severity: 'error',
      comment: 'The configuration is read before any database exists.',
      from: { path: '^src/config\\.ts$' },
      to: { path: '^src/db/' },
    },
    {
      name: 'plugins-know-no-module',
      severity: 'error',
      comment:
        'plugins/ is cross-cutting HTTP wiring: it imports lib/, errors.ts and config.ts, never a module, the database or a process.',
      from: { path: '^src/plugins/' },
      to: { path: `^src/(modules|db)/|${TOP}` },
    },
    {
      name: 'modules-below-the-root',
      severity: 'error',
      comment: 'A module never imports the composition root or a process: they import it.',
      from: { path: '^src/modules/' },
      to: { path: TOP },
    },
    {
      name: 'module-through-its-entry',
      severity: 'error',
      comment:
        "Another module's files are reached only through its entry, modules/<name>/index.ts (what it brings and what it shares).",
      from: { path: '^src/modules/([^/]+)/' },
      to: { path: '^src/modules/', pathNot: ['^src/modules/$1/', '^src/modules/[^/]+/index\\.ts$'] },
    },
    {
      name: 'users-import-no-module',
      severity: 'error',
      comment:
        'Users is what the other modules build on: it imports none of them. What they keep per user follows through the users port (lib/ports.ts), which they subscribe to.',
      from: { path: '^src/modules/users/' },
      to: { path: '^src/modules/', pathNot: '^src/modules/users/' },
    },
    {
      name: 'root-through-module-entries',
      severity: 'error',
      comment: 'The composition root, start-up and the tools see a module only through its entry.',
      from: { path: TOP },
      to: { path: '^src/modules/', pathNot: '^src/modules/[^/]+/index\\.ts$' },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment: 'A file nothing imports is dead code (the processes are the roots).',
      from: { orphan: true, path: '^src/', pathNot: `${TOP}|\\.d\\.ts$` },
      to: {},
    },
    {
      name: 'not-to-dev-dependencies',
      severity: 'error',
      comment: 'The service runs with production dependencies only.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'Every import resolves (a package missing from package.json, a mistyped path).',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
    },
  },
};
