import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { availableParallelism } from 'node:os';
import Fastify, { type FastifyBaseLogger, type FastifyHttpOptions, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { DestinationStream } from 'pino';
import type { Config } from './config.js';
import { type DatabaseHandle, openDatabase } from './db/database.js';
import { createJobQueue } from './jobs/index.js';
import { API_VERSIONS } from './lib/api-version.js';
import { ChangeLog } from './lib/change-log.js';
import { FieldErrorSchema, ProblemSchema } from './lib/common-schemas.js';
import { CursorSigner } from './lib/cursor.js';
import { type Resolver, systemResolver } from './lib/dns.js';
import { createMailer } from './lib/mail.js';
import { Metrics } from './lib/metrics.js';
import type { AppContext, BackgroundWork, Module, Services } from './lib/module.js';
import { DEFAULT_HASH_COST, defaultHashLimits, type HashCost, PasswordHasher } from './lib/passwords.js';
import { createPorts } from './lib/ports.js';
import { parseQueryString } from './lib/query-string.js';
import { createRedis } from './lib/redis.js';
import type { RequestTracing } from './lib/tracing.js';
import { apiKeysModule } from './modules/api-keys/index.js';
import { authModule } from './modules/auth/index.js';
import { commentsModule } from './modules/comments/index.js';
import { eventsModule } from './modules/events/index.js';
import { healthModule } from './modules/health/index.js';
import { idempotencyModule } from './modules/idempotency/index.js';
import { passwordResetModule } from './modules/password-reset/index.js';
import { problemsModule } from './modules/problems/index.js';
import { projectsModule } from './modules/projects/index.js';
import { rootModule } from './modules/root/index.js';
import { tasksModule } from './modules/tasks/index.js';
import { usersModule } from './modules/users/index.js';
import { webhooksModule } from './modules/webhooks/index.js';
import { installCachePolicy } from './plugins/cache-policy.js';
import { clientErrorHandler } from './plugins/client-errors.js';
import { installCompression } from './plugins/compression.js';
import { registerDocsRoutes, registerOpenApi } from './plugins/docs.js';
import { installHttpSemantics } from './plugins/http-semantics.js';
import { loggerOptions, RequestLogController, type RequestObserver } from './plugins/logging.js';
import { type ClusterMetrics, installMetrics } from './plugins/metrics.js';
import { defaultOverloadLimits, installOverload, type OverloadLimits } from './plugins/overload.js';
import { frameworkErrorHandler, installProblemDetails } from './plugins/problem-details.js';
import { installRateLimits } from './plugins/rate-limit.js';
import { installReplyInspection, type ReplyInspector } from './plugins/reply-inspection.js';
import { installRequestIdEcho, requestIdFor } from './plugins/request-id.js';
import { installSecurityHeaders, registerCors } from './plugins/security-headers.js';
import { installSunset } from './plugins/sunset.js';
import { installValidation } from './plugins/validation.js';

/**
 * Every module of the service, in the order the docs show their sections. A new resource is one
 * more entry here; its schemas, docs tag, services and routes follow from its module entry.
 */
export const MODULES: readonly Module[] = [
  rootModule,
  authModule,
  passwordResetModule,
  usersModule,
  projectsModule,
  tasksModule,
  commentsModule,
  eventsModule,
  webhooksModule,
  apiKeysModule,
  idempotencyModule,
  healthModule,
  problemsModule,
];

/** Schemas every module's routes may reference by $id (the problem details). */
const CORE_SCHEMAS = [FieldErrorSchema, ProblemSchema];

export interface ContextOptions {
  log: FastifyBaseLogger;
  /** An open database to use instead of opening DATABASE_URL; the caller closes it. */
  database?: DatabaseHandle;
  /** An open Redis client to use instead of connecting to REDIS_URL; the caller closes it. */
  redis?: Redis | null;
  /** Cheaper password hashing for tests; production uses DEFAULT_HASH_COST. */
  hashCost?: HashCost;
  /** A hasher to use instead (tests set its limits and count its work); hashCost is then ignored. */
  passwordHasher?: PasswordHasher;
  /** Milliseconds since the epoch (tests move it instead of waiting); default Date.now. */
  clock?: () => number;
  /** The modules whose services the context holds; default MODULES. */
  modules?: readonly Module[];
  /** What this app's Redis keys start with; default DEFAULT_KEY_PREFIX (see AppContext.keyPrefix). */
  keyPrefix?: string;
  /** Name resolution for webhook URLs; default the system's (tests inject their own). */
  resolve?: Resolver;
  /** Tracing, when on: the database it opens gets a span per statement. */
  tracing?: RequestTracing;
}

/** The Redis key prefix of the service: every instance shares its rate-limit counters. */
export const DEFAULT_KEY_PREFIX = 'taskforge:';

export interface ContextHandle {
  ctx: AppContext;
  /**
   * Runs the background jobs and every module's background work in this process (WORKER=inline,
   * or `npm run worker`); `close` stops them first.
   */
  startBackground(): Promise<void>;
  /** Closes what the context opened (and what its modules' services hold). */
  close(): Promise<void>;
}

/**
 * The context the app, the command-line tools and the tests share: configuration, database,
 * Redis, hashing, cursors and ports, and every module's services, built once, in module order.
 */
export function createContext(config: Config, options: ContextOptions): ContextHandle {
  const modules = options.modules ?? MODULES;
  const database =
    options.database ??
    openDatabase(config.database, {
      poolSize: config.databasePoolSize,
      statementTimeoutMs: config.databaseStatementTimeoutMs,
      ...(options.tracing ? { instrument: options.tracing.instrumentDialect } : {}),
    });
  const redis =
    options.redis !== undefined
      ? options.redis
      : config.redisUrl
        ? createRedis(config.redisUrl, options.log)
        : null;
  let cursors: CursorSigner | null = null;
  const services = {} as Services;
  const clock = options.clock ?? Date.now;
  const metrics = new Metrics();
  metrics.watchDatabase(database.dialect === 'postgres' ? 'postgresql' : 'sqlite', database.poolStats);
  const jobs = createJobQueue(database, { log: options.log, clock, metrics });
  metrics.watchJobQueue(() => jobs.depth());
  const mailer = createMailer(config.smtp, config.dataDir, options.log);
  const changes = new ChangeLog(options.log);
  const ctx: AppContext = {
    config,
    log: options.log,
    database,
    redis,
    keyPrefix: options.keyPrefix ?? DEFAULT_KEY_PREFIX,
    lifecycle: { draining: false },
    passwordHasher:
      options.passwordHasher ??
      new PasswordHasher(options.hashCost ?? DEFAULT_HASH_COST, {
        limits: defaultHashLimits(availableParallelism(), config.webConcurrency),
      }),
    // Made on first use: the command-line tools share this context without needing a secret.
    get cursors() {
      const secret = config.jwtSecret;
      if (!secret) throw new Error('JWT_SECRET must be resolved before cursors are signed');
      cursors ??= new CursorSigner(secret);
      return cursors;
    },
    clock,
    resolve: options.resolve ?? systemResolver,
    jobs,
    mailer,
    changes,
    metrics,
    ports: createPorts((db, work) => changes.transaction(db, work)),
    services,
  };
  for (const module of modules) Object.assign(services, module.services?.(ctx));
  for (const module of modules) module.subscribe?.(ctx);
  const background: BackgroundWork[] = [];
  return {
    ctx,
    async startBackground() {
      await jobs.start();
      for (const module of modules) {
        const work = module.background?.(ctx);
        if (!work) continue;
        background.push(work);
        work.start();
      }
    },
    async close() {
      await Promise.all(background.splice(0).map((work) => work.stop()));
      // Running jobs first (they use the services and the database): finish, or go back to the queue.
      await jobs.stop(Math.max(1000, Math.floor(config.shutdownTimeoutMs / 2)));
      mailer.close();
      for (const module of modules) await module.close?.(ctx);
      if (!options.database) await database.close();
      if (options.redis === undefined) redis?.disconnect();
    },
  };
}

export interface AppOverrides {
  /** Cheaper password hashing for tests; production uses DEFAULT_HASH_COST. */
  hashCost?: HashCost;
  /** An open database to use instead of opening DATABASE_URL; the caller closes it. */
  database?: DatabaseHandle;
  /** Where log lines go (tests capture them); default stdout. */
  logStream?: DestinationStream;
  /** Called once per completed request (tests record which statuses each route answered). */
  observers?: RequestObserver[];
  /** Modules after MODULES, registered like them (tests and forks: one line each). */
  modules?: readonly Module[];
  /** The context's clock in milliseconds (tests move it instead of waiting). */
  clock?: () => number;
  /** What this app's Redis keys start with (tests on one Redis give each app its own). */
  keyPrefix?: string;
  /** A hasher to use instead (tests set its limits and count its work). */
  passwordHasher?: PasswordHasher;
  /** Name resolution for webhook URLs (tests make names resolve where they need). */
  resolve?: Resolver;
  /** Connection limits instead of DEFAULT_SERVER_LIMITS (tests shorten the timeouts). */
  serverLimits?: Partial<ServerLimits>;
  /** Load-shedding thresholds instead of defaultOverloadLimits() (tests force the pressure). */
  overload?: Partial<OverloadLimits>;
  /** Tracing (server.ts, when OTEL_EXPORTER_OTLP_ENDPOINT is set); absent, nothing of it is installed. */
  tracing?: RequestTracing;
  /** In a cluster worker (server.ts): GET /metrics answers the service's, and METRICS_PORT is the primary's. */
  clusterMetrics?: ClusterMetrics;
  /** Sees every reply as sent (tests only: they check each one against the OpenAPI document). */
  inspectReply?: ReplyInspector;
}

/**
 * What one process allows its connections, so slow or idle clients cannot hold it: the headers
 * within `headersTimeoutMs` of the connection or of the previous reply (or within REQUEST_TIMEOUT,
 * when that is shorter), the whole request within REQUEST_TIMEOUT (a body must keep flowing), an
 * idle keep-alive connection closed after `keepAliveTimeoutMs`, and at most `maxConnections` open
 * at once (the next ones are closed as they arrive). The contract has no variables for these.
 */
export interface ServerLimits {
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

/**
 * 10 s for headers (a browser sends them in one packet); Node's own 5 s keep-alive (a proxy in
 * front should close idle connections sooner than that, or reuse them within it); 1,000
 * connections, within the common 1,024-descriptor limit with room for the database and files, yet
 * 50 times the 20 clients of the load benchmark.
 */
export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1_000,
};

/**
 * TRUST_PROXY for Fastify. A hop count becomes proxy-addr's trust function "the first n hops":
 * Fastify 5.12 turns a bare number into "trust nothing" (it cannot check who the peer is), but
 * the contract offers the count for deployments whose proxies have no fixed addresses, and the
 * operator who sets it vouches for those hops.
 */
function trustProxyOption(
  trust: Config['trustProxy'],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trust !== 'number') return trust;
  return (_address, hop) => hop < trust;
}

function serverOptions(config: Config, overrides: AppOverrides): FastifyHttpOptions<Server> {
  const limits = { ...DEFAULT_SERVER_LIMITS, ...overrides.serverLimits };
  const options: FastifyHttpOptions<Server> = {
    logger: loggerOptions(config.logLevel, overrides.logStream),
    genReqId: requestIdFor,
    requestIdHeader: false,
    logController: new RequestLogController(config.logLevel, overrides.observers ?? []),
    bodyLimit: config.bodyLimitBytes,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    trustProxy: trustProxyOption(config.trustProxy),
    return503OnClosing: false,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    clientErrorHandler: clientErrorHandler(config.publicUrl),
    frameworkErrors: frameworkErrorHandler,
    routerOptions: { maxParamLength: 500, querystringParser: parseQueryString },
    ...(overrides.tracing ? { childLoggerFactory: tracedChildLogger(overrides.tracing) } : {}),
    // Node's default header limit is 16 KiB (431 past it); checked every second for slow requests.
    // Node refuses a header timeout longer than the request timeout. requireHostHeader off: Node's
    // own 400 for a missing Host is a bare reply; http-semantics.ts answers it.
    http: {
      maxHeaderSize: 16_384,
      requireHostHeader: false,
      connectionsCheckingInterval: 1000,
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: Math.min(limits.headersTimeoutMs, config.requestTimeoutMs),
    },
  };
  if (config.tls) {
    // An https server takes the same options plus the key pair; the instance type stays the HTTP one.
    Object.assign(options, {
      https: {
        ...options.http,
        cert: readFileSync(config.tls.certFile),
        key: readFileSync(config.tls.keyFile),
      },
    });
  }
  return options;
}

/**
 * Every log line of a request carries its trace and span ids beside its request id. The request's
 * logger is made once, in the request's span (instrumentation-http started it): no work per line.
 */
function tracedChildLogger(
  tracing: RequestTracing,
): NonNullable<FastifyHttpOptions<Server>['childLoggerFactory']> {
  return (logger, bindings, options) => logger.child({ ...bindings, ...tracing.currentIds() }, options);
}

/** The versioned API: each module's routes are registered once per version prefix. */
async function registerApi(app: FastifyInstance, modules: readonly Module[], ctx: AppContext): Promise<void> {
  for (const version of API_VERSIONS) {
    await app.register(
      async (api) => {
        for (const module of modules) if (module.routes) await api.register(module.routes, { version, ctx });
      },
      { prefix: `/api/${version}` },
    );
  }
}

/** Start-up, once the app is ready: the schema against the code, then the admin bootstrap. */
async function startUp(ctx: AppContext): Promise<void> {
  const { config, log, services } = ctx;
  const schema = await services.health.checkSchemaAtStartup();
  if (!config.admin) return;
  if (schema === 'behind') {
    log.warn('ADMIN_EMAIL: the admin bootstrap waits for a migrated schema (npm run migrate, then restart)');
    return;
  }
  await services.users.ensureAdmin(config.admin.email, config.admin.password, (message) => log.info(message));
}

/** Builds the whole service from its arguments; nothing happens at import time. */
export async function buildApp(config: Config, overrides: AppOverrides = {}): Promise<FastifyInstance> {
  // server.ts resolves the development secret before building; a caller that forgets is a bug.
  if (!config.jwtSecret) throw new Error('JWT_SECRET must be resolved before the app is built');
  const app = Fastify(serverOptions(config, overrides));
  app.server.maxConnections = overrides.serverLimits?.maxConnections ?? DEFAULT_SERVER_LIMITS.maxConnections;
  const modules = [...MODULES, ...(overrides.modules ?? [])];
  const { ctx, close, startBackground } = createContext(config, {
    log: app.log,
    modules,
    ...(overrides.database ? { database: overrides.database } : {}),
    ...(overrides.hashCost ? { hashCost: overrides.hashCost } : {}),
    ...(overrides.clock ? { clock: overrides.clock } : {}),
    ...(overrides.keyPrefix ? { keyPrefix: overrides.keyPrefix } : {}),
    ...(overrides.passwordHasher ? { passwordHasher: overrides.passwordHasher } : {}),
    ...(overrides.resolve ? { resolve: overrides.resolve } : {}),
    ...(overrides.tracing ? { tracing: overrides.tracing } : {}),
  });
  app.decorate('config', config);
  app.decorate('ctx', ctx);
  // The dummy hash for unknown emails exists before the first login (see PasswordHasher.prepare).
  app.addHook('onReady', async () => {
    await ctx.passwordHasher.prepare();
  });
  app.addHook('onClose', close);

  for (const schema of [...CORE_SCHEMAS, ...modules.flatMap((module) => module.schemas ?? [])]) {
    app.addSchema(schema);
  }
  installValidation(app);
  // The first hook, so a request answered by any later one (405, 429, 401) has its route too.
  const { tracing } = overrides;
  if (tracing) {
    app.addHook('onRequest', (request, _reply, done) => {
      if (request.routeOptions.url) tracing.setRoute(request.routeOptions.url);
      done();
    });
  }
  // Hook order is reply-header order: request id and helmet first, so 405s and 401s carry them.
  installRequestIdEcho(app);
  installSecurityHeaders(app);
  // Before http-semantics answers 404, 405 and OPTIONS: those are limited too (contract §4).
  await installRateLimits(app, ctx);
  installHttpSemantics(app);
  installCachePolicy(app);
  installSunset(app, config.publicUrl, config.apiV1Sunset);
  installProblemDetails(app);
  // Before any route is declared: the plugin hooks each route as it is added.
  await installCompression(app);
  await registerCors(app);
  await installOverload(app, { ...defaultOverloadLimits(), ...overrides.overload }, ctx.clock);
  await registerOpenApi(
    app,
    modules.flatMap((module) => (module.tag ? [module.tag] : [])),
  );
  // After the OpenAPI plugin, which documents the routes registered from then on (/metrics).
  await installMetrics(app, ctx, overrides.clusterMetrics);
  for (const module of modules) await module.install?.(app, ctx);
  // The last root-level hooks, before any route plugin: every documented route inherits them.
  if (overrides.inspectReply) installReplyInspection(app, overrides.inspectReply);

  for (const module of modules) if (module.rootRoutes) await app.register(module.rootRoutes, { ctx });
  await registerApi(app, modules, ctx);
  await registerDocsRoutes(app);
  app.addHook('onReady', () => startUp(ctx));
  // WORKER=off: this process only enqueues; `npm run worker` runs the jobs.
  app.addHook('onReady', () => (config.worker === 'inline' ? startBackground() : ctx.jobs.prepare()));

  await app.ready();
  return app;
}
