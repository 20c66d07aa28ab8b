import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import Fastify, { type FastifyHttpOptions, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Redis } from 'ioredis';
import type { DestinationStream } from 'pino';
import type { Config } from './config.js';
import { type DatabaseHandle, openDatabase } from './db/database.js';
import type { VersionOptions } from './lib/api-version.js';
import { FieldErrorSchema, ProblemSchema } from './lib/common-schemas.js';
import { CursorSigner } from './lib/cursor.js';
import { DEFAULT_HASH_COST, type HashCost, PasswordHasher } from './lib/passwords.js';
import { createRedis } from './lib/redis.js';
import { installAuthorization, registerAuth } from './modules/auth/auth.hooks.js';
import { authRoutes } from './modules/auth/auth.routes.js';
import { OAuthTokenSchema, TokenPairSchema } from './modules/auth/auth.schemas.js';
import { AuthStateCache } from './modules/auth/auth-state.js';
import { authStateLoaders } from './modules/auth/auth-state.loaders.js';
import { tokenRoutes } from './modules/auth/token.routes.js';
import { healthRoutes } from './modules/health/health.routes.js';
import { checkSchemaAtStartup } from './modules/health/health.service.js';
import { problemsRoutes } from './modules/problems/problems.routes.js';
import { rootRoutes } from './modules/root/root.routes.js';
import { tasksRoutes } from './modules/tasks/tasks.routes.js';
import {
  TaskCursorPageSchema,
  TaskPageSchema,
  TaskSchema,
  TaskStatsSchema,
} from './modules/tasks/tasks.schemas.js';
import { usersRoutes } from './modules/users/users.routes.js';
import { UserCursorPageSchema, UserPageSchema, UserSchema } from './modules/users/users.schemas.js';
import { UsersService } from './modules/users/users.service.js';
import { installNoStore } from './plugins/caching.js';
import { clientErrorHandler } from './plugins/client-errors.js';
import { registerDocsRoutes, registerOpenApi } from './plugins/docs.js';
import { installHttpSemantics } from './plugins/http-semantics.js';
import { loggerOptions, RequestLogController, type RequestObserver } from './plugins/logging.js';
import { frameworkErrorHandler, installProblemDetails } from './plugins/problem-details.js';
import { installRequestIdEcho, requestIdFor } from './plugins/request-id.js';
import { installSecurityHeaders, registerCors } from './plugins/security-headers.js';
import { installValidation } from './plugins/validation.js';

export interface Lifecycle {
  /** Set when shutdown begins: readiness answers 503 while in-flight requests finish. */
  draining: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    database: DatabaseHandle;
    redis: Redis | null;
    lifecycle: Lifecycle;
    passwordHasher: PasswordHasher;
    cursors: CursorSigner;
  }
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
  /** Extra route plugins, registered under each API version prefix (used by tests and forks). */
  apiRoutes?: ApiRoutes[];
  /** The auth cache's clock in milliseconds (tests move it instead of waiting). */
  clock?: () => number;
}

/** Contract §3: a process that cannot learn of a change at once trusts its cache this long. */
const AUTH_CACHE_MAX_AGE_MS = 5000;

type ApiRoutes = FastifyPluginAsync<VersionOptions>;

/** Schemas referenced by $id from many routes; they become the document's components. */
const SHARED_SCHEMAS = [
  FieldErrorSchema,
  ProblemSchema,
  UserSchema,
  UserPageSchema,
  TokenPairSchema,
  OAuthTokenSchema,
  TaskSchema,
  TaskPageSchema,
  TaskStatsSchema,
  TaskCursorPageSchema,
  UserCursorPageSchema,
];

/** Every resource's routes, in the order they appear in the docs. */
const API_ROUTES: ApiRoutes[] = [authRoutes, tokenRoutes, usersRoutes, tasksRoutes];

/** The versioned API: each route plugin is registered once per version prefix. */
async function registerApi(app: FastifyInstance, routes: ApiRoutes[]): Promise<void> {
  for (const version of ['v1', 'v2'] as const) {
    await app.register(
      async (api) => {
        for (const plugin of routes) await api.register(plugin, { version });
      },
      { prefix: `/api/${version}` },
    );
  }
}

/** Builds the whole service from its arguments; nothing happens at import time. */
export async function buildApp(config: Config, overrides: AppOverrides = {}): Promise<FastifyInstance> {
  // server.ts resolves the development secret before building; a caller that forgets is a bug.
  const secret = config.jwtSecret;
  if (!secret) throw new Error('JWT_SECRET must be resolved before the app is built');
  const serverOptions: FastifyHttpOptions<Server> = {
    logger: loggerOptions(config.logLevel, overrides.logStream),
    genReqId: requestIdFor,
    requestIdHeader: false,
    logController: new RequestLogController(config.logLevel, overrides.observers ?? []),
    bodyLimit: config.bodyLimitBytes,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Fastify's types omit the hop count, which its runtime (proxy-addr) supports.
    trustProxy: config.trustProxy as boolean | string[],
    return503OnClosing: false,
    requestTimeout: config.requestTimeoutMs,
    clientErrorHandler: clientErrorHandler(config.publicUrl),
    frameworkErrors: frameworkErrorHandler,
    routerOptions: { maxParamLength: 500 },
    // Node's default header limit is 16 KiB (431 past it); checked every second for slow requests.
    http: { maxHeaderSize: 16_384, connectionsCheckingInterval: 1000 },
  };
  if (config.tls) {
    // An https server takes the same options plus the key pair; the instance type stays the HTTP one.
    Object.assign(serverOptions, {
      https: {
        ...serverOptions.http,
        cert: readFileSync(config.tls.certFile),
        key: readFileSync(config.tls.keyFile),
      },
    });
  }
  const app = Fastify(serverOptions);

  const database =
    overrides.database ??
    openDatabase(config.database, {
      poolSize: config.databasePoolSize,
      statementTimeoutMs: config.databaseStatementTimeoutMs,
    });
  const redis = config.redisUrl ? createRedis(config.redisUrl, app.log) : null;
  app.decorate('config', config);
  app.decorate('database', database);
  app.decorate('redis', redis);
  app.decorate('lifecycle', { draining: false });
  app.decorate('passwordHasher', new PasswordHasher(overrides.hashCost ?? DEFAULT_HASH_COST));
  // The dummy hash for unknown emails exists before the first login (see PasswordHasher.prepare).
  app.addHook('onReady', async () => {
    await app.passwordHasher.prepare();
  });
  app.decorate('cursors', new CursorSigner(secret));
  const authState = new AuthStateCache(authStateLoaders(database.db), redis, app.log, {
    // SQLite tells us when another process committed; PostgreSQL without Redis cannot.
    dataVersion: database.dataVersion,
    maxAgeMs: database.dataVersion === null && redis === null ? AUTH_CACHE_MAX_AGE_MS : null,
    ...(overrides.clock ? { now: overrides.clock } : {}),
  });
  app.decorate('authState', authState);
  authState.start();
  app.addHook('onClose', async () => {
    await authState.stop();
    if (!overrides.database) await database.close();
    if (redis) redis.disconnect();
  });

  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  installValidation(app);
  // Hook order is reply-header order: request id and helmet first, so 405s and 401s carry them.
  installRequestIdEcho(app);
  installSecurityHeaders(app);
  installHttpSemantics(app);
  installNoStore(app);
  installProblemDetails(app);
  await registerCors(app);
  await registerOpenApi(app);
  await registerAuth(app);
  installAuthorization(app);

  await app.register(rootRoutes);
  await app.register(healthRoutes);
  await app.register(problemsRoutes);
  await registerApi(app, [...API_ROUTES, ...(overrides.apiRoutes ?? [])]);
  await registerDocsRoutes(app);
  app.addHook('onReady', async () => {
    const schema = await checkSchemaAtStartup(app);
    if (!config.admin) return;
    if (schema === 'behind') {
      app.log.warn(
        'ADMIN_EMAIL: the admin bootstrap waits for a migrated schema (npm run migrate, then restart)',
      );
      return;
    }
    const users = new UsersService(database, app.passwordHasher, authState);
    await users.ensureAdmin(config.admin.email, config.admin.password, (message) => app.log.info(message));
  });

  await app.ready();
  return app;
}
