/**
 * The deployment files' static checks (scripts/check-deploy.ts runs them): each function takes
 * what it checks as values and returns its problems as lines, so test/ops/deploy-checks.test.ts
 * can feed it broken files.
 */
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';

/** What a check needs to know of the service itself. */
export interface ServiceFacts {
  /** Every environment variable config.ts reads. */
  envNames: ReadonlySet<string>;
  /** Whether the app has a GET route for this path. */
  hasGetRoute(path: string): boolean;
  /** Paths of the routes that answer text/event-stream (the live event streams). */
  streamPaths: readonly string[];
  /** Whether a file exists, relative to the repository root. */
  exists(path: string): boolean;
}

/** A YAML file's documents as plain values (Compose's `<<` merge keys resolved), or its errors. */
export function parseYaml(file: string, text: string): { docs: unknown[]; problems: string[] } {
  const documents = parseAllDocuments(text, { merge: true, prettyErrors: false });
  const list = Array.isArray(documents) ? documents : [documents];
  const problems = list.flatMap((doc) => doc.errors.map((e) => `${file}: YAML: ${e.message.split('\n')[0]}`));
  return { docs: problems.length ? [] : list.map((doc) => doc.toJS()).filter((d) => d != null), problems };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const asObj = (v: unknown): Obj => (isObj(v) ? v : {});
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** `src/cli/migrate.ts` for `dist/cli/migrate.js`: what tsconfig.build.json (src → dist) compiles it from. */
export function sourceOf(distFile: string): string | null {
  const match = /^(?:\.\/)?dist\/(.+)\.js$/.exec(distFile);
  return match ? `src/${match[1]}.ts` : null;
}

/** The entry file `npm start` runs, as the compiled file: `tsx src/server.ts` and `node dist/server.js` both give dist/server.js. */
export function startEntry(startScript: string): string | null {
  const last = startScript.split('&&').at(-1)?.trim() ?? '';
  const node = /^node(?:\s+--\S+)*\s+(\S+\.js)$/.exec(last);
  if (node?.[1]) return node[1].replace(/^\.\//, '');
  const tsx = /^tsx\s+(?:\S+\s+)*?(\S+\.ts)$/.exec(last);
  if (tsx?.[1]) return tsx[1].replace(/^(?:\.\/)?src\/(.+)\.ts$/, 'dist/$1.js');
  return null;
}

/** A command that runs a compiled entry (`node dist/x.js …`) must have its source. */
function commandProblems(where: string, command: unknown, facts: ServiceFacts): string[] {
  const args = asArray(command).map(String);
  if (args[0] !== 'node' || !args[1]) return [];
  if (args[1].startsWith('dist/')) {
    const source = sourceOf(args[1]);
    return source && facts.exists(source)
      ? []
      : [`${where}: runs ${args[1]}, but ${source ?? 'its source'} does not exist`];
  }
  return facts.exists(args[1]) ? [] : [`${where}: runs ${args[1]}, which does not exist`];
}

/** Whether .dockerignore leaves `path` in the build context (last matching pattern wins). */
export function inBuildContext(dockerignore: string, path: string): boolean {
  let included = true;
  for (const raw of dockerignore.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negated = line.startsWith('!');
    const pattern = (negated ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
    const regex = new RegExp(
      `^${pattern
        .split(/(\*\*|\*|\?)/)
        .map((part) =>
          part === '**'
            ? '.*'
            : part === '*'
              ? '[^/]*'
              : part === '?'
                ? '[^/]'
                : part.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
        )
        .join('')}(/.*)?$`,
    );
    if (regex.test(path)) included = negated;
  }
  return included;
}

/** Instructions of a Dockerfile, continuation lines joined. */
function instructions(dockerfile: string): { op: string; args: string }[] {
  return dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [op = '', ...rest] = line.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

/**
 * The Dockerfile: several stages; what it COPYs from the build context exists and is not
 * excluded by .dockerignore; a non-root USER; a HEALTHCHECK on /health/live; CMD runs what
 * `npm start` runs (`node dist/server.js`), the runtime stage installs production dependencies
 * only (`npm ci --omit=dev`) or copies them from a stage that does.
 */
export function dockerfileProblems(
  dockerfile: string,
  dockerignore: string,
  startScript: string,
  facts: ServiceFacts,
): string[] {
  const problems: string[] = [];
  const steps = instructions(dockerfile);
  const stages = steps.filter((s) => s.op === 'FROM');
  if (stages.length < 2) problems.push('Dockerfile: not a multi-stage build (one FROM)');
  for (const step of steps.filter((s) => s.op === 'COPY' || s.op === 'ADD')) {
    const parts = step.args.split(/\s+/).filter((p) => !p.startsWith('--'));
    if (/--from=/.test(step.args)) continue;
    for (const source of parts.slice(0, -1)) {
      const path = source.replace(/^\.\//, '').replace(/\/$/, '');
      if (!facts.exists(path)) problems.push(`Dockerfile: COPY ${source}: no such file in the repository`);
      else if (!inBuildContext(dockerignore, path)) {
        problems.push(`Dockerfile: COPY ${source}: excluded from the build context by .dockerignore`);
      }
    }
  }
  for (const secret of ['.env', 'data', 'node_modules', '.git']) {
    if (inBuildContext(dockerignore, secret))
      problems.push(`.dockerignore: leaves ${secret} in the build context`);
  }
  const lastFrom = steps.lastIndexOf(stages.at(-1) ?? { op: '', args: '' });
  const runtime = steps.slice(lastFrom);
  const user = runtime.filter((s) => s.op === 'USER').at(-1)?.args;
  if (!user) problems.push('Dockerfile: the runtime stage sets no USER (it would run as root)');
  else if (!/^[1-9][0-9]*(:[0-9]+)?$/.test(user)) {
    problems.push(`Dockerfile: USER ${user}: use a numeric non-root uid, which runAsNonRoot can check`);
  }
  const health = runtime.find((s) => s.op === 'HEALTHCHECK')?.args ?? '';
  const healthScript = /CMD\s+\[\s*"node",\s*"([^"]+)"/.exec(health)?.[1];
  if (!healthScript) problems.push('Dockerfile: the runtime stage has no HEALTHCHECK run by node');
  else if (!facts.exists(healthScript))
    problems.push(`Dockerfile: HEALTHCHECK runs ${healthScript}, which does not exist`);
  const cmd = runtime.find((s) => s.op === 'CMD')?.args;
  let cmdArgs: string[] = [];
  try {
    cmdArgs = JSON.parse(cmd ?? '') as string[];
  } catch {
    problems.push('Dockerfile: CMD is not in exec form (a JSON array)');
  }
  const entry = startEntry(startScript);
  if (cmdArgs.length && (cmdArgs[0] !== 'node' || cmdArgs[1] !== entry || cmdArgs.length !== 2)) {
    problems.push(`Dockerfile: CMD ${JSON.stringify(cmdArgs)} is not what npm start runs (node ${entry})`);
  }
  problems.push(...commandProblems('Dockerfile CMD', cmdArgs, facts));
  const prodInstall = steps.some((s) => s.op === 'RUN' && /npm ci\b[^&]*--omit=dev/.test(s.args));
  if (!prodInstall)
    problems.push('Dockerfile: no stage installs production dependencies only (npm ci --omit=dev)');
  if (
    runtime.some((s) => s.op === 'RUN' && /npm (ci|install)\b/.test(s.args) && !/--omit=dev/.test(s.args))
  ) {
    problems.push('Dockerfile: the runtime stage installs development dependencies');
  }
  return problems;
}

/** Variables in an environment list (`["A=1"]`) or map (`{ A: 1 }`). */
function envNamesOf(environment: unknown): string[] {
  if (Array.isArray(environment)) return environment.map((e) => String(e).split('=')[0] ?? '');
  return Object.keys(asObj(environment));
}

/** The value Compose would give `${X:-default}` / `${X:?error}` (a stand-in for required ones). */
export function composeValue(value: unknown): string {
  return String(value).replace(/\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}/g, (_, _name, kind, rest) =>
    kind === '-' ? rest : 'stand-in-for-a-required-value-0123456789',
  );
}

/** A service runs Taskforge when it is built from this repository or uses the image it builds. */
function isTaskforge(service: Obj, image: string | undefined): boolean {
  return service.build !== undefined || (image !== undefined && service.image === image);
}

/**
 * docker-compose.yml: depends_on targets exist; the instances use only variables config.ts
 * knows, and pass its own check; at least two API instances with WORKER=off behind nginx, a
 * worker, a one-off migrate service the instances wait for (service_completed_successfully),
 * PostgreSQL and Redis; the instances trust one proxy hop, as nginx is in front.
 */
export function composeProblems(
  compose: unknown,
  facts: ServiceFacts,
  checkEnv: (env: Record<string, string>) => string[],
): string[] {
  const problems: string[] = [];
  const services = asObj(asObj(compose).services);
  const names = Object.keys(services);
  const builtImage = Object.values(services)
    .map(asObj)
    .find((s) => s.build !== undefined)?.image as string | undefined;
  const apis: string[] = [];
  let worker = false;
  let migrate: string | null = null;
  for (const [name, raw] of Object.entries(services)) {
    const service = asObj(raw);
    const dependsOn = service.depends_on;
    const targets = Array.isArray(dependsOn) ? dependsOn.map(String) : Object.keys(asObj(dependsOn));
    for (const target of targets) {
      if (!names.includes(target))
        problems.push(`docker-compose.yml: ${name} depends on ${target}, which is not a service`);
    }
    if (!isTaskforge(service, builtImage)) continue;
    const env = asObj(service.environment);
    for (const key of envNamesOf(service.environment)) {
      if (!facts.envNames.has(key))
        problems.push(`docker-compose.yml: ${name} sets ${key}, which config.ts does not know`);
    }
    const values = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, composeValue(v)]));
    for (const line of checkEnv(values)) problems.push(`docker-compose.yml: ${name}: ${line}`);
    const command = asArray(service.command).map(String);
    problems.push(...commandProblems(`docker-compose.yml: ${name}`, command, facts));
    if (command.join(' ') === 'node dist/cli/worker.js') worker = true;
    else if (command.join(' ') === 'node dist/cli/migrate.js') migrate = name;
    else if (command.length === 0) {
      apis.push(name);
      if (values.WORKER !== 'off')
        problems.push(`docker-compose.yml: ${name} runs the API without WORKER=off`);
      if (!/^[1-9][0-9]*$/.test(values.TRUST_PROXY ?? '')) {
        problems.push(`docker-compose.yml: ${name}: TRUST_PROXY must count the one proxy (nginx) in front`);
      }
    }
  }
  if (apis.length < 2) problems.push(`docker-compose.yml: ${apis.length} API instances, expected two`);
  if (!worker) problems.push('docker-compose.yml: no worker service (node dist/cli/worker.js)');
  if (!migrate) problems.push('docker-compose.yml: no migrate service (node dist/cli/migrate.js)');
  for (const api of apis) {
    const condition = asObj(asObj(asObj(services[api]).depends_on)[migrate ?? ''])?.condition;
    if (condition !== 'service_completed_successfully') {
      problems.push(
        `docker-compose.yml: ${api} does not wait for ${migrate ?? 'the migrations'} (service_completed_successfully)`,
      );
    }
  }
  for (const image of ['postgres', 'redis', 'nginx']) {
    if (!Object.values(services).some((s) => String(asObj(s).image ?? '').startsWith(`${image}:`))) {
      problems.push(`docker-compose.yml: no ${image} service`);
    }
  }
  return problems;
}

/** nginx.conf as nested blocks: `{ name, args, children }`. */
interface NginxDirective {
  name: string;
  args: string[];
  children: NginxDirective[] | null;
}

export function parseNginx(text: string): NginxDirective[] {
  const tokens = text.replace(/#[^\n]*/g, '').match(/"[^"]*"|'[^']*'|[{};]|[^\s{};]+/g) ?? [];
  let at = 0;
  const block = (): NginxDirective[] => {
    const out: NginxDirective[] = [];
    let words: string[] = [];
    while (at < tokens.length) {
      const token = tokens[at++] ?? '';
      if (token === ';') {
        const [name = '', ...args] = words;
        out.push({ name, args, children: null });
        words = [];
      } else if (token === '{') {
        const [name = '', ...args] = words;
        out.push({ name, args, children: block() });
        words = [];
      } else if (token === '}') return out;
      else words.push(token.replace(/^["']|["']$/g, ''));
    }
    return out;
  };
  return block();
}

function walk(
  directives: NginxDirective[],
  visit: (d: NginxDirective, parents: NginxDirective[]) => void,
  parents: NginxDirective[] = [],
): void {
  for (const d of directives) {
    visit(d, parents);
    if (d.children) walk(d.children, visit, [...parents, d]);
  }
}

const seconds = (value: string): number => {
  const match = /^([0-9]+)(ms|s|m|h|d)?$/.exec(value);
  if (!match) return 0;
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] ?? 's'] ?? 1;
  return Number(match[1]) * unit;
};

/**
 * deploy/nginx.conf: an upstream naming the compose API instances; X-Forwarded-For and -Proto
 * set; every event-stream route reaches a location with buffering off and read timeouts of at
 * least 10 minutes (the service sends a heartbeat every 15 s).
 */
export function nginxProblems(text: string, facts: ServiceFacts, apiServices: readonly string[]): string[] {
  const problems: string[] = [];
  const root = parseNginx(text);
  const upstreamHosts: string[] = [];
  const headers = new Set<string>();
  const locations: NginxDirective[] = [];
  walk(root, (d, parents) => {
    if (d.name === 'server' && parents.at(-1)?.name === 'upstream')
      upstreamHosts.push((d.args[0] ?? '').split(':')[0] ?? '');
    if (d.name === 'proxy_set_header') headers.add((d.args[0] ?? '').toLowerCase());
    if (d.name === 'location') locations.push(d);
  });
  for (const api of apiServices) {
    if (!upstreamHosts.includes(api))
      problems.push(`deploy/nginx.conf: the upstream lacks the API instance ${api}`);
  }
  for (const host of upstreamHosts) {
    if (!apiServices.includes(host))
      problems.push(`deploy/nginx.conf: the upstream names ${host}, which is no API service`);
  }
  for (const header of ['x-forwarded-for', 'x-forwarded-proto']) {
    if (!headers.has(header))
      problems.push(`deploy/nginx.conf: sets no ${header} for the instances (TRUST_PROXY reads it)`);
  }
  if (facts.streamPaths.length === 0)
    problems.push('deploy/nginx.conf: the app has no event-stream route to check');
  for (const path of facts.streamPaths) {
    // nginx picks the first matching regex location, else the longest prefix.
    const regex = locations.find(
      (l) =>
        (l.args[0] === '~' || l.args[0] === '~*') &&
        new RegExp(l.args[1] ?? '$^', l.args[0] === '~*' ? 'i' : '').test(path),
    );
    const prefix = locations
      .filter((l) => l.args.length === 1 && path.startsWith(l.args[0] ?? '\0'))
      .sort((a, b) => (b.args[0]?.length ?? 0) - (a.args[0]?.length ?? 0))[0];
    const location = regex ?? prefix;
    const setting = (name: string) => location?.children?.find((d) => d.name === name)?.args[0];
    if (!location) problems.push(`deploy/nginx.conf: no location serves ${path}`);
    else if (setting('proxy_buffering') !== 'off')
      problems.push(`deploy/nginx.conf: ${path} is buffered (proxy_buffering off)`);
    else if (seconds(setting('proxy_read_timeout') ?? '60s') < 600) {
      problems.push(`deploy/nginx.conf: ${path} keeps the 60 s read timeout (a stream stays open)`);
    }
  }
  return problems;
}

/** A pod template's containers, with where they are. */
function podSpecOf(object: Obj): Obj | null {
  const spec = asObj(object.spec);
  if (object.kind === 'Deployment') return asObj(asObj(spec.template).spec);
  if (object.kind === 'Job') return asObj(asObj(spec.template).spec);
  return null;
}

const labelsMatch = (selector: unknown, labels: unknown): boolean => {
  const wanted = Object.entries(asObj(selector));
  return wanted.length > 0 && wanted.every(([k, v]) => asObj(labels)[k] === v);
};

/**
 * deploy/k8s: each object is valid for its kind (`validate` — the JSON schemas of the Kubernetes
 * API, from kubernetes-models); env names are config.ts's; envFrom, volumes, Services, the HPA
 * and the PDB point at objects that exist; HTTP probes at routes that exist; every container runs
 * non-root with a read-only root file system and resources; an API and a worker Deployment, each
 * with readiness and liveness probes, a Service, an HPA, a PDB, a migration Job, a Secret and a
 * ConfigMap.
 */
export function k8sProblems(
  files: { file: string; docs: unknown[] }[],
  facts: ServiceFacts,
  validate: (object: Obj) => string | null,
  checkEnv: (env: Record<string, string>) => string[],
): string[] {
  const problems: string[] = [];
  const objects = files.flatMap(({ file, docs }) => docs.map((doc) => ({ file, object: asObj(doc) })));
  const named = (kind: string, name: unknown) =>
    objects.find((o) => o.object.kind === kind && asObj(o.object.metadata).name === name);
  const stringData = (o: Obj) => ({ ...asObj(o.data), ...asObj(o.stringData) });
  for (const { file, object } of objects) {
    const where = `${file}: ${String(object.kind)} ${String(asObj(object.metadata).name)}`;
    const invalid = validate(object);
    if (invalid) problems.push(`${where}: ${invalid}`);
    if (object.kind === 'ConfigMap' || object.kind === 'Secret') {
      for (const key of Object.keys(stringData(object))) {
        if (!facts.envNames.has(key)) problems.push(`${where}: ${key} is not a variable config.ts knows`);
      }
    }
    const target = asObj(asObj(object.spec).scaleTargetRef);
    if (object.kind === 'HorizontalPodAutoscaler' && !named(String(target.kind), target.name)) {
      problems.push(`${where}: scales ${String(target.kind)} ${String(target.name)}, which does not exist`);
    }
    const selector =
      object.kind === 'Service'
        ? asObj(object.spec).selector
        : asObj(asObj(object.spec).selector).matchLabels;
    if (object.kind === 'Service' || object.kind === 'PodDisruptionBudget') {
      const matched = objects.some(
        (o) =>
          o.object.kind === 'Deployment' &&
          labelsMatch(selector, asObj(asObj(asObj(o.object.spec).template).metadata).labels),
      );
      if (!matched) problems.push(`${where}: its selector matches no Deployment's pods`);
    }
    const pod = podSpecOf(object);
    if (!pod) continue;
    if (
      object.kind === 'Deployment' &&
      !labelsMatch(selector, asObj(asObj(asObj(object.spec).template).metadata).labels)
    ) {
      problems.push(`${where}: spec.selector does not match the pod template's labels`);
    }
    const podSecurity = asObj(pod.securityContext);
    const volumes = new Set(asArray(pod.volumes).map((v) => asObj(v).name));
    for (const raw of asArray(pod.containers)) {
      const container = asObj(raw);
      const at = `${where}, container ${String(container.name)}`;
      const security = asObj(container.securityContext);
      if ((security.runAsNonRoot ?? podSecurity.runAsNonRoot) !== true)
        problems.push(`${at}: runAsNonRoot is not set`);
      if (security.readOnlyRootFilesystem !== true)
        problems.push(`${at}: the root file system is not read-only`);
      if (security.allowPrivilegeEscalation !== false)
        problems.push(`${at}: allowPrivilegeEscalation is not false`);
      const resources = asObj(container.resources);
      if (!isObj(resources.requests) || !isObj(resources.limits))
        problems.push(`${at}: no resource requests and limits`);
      if (typeof container.image !== 'string' || !container.image) problems.push(`${at}: no image`);
      problems.push(...commandProblems(at, container.command, facts));
      for (const mount of asArray(container.volumeMounts)) {
        if (!volumes.has(asObj(mount).name))
          problems.push(`${at}: mounts ${String(asObj(mount).name)}, which is no volume of the pod`);
      }
      const env: Record<string, string> = {};
      for (const from of asArray(container.envFrom)) {
        const ref = asObj(from);
        const [kind, source] = ref.configMapRef
          ? ['ConfigMap', asObj(ref.configMapRef)]
          : ['Secret', asObj(ref.secretRef)];
        const found = named(kind, source.name);
        if (!found)
          problems.push(`${at}: envFrom names ${kind} ${String(source.name)}, which does not exist`);
        else {
          for (const [k, v] of Object.entries(stringData(found.object))) {
            // Secrets here are examples (placeholders): the check stands in for their values.
            env[k] =
              kind === 'Secret'
                ? k === 'DATABASE_URL'
                  ? String(v)
                  : 'stand-in-for-a-secret-value-0123456789'
                : String(v);
          }
        }
      }
      for (const raw of asArray(container.env)) {
        const item = asObj(raw);
        const name = String(item.name);
        if (!facts.envNames.has(name)) problems.push(`${at}: sets ${name}, which config.ts does not know`);
        env[name] = String(item.value ?? '');
      }
      for (const line of checkEnv(env)) problems.push(`${at}: ${line}`);
      const command = asArray(container.command).join(' ');
      const runsApi = object.kind === 'Deployment' && command === '';
      for (const probe of ['readinessProbe', 'livenessProbe'] as const) {
        const spec = asObj(container[probe]);
        const path = asObj(spec.httpGet).path;
        if (object.kind === 'Deployment' && !spec.httpGet && !spec.exec) problems.push(`${at}: no ${probe}`);
        if (path !== undefined && !facts.hasGetRoute(String(path)))
          problems.push(`${at}: ${probe} asks ${String(path)}, which is no route`);
        if (spec.exec) problems.push(...commandProblems(`${at}: ${probe}`, asObj(spec.exec).command, facts));
        const expected = probe === 'readinessProbe' ? '/health/ready' : '/health/live';
        if (runsApi && path !== expected) problems.push(`${at}: the API's ${probe} must ask ${expected}`);
      }
      if (runsApi && env.WORKER !== 'off')
        problems.push(`${at}: the API runs without WORKER=off beside the worker Deployment`);
    }
  }
  const commands = objects.flatMap(({ object }) =>
    asArray(podSpecOf(object)?.containers).map((c) => ({
      kind: object.kind,
      command: asArray(asObj(c).command).join(' '),
    })),
  );
  const need: [string, boolean][] = [
    ['an API Deployment', commands.some((c) => c.kind === 'Deployment' && c.command === '')],
    [
      'a worker Deployment (node dist/cli/worker.js)',
      commands.some((c) => c.kind === 'Deployment' && c.command === 'node dist/cli/worker.js'),
    ],
    [
      'a migration Job (node dist/cli/migrate.js)',
      commands.some((c) => c.kind === 'Job' && c.command === 'node dist/cli/migrate.js'),
    ],
    ...['Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Secret', 'ConfigMap'].map(
      (kind): [string, boolean] => [`a ${kind}`, objects.some((o) => o.object.kind === kind)],
    ),
  ];
  for (const [what, present] of need) if (!present) problems.push(`deploy/k8s: has no ${what}`);
  return problems;
}

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

/** The object against its kind's schema, or why not. */
export function validateKube(object: Record<string, unknown>): string | null {
  const Model = MODELS[`${String(object.apiVersion)}/${String(object.kind)}`];
  if (!Model)
    return `no schema here for ${String(object.apiVersion)} ${String(object.kind)} (add its model to MODELS)`;
  try {
    new Model(object as never).validate();
    return null;
  } catch (error) {
    return `invalid: ${error instanceof Error ? error.message : String(error)}`;
  }
}
