import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type Documents, documentedPairs, documentOf } from './helpers/contract.js';

/**
 * The contract tests around the whole run. Before it: the OpenAPI documents the service serves
 * (and the routes behind them), written for the workers, whose test apps check every reply
 * against them (test/helpers/app.ts). After it: each recorded (route, method, status) must be
 * documented, no reply may have broken the document, and — when every test file ran — each
 * documented (operation, status) must have been produced by some test, the generic ones aside.
 */
let dir = '';
let project: TestProject | undefined;
let routes: SurveyedRoute[] = [];
let documents: Documents = {};

declare module 'vitest' {
  export interface ProvidedContext {
    observedDir: string;
    contractDocuments: string;
  }
}

interface Observed {
  method: string;
  route: string;
  status: number;
}

/** A route as declared: the statuses its own schema lists, and those the document adds for the framework. */
export interface SurveyedRoute {
  methods: string[];
  url: string;
  declared: string[];
  implied: string[];
  tags: string[];
}

/** The fixture modules' operations are checked like the service's, but their coverage is not the service's. */
const FIXTURE_TAGS = ['widgets', 'notes'];

/** The documents as the service serves them (built here without test/helpers/app.ts, which needs a worker). */
export async function buildDocuments(): Promise<{ documents: Documents; routes: SurveyedRoute[] }> {
  const { buildApp } = await import('../src/app.js');
  const { impliedProblemStatuses } = await import('../src/plugins/docs.js');
  const { defineModule } = await import('../src/lib/module.js');
  // The fixture modules' routes are held to the same rule as the service's own.
  const { notesModule } = await import('./fixtures/notes-module/index.js');
  const { widgetsModule } = await import('./fixtures/widgets-module.js');
  const { loadConfig } = await import('../src/config.js');
  const { openDatabase } = await import('../src/db/database.js');
  const surveyed: SurveyedRoute[] = [];
  const survey = defineModule({
    name: 'route-survey',
    install: async (app) => {
      app.addHook('onRoute', (route) => {
        const schema = (route.schema ?? {}) as { response?: object; tags?: string[] };
        surveyed.push({
          methods: [route.method].flat().map(String),
          url: route.url,
          declared: Object.keys(schema.response ?? {}),
          implied: impliedProblemStatuses(route.schema ?? {}, route.url.startsWith('/api/'), route).map(
            String,
          ),
          tags: schema.tags ?? [],
        });
      });
    },
  });
  const database = openDatabase({ kind: 'sqlite', filename: ':memory:' });
  const app = await buildApp(loadConfig({ JWT_SECRET: 'x'.repeat(32), LOG_LEVEL: 'silent' }), {
    database,
    modules: [survey, widgetsModule, notesModule],
  });
  try {
    const served: Documents = {};
    for (const [name, url] of [
      ['v1', '/openapi/v1.json'],
      ['v2', '/openapi/v2.json'],
      ['unversioned', '/openapi.json'],
    ] as const) {
      const res = await app.inject({ method: 'GET', url });
      if (res.statusCode !== 200) throw new Error(`GET ${url} answered ${res.statusCode}: ${res.body}`);
      served[name] = res.json();
    }
    // The full document holds every version too: `unversioned` keeps only the routes outside /api/.
    const full = served.unversioned ?? {};
    full.paths = Object.fromEntries(
      Object.entries(full.paths ?? {}).filter(([path]) => !path.startsWith('/api/')),
    );
    return { documents: served, routes: surveyed };
  } finally {
    await app.close();
    await database.close();
  }
}

export async function setup(testProject: TestProject): Promise<void> {
  project = testProject;
  dir = mkdtempSync(join(tmpdir(), 'taskforge-observed-'));
  ({ documents, routes } = await buildDocuments());
  const documentsFile = join(dir, 'documents.json');
  writeFileSync(documentsFile, JSON.stringify(documents));
  testProject.provide('observedDir', dir);
  testProject.provide('contractDocuments', documentsFile);
}

function readLines<T>(suffix: string): T[] {
  const entries: T[] = [];
  for (const file of readdirSync(dir)) {
    if (!file.endsWith(suffix)) continue;
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (line) entries.push(JSON.parse(line) as T);
    }
  }
  return entries;
}

/** Whether this run is the whole suite: every test file of the configuration, no name filter. */
async function wholeSuiteRan(): Promise<boolean> {
  if (!project || project.vitest.config.testNamePattern) return false;
  const ran = new Set(project.vitest.state.getFiles().map((file) => file.filepath));
  const all = await project.globTestFiles();
  return all.testFiles.every((file) => ran.has(file));
}

/**
 * The coverage a whole run must reach: every documented pair the service can produce. Each pair
 * comes from a test that always sends the same request (test/contract/status-coverage.test.ts
 * holds the tables over the documents: 400, 401, 404, 413, 415 and 422 of every operation that
 * lists them), never only from the generated ones of test/fuzz, so that every run counts alike.
 */
const COVERAGE_FLOOR_PERCENT = 100;

/** Statuses every route may answer through one shared code path, tested where that path is made. */
const GENERIC_STATUSES = new Set(['429', '500', '503']);

/**
 * Documented (operation, status) pairs no test produced. Not counted: 429, 500 and 503 anywhere,
 * and the statuses the document adds to an operation for the framework (plugins/docs.ts
 * impliedProblemStatuses — 400 without Host, 408, 413, 415, 422 of validation, …) when its route
 * does not list them itself; each of those is one code path for every route, tested once where it
 * is made.
 */
export function coverage(
  observed: Set<string>,
  documents: Documents,
  routes: SurveyedRoute[],
): { covered: number; total: number; missing: string[] } {
  const generic = new Map<string, Set<string>>();
  const fixtures = new Set<string>();
  for (const route of routes) {
    for (const method of route.methods) {
      const key = `${method} ${route.url.replace(/:(\w+)/g, '{$1}')}`;
      generic.set(key, new Set(route.implied.filter((status) => !route.declared.includes(status))));
      if (route.tags.some((tag) => FIXTURE_TAGS.includes(tag))) fixtures.add(key);
    }
  }
  let covered = 0;
  let total = 0;
  const missing: string[] = [];
  for (const [name, document] of Object.entries(documents)) {
    for (const { method, path, status } of documentedPairs(document)) {
      const key = `${method.toUpperCase()} ${path}`;
      if (fixtures.has(key) || GENERIC_STATUSES.has(status) || generic.get(key)?.has(status)) continue;
      total += 1;
      if (observed.has(`${name} ${key} ${status}`)) covered += 1;
      else missing.push(`${key} → ${status}`);
    }
  }
  return { covered, total, missing };
}

export async function teardown(): Promise<void> {
  try {
    const failures: string[] = [];
    const observed = new Map<string, Observed>();
    for (const entry of readLines<Observed>('.statuses.jsonl')) {
      observed.set(`${entry.method} ${entry.route} ${entry.status}`, entry);
    }
    const produced = new Set<string>();
    const undocumented: string[] = [];
    for (const { method, route, status } of observed.values()) {
      const { name, path } = documentOf(route);
      const operation = documents[name]?.paths?.[path]?.[method.toLowerCase()];
      // The tests' sample routes (no module of their own) and hidden ones (docs) are not in the document.
      if (!operation) continue;
      produced.add(`${name} ${method} ${path} ${status}`);
      if (!operation.responses?.[String(status)] && !operation.responses?.default) {
        undocumented.push(`${method} ${route} → ${status}`);
      }
    }
    if (undocumented.length > 0) {
      failures.push(
        `statuses the tests observed but the OpenAPI document does not list:\n${undocumented.sort().join('\n')}`,
      );
    }
    const mismatches = readLines<{ problem: string; test: string }>('.mismatches.jsonl');
    if (mismatches.length > 0) {
      // One line per problem, with the first test that met it.
      const byProblem = new Map<string, { test: string; count: number }>();
      for (const { problem, test } of mismatches) {
        const seen = byProblem.get(problem);
        if (seen) seen.count += 1;
        else byProblem.set(problem, { test, count: 1 });
      }
      const lines = [...byProblem].map(
        ([problem, { test, count }]) =>
          `${problem}\n    in ${test}${count > 1 ? ` (and ${count - 1} more)` : ''}`,
      );
      failures.push(`replies that break the OpenAPI document:\n${lines.join('\n')}`);
    }
    if (observed.size > 0 && (await wholeSuiteRan())) {
      const { covered, total, missing } = coverage(produced, documents, routes);
      const percent = total === 0 ? 100 : Math.floor((covered / total) * 1000) / 10;
      console.log(`operation × status coverage: ${covered}/${total} (${percent} %)`);
      if (percent < COVERAGE_FLOOR_PERCENT) {
        failures.push(
          `operation × status coverage ${percent} % is below ${COVERAGE_FLOOR_PERCENT} %; documented statuses no test produced:\n${missing.sort().join('\n')}`,
        );
      } else if (missing.length > 0) {
        console.log(`documented statuses no test produced yet:\n${missing.sort().join('\n')}`);
      }
    }
    if (failures.length > 0) throw new Error(failures.join('\n\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
