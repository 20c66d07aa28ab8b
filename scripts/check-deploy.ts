/**
 * Static checks of the deployment files (README: "Deployment"), run by .ci/run:
 *   npx tsx scripts/check-deploy.ts      (or: npm run check:deploy)
 * The YAML parses; yamllint, shellcheck and `nginx -t` (Debian's packages) pass; the Kubernetes
 * objects are valid against the Kubernetes API's JSON schemas (kubernetes-models, compiled with
 * Ajv); and the files agree with the code: what the Dockerfile copies exists, its CMD is what
 * `npm start` runs, the variables are config.ts's and pass its check, probes ask routes that
 * exist, nginx streams the event-stream routes unbuffered, depends_on targets exist.
 * A missing tool fails the check: .ci/run installs them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/app.js';
import { ConfigError, EnvSchema, loadConfig } from '../src/config.js';
import {
  composeProblems,
  dockerfileProblems,
  k8sProblems,
  nginxProblems,
  parseYaml,
  type ServiceFacts,
  validateKube,
} from './deploy-checks.js';

const ROOT = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const K8S_DIR = 'deploy/k8s';

/** config.ts's verdict on an environment, one line per problem. */
function checkEnv(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError)
      return error.issues.map((i) => `config.ts refuses it: ${i.variable} ${i.problem}`);
    throw error;
  }
}

/** The routes, from the app itself (built in process on an in-memory database). */
async function serviceFacts(): Promise<ServiceFacts> {
  const app = await buildApp(
    loadConfig({
      DATABASE_URL: 'sqlite::memory:',
      JWT_SECRET: 'deploy-check-secret-of-at-least-32-bytes',
      LOG_LEVEL: 'silent',
      WORKER: 'off',
    }),
  );
  try {
    const document = app.swagger() as { paths?: Record<string, Record<string, unknown>> };
    const streamPaths: string[] = [];
    for (const [path, operations] of Object.entries(document.paths ?? {})) {
      const get = operations.get as
        | { responses?: Record<string, { content?: Record<string, unknown> }> }
        | undefined;
      if (get?.responses?.['200']?.content?.['text/event-stream']) streamPaths.push(path);
    }
    const routes = new Set<string>();
    for (const path of ['/health/live', '/health/ready']) {
      if (app.hasRoute({ method: 'GET', url: path })) routes.add(path);
    }
    return {
      envNames: new Set(Object.keys(EnvSchema.properties)),
      hasGetRoute: (path) => routes.has(path) || app.hasRoute({ method: 'GET', url: path }),
      streamPaths,
      exists: (path) => existsSync(join(ROOT, path)),
    };
  } finally {
    await app.close();
  }
}

/** A Debian tool's verdict; a missing tool is a failure, never a skip. */
function tool(command: string, args: string[], what: string): string[] {
  const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8' });
  if (result.error) return [`${what}: cannot run ${command} (${result.error.message}); .ci/run installs it`];
  if (result.status === 0) return [];
  return [
    `${what}:`,
    ...`${result.stdout}${result.stderr}`
      .trim()
      .split('\n')
      .map((l) => `  ${l}`),
  ];
}

/** `nginx -t` on deploy/nginx.conf, the Compose service names pointed at loopback (they resolve only inside Compose). */
function nginxTest(conf: string, hosts: readonly string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'taskforge-nginx-'));
  try {
    let local = conf;
    for (const host of hosts) local = local.replaceAll(new RegExp(`\\b${host}:`, 'g'), '127.0.0.1:');
    writeFileSync(join(dir, 'nginx.conf'), local);
    return tool(
      'nginx',
      ['-t', '-q', '-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')],
      'nginx -t deploy/nginx.conf',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const facts = await serviceFacts();
  const yamlFiles = [
    'docker-compose.yml',
    '.github/workflows/ci.yml',
    '.yamllint.yaml',
    ...readdirSync(join(ROOT, K8S_DIR))
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => `${K8S_DIR}/${f}`),
  ];
  const parsed = new Map(yamlFiles.map((file) => [file, parseYaml(file, read(file))]));
  const sections: [string, string[]][] = [];
  sections.push(['YAML parses', [...parsed.values()].flatMap((p) => p.problems)]);
  sections.push([
    'yamllint',
    tool('yamllint', ['--strict', '-c', '.yamllint.yaml', ...yamlFiles], 'yamllint'),
  ]);
  const shellScripts = [
    '.ci/run',
    ...readdirSync(join(ROOT, 'scripts'), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.sh'))
      .map((f) => `scripts/${f}`),
  ];
  sections.push(['shellcheck', tool('shellcheck', shellScripts, 'shellcheck')]);

  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  sections.push([
    'Dockerfile and .dockerignore',
    dockerfileProblems(read('Dockerfile'), read('.dockerignore'), pkg.scripts.start ?? '', facts),
  ]);
  const compose = parsed.get('docker-compose.yml')?.docs[0];
  sections.push(['docker-compose.yml', composeProblems(compose, facts, checkEnv)]);
  const services =
    (compose as { services?: Record<string, { command?: unknown; build?: unknown; image?: string }> })
      ?.services ?? {};
  const apis = Object.entries(services)
    .filter(([, s]) => (s.build !== undefined || s.image === 'taskforge:latest') && s.command === undefined)
    .map(([name]) => name);
  const nginx = read('deploy/nginx.conf');
  sections.push(['deploy/nginx.conf', [...nginxProblems(nginx, facts, apis), ...nginxTest(nginx, apis)]]);
  const k8s = yamlFiles
    .filter((f) => f.startsWith(K8S_DIR))
    .map((file) => ({ file, docs: parsed.get(file)?.docs ?? [] }));
  sections.push([
    `${K8S_DIR} (${k8s.reduce((n, f) => n + f.docs.length, 0)} objects)`,
    k8sProblems(k8s, facts, validateKube, checkEnv),
  ]);

  let failed = 0;
  for (const [name, problems] of sections) {
    process.stdout.write(`${problems.length ? 'FAIL' : 'ok  '} ${name}\n`);
    for (const line of problems) process.stdout.write(`     ${line}\n`);
    if (problems.length) failed += 1;
  }
  process.stdout.write(
    failed ? `${failed} deployment check(s) failed\n` : 'deployment files: all checks passed\n',
  );
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`check-deploy failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  },
);
