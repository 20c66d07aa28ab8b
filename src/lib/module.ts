import type { TSchema } from '@sinclair/typebox';
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { DatabaseHandle } from '../db/database.js';
import type { ApiVersion } from './api-version.js';
import type { ChangeLog } from './change-log.js';
import type { CursorSigner } from './cursor.js';
import type { Resolver } from './dns.js';
import type { JobQueue } from './jobs.js';
import type { Mailer } from './mail.js';
import type { Metrics } from './metrics.js';
import type { PasswordHasher } from './passwords.js';
import type { Ports } from './ports.js';

/**
 * How a module plugs into the app: what it brings (routes per API version, shared schemas, a docs
 * tag, services built from the context) is declared in its entry, `modules/<name>/index.ts`, and
 * the composition root (app.ts) derives everything else from its list of modules.
 */

export interface Lifecycle {
  /** Set when shutdown begins: readiness answers 503 while in-flight requests finish. */
  draining: boolean;
}

/**
 * The services of every module, by name. Empty here: each module adds its own with
 * `declare module '../../lib/module.js' { interface Services { … } }`, so the context is typed
 * without this file knowing any module.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging in each module's entry
export interface Services {}

/** What the app, the command-line tools and the tests share: built once, from the configuration. */
export interface AppContext {
  readonly config: Config;
  readonly log: FastifyBaseLogger;
  readonly database: DatabaseHandle;
  readonly redis: Redis | null;
  /**
   * What every Redis key this app writes starts with: apps that share it share their counters
   * (the instances of one service), apps that do not (tests on one Redis) never do.
   */
  readonly keyPrefix: string;
  readonly lifecycle: Lifecycle;
  readonly passwordHasher: PasswordHasher;
  readonly cursors: CursorSigner;
  /** Milliseconds since the epoch; tests move it instead of waiting. */
  readonly clock: () => number;
  /** Name resolution (webhook URLs are checked against the addresses it gives). */
  readonly resolve: Resolver;
  /**
   * The background job queue: enqueue in the change's transaction; a module defines its job
   * types from `subscribe` (see lib/jobs.ts).
   */
  readonly jobs: JobQueue;
  /** Mail out: SMTP_URL, or the data folder's outbox. Send from a job, never from a request. */
  readonly mailer: Mailer;
  /**
   * The change log (contract §8): writes to projects, members, tasks and comments run through
   * `changes.transaction` and record their events there (see lib/change-log.ts).
   */
  readonly changes: ChangeLog;
  /** This app's metrics (GET /metrics): modules and plugins count and report through it. */
  readonly metrics: Metrics;
  /** Where modules meet without importing each other (user lifecycle events). */
  readonly ports: Ports;
  /** Filled in module order before any route is registered; read it when called, not at import. */
  readonly services: Services;
}

/** Options every versioned route plugin receives. */
export interface VersionOptions {
  version: ApiVersion;
  ctx: AppContext;
}

/** Options of a module's routes outside the API versions. */
export interface RootOptions {
  ctx: AppContext;
}

/**
 * Work a module runs in the background of every process that runs jobs (WORKER=inline, or
 * `npm run worker`): loops and timers beside the job queue (the webhook dispatcher, retention).
 */
export interface BackgroundWork {
  /** Starts it; must not throw (a failure is logged, and the work tries again later). */
  start(): void;
  /** Stops it: resolves once nothing of it runs any more. */
  stop(): Promise<void>;
}

export interface ModuleTag {
  name: string;
  description: string;
}

export interface Module {
  readonly name: string;
  /** The docs section of its operations; sections appear in the order of the module list. */
  readonly tag?: ModuleTag;
  /** Schemas its routes reference by $id; they become components of the OpenAPI document. */
  readonly schemas?: readonly TSchema[];
  /** Its services, built once per app from the context (other modules' services may not exist yet). */
  readonly services?: (ctx: AppContext) => Partial<Services>;
  /** Once every service exists: subscriptions to the ports (see lib/ports.ts). */
  readonly subscribe?: (ctx: AppContext) => void;
  /** Hooks on the whole app, added before any route is registered (the auth module's). */
  readonly install?: (app: FastifyInstance, ctx: AppContext) => Promise<void>;
  /** Routes outside the API versions (`/`, `/health/…`, `/problems/…`). */
  readonly rootRoutes?: FastifyPluginAsync<RootOptions>;
  /** Routes registered once under each version prefix, `/api/<version>`. */
  readonly routes?: FastifyPluginAsync<VersionOptions>;
  /** Its background work, run where the jobs run (see BackgroundWork). */
  readonly background?: (ctx: AppContext) => BackgroundWork;
  /** Releases what its services hold when the app or the tool closes. */
  readonly close?: (ctx: AppContext) => Promise<void>;
}

/** A module entry, checked against the Module interface where it is written. */
export function defineModule<const M extends Module>(module: M): M {
  return module;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    ctx: AppContext;
  }
}
