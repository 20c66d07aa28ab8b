import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  composeProblems,
  dockerfileProblems,
  inBuildContext,
  k8sProblems,
  nginxProblems,
  parseYaml,
  type ServiceFacts,
  startEntry,
  validateKube,
} from '../../scripts/deploy-checks.js';
import { EnvSchema } from '../../src/config.js';

/** The checker on the repository's own deployment files, and on copies with one thing broken. */
const ROOT = process.cwd();
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const facts: ServiceFacts = {
  envNames: new Set(Object.keys(EnvSchema.properties)),
  hasGetRoute: (path) => ['/health/live', '/health/ready', '/'].includes(path),
  streamPaths: ['/api/v1/events/stream', '/api/v2/events/stream'],
  exists: (path) => existsSync(join(ROOT, path)),
};
const noEnvProblems = () => [];

const dockerfile = read('Dockerfile');
const dockerignore = read('.dockerignore');
const compose = read('docker-compose.yml');
const nginx = read('deploy/nginx.conf');
const k8sFiles = readdirSync(join(ROOT, 'deploy/k8s')).map((f) => ({
  file: f,
  text: read(`deploy/k8s/${f}`),
}));

const composeOf = (text: string) => parseYaml('docker-compose.yml', text).docs[0];
const k8sOf = (edit: (file: string, text: string) => string = (_, t) => t) =>
  k8sFiles.map(({ file, text }) => ({ file, docs: parseYaml(file, edit(file, text)).docs }));

describe('the deployment checks', () => {
  it("pass on the repository's files", () => {
    expect(dockerfileProblems(dockerfile, dockerignore, 'node dist/server.js', facts)).toEqual([]);
    expect(composeProblems(composeOf(compose), facts, noEnvProblems)).toEqual([]);
    expect(nginxProblems(nginx, facts, ['api-1', 'api-2'])).toEqual([]);
    expect(k8sProblems(k8sOf(), facts, validateKube, noEnvProblems)).toEqual([]);
  });

  it('find what `npm start` runs in either form of the start script', () => {
    expect(startEntry('tsx src/server.ts')).toBe('dist/server.js');
    expect(startEntry('node scripts/ensure-build.mjs && node dist/server.js')).toBe('dist/server.js');
    expect(startEntry('node --enable-source-maps dist/server.js')).toBe('dist/server.js');
  });

  it('refuse a Dockerfile that copies a missing or ignored file, or starts something else', () => {
    const copyMissing = dockerfile.replace('COPY src ./src', 'COPY src ./src\nCOPY missing.txt ./');
    expect(dockerfileProblems(copyMissing, dockerignore, 'node dist/server.js', facts)).toEqual([
      'Dockerfile: COPY missing.txt: no such file in the repository',
    ]);
    expect(dockerfileProblems(dockerfile, `${dockerignore}\nsrc/\n`, 'node dist/server.js', facts)).toEqual([
      'Dockerfile: COPY src: excluded from the build context by .dockerignore',
    ]);
    expect(dockerfileProblems(dockerfile, dockerignore, 'node dist/main.js', facts)).toEqual([
      'Dockerfile: CMD ["node","dist/server.js"] is not what npm start runs (node dist/main.js)',
    ]);
    const root = dockerfile.replace(/^USER .*$/m, '');
    expect(dockerfileProblems(root, dockerignore, 'node dist/server.js', facts)).toEqual([
      'Dockerfile: the runtime stage sets no USER (it would run as root)',
    ]);
    expect(inBuildContext(dockerignore, '.env')).toBe(false);
    expect(inBuildContext(dockerignore, 'src/server.ts')).toBe(true);
  });

  it('refuse Compose files with a missing dependency, an unknown variable, or jobs in the API', () => {
    const problems = (text: string) => composeProblems(composeOf(text), facts, noEnvProblems);
    expect(
      problems(
        compose.replace(
          '      postgres:\n        condition: service_healthy',
          '      postgres:\n        condition: service_healthy\n      cache:\n        condition: service_started',
        ),
      ),
    ).toEqual(['docker-compose.yml: migrate depends on cache, which is not a service']);
    expect(problems(compose.replace('LOG_LEVEL: info', 'LOG_LEVLE: info'))).toEqual(
      ['migrate', 'api-1', 'api-2', 'worker'].map(
        (name) => `docker-compose.yml: ${name} sets LOG_LEVLE, which config.ts does not know`,
      ),
    );
    expect(problems(compose.replace('WORKER: "off"', 'WORKER: inline'))).toEqual([
      'docker-compose.yml: api-1 runs the API without WORKER=off',
      'docker-compose.yml: api-2 runs the API without WORKER=off',
    ]);
    expect(
      problems(
        compose.replace(
          'condition: service_completed_successfully\n    redis',
          'condition: service_started\n    redis',
        ),
      ),
    ).toEqual([
      'docker-compose.yml: api-1 does not wait for migrate (service_completed_successfully)',
      'docker-compose.yml: api-2 does not wait for migrate (service_completed_successfully)',
    ]);
  });

  it('hand each Compose environment to the configuration check', () => {
    const seen: Record<string, string>[] = [];
    composeProblems(composeOf(compose), facts, (env) => {
      seen.push(env);
      return [];
    });
    expect(seen).toHaveLength(4);
    expect(seen[1]).toMatchObject({ NODE_ENV: 'production', WORKER: 'off', TRUST_PROXY: '1' });
    expect(seen[1]?.DATABASE_URL).toMatch(/^postgres:\/\/taskforge:.+@postgres:5432\/taskforge$/);
  });

  it('refuse an nginx config that buffers the event stream or forgets X-Forwarded-Proto', () => {
    expect(nginxProblems(nginx.replace('proxy_buffering off;', ''), facts, ['api-1', 'api-2'])).toEqual([
      'deploy/nginx.conf: /api/v1/events/stream is buffered (proxy_buffering off)',
      'deploy/nginx.conf: /api/v2/events/stream is buffered (proxy_buffering off)',
    ]);
    expect(
      nginxProblems(nginx.replace(/proxy_set_header X-Forwarded-Proto .*/, ''), facts, ['api-1', 'api-2']),
    ).toEqual(['deploy/nginx.conf: sets no x-forwarded-proto for the instances (TRUST_PROXY reads it)']);
    expect(nginxProblems(nginx, facts, ['api-1', 'api-2', 'api-3'])).toEqual([
      'deploy/nginx.conf: the upstream lacks the API instance api-3',
    ]);
  });

  it('refuse Kubernetes objects against their schema, and probes or variables that do not exist', () => {
    const edit = (from: string, to: string) =>
      k8sOf((file, text) => (file === 'api.yaml' ? text.replace(from, to) : text));
    expect(k8sProblems(edit('replicas: 2', 'replicas: two'), facts, validateKube, noEnvProblems)).toEqual([
      'api.yaml: Deployment taskforge-api: invalid: data/spec/replicas must be integer',
    ]);
    expect(
      k8sProblems(edit('path: /health/ready', 'path: /healthz'), facts, validateKube, noEnvProblems),
    ).toEqual([
      'api.yaml: Deployment taskforge-api, container api: readinessProbe asks /healthz, which is no route',
      "api.yaml: Deployment taskforge-api, container api: the API's readinessProbe must ask /health/ready",
    ]);
    expect(
      k8sProblems(
        edit('readOnlyRootFilesystem: true', 'readOnlyRootFilesystem: false'),
        facts,
        validateKube,
        noEnvProblems,
      ),
    ).toEqual(['api.yaml: Deployment taskforge-api, container api: the root file system is not read-only']);
    expect(k8sProblems(edit('name: WORKER', 'name: WORKERS'), facts, validateKube, noEnvProblems)).toEqual([
      'api.yaml: Deployment taskforge-api, container api: sets WORKERS, which config.ts does not know',
      'api.yaml: Deployment taskforge-api, container api: the API runs without WORKER=off beside the worker Deployment',
    ]);
    expect(
      k8sProblems(
        edit('name: taskforge-secrets', 'name: taskforge-secret'),
        facts,
        validateKube,
        noEnvProblems,
      ),
    ).toEqual([
      'api.yaml: Deployment taskforge-api, container api: envFrom names Secret taskforge-secret, which does not exist',
    ]);
  });
});
