import pino from 'pino';
import { createContext } from '../app.js';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { type DatabaseHandle, openDatabase } from '../db/database.js';
import { migrateToLatest, migrationStatus, schemaState } from '../db/migrator.js';
import type { AppContext } from '../lib/module.js';
import { createRedis, whenReady } from '../lib/redis.js';
import { CliError, type CliIo } from './io.js';

/** The configuration from the tool's environment; its errors are one line each. */
export function cliConfig(io: CliIo): Config {
  try {
    // The bootstrap variables are the admin commands' input, not a start-up setting.
    return loadConfig({ ...io.env, ADMIN_EMAIL: undefined, ADMIN_PASSWORD: undefined });
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message);
    throw error;
  }
}

export interface ContextUse {
  /** The command's name, which starts its messages. */
  command: string;
  /** Bring the schema up to date first (bootstrap commands); otherwise a schema behind is refused. */
  migrate: boolean;
  /** The command changes accounts: running instances must hear of it over REDIS_URL. */
  changes: boolean;
}

/**
 * Runs `work` with the app's own context (the same services and rules as the API, and the
 * invalidations they publish over Redis), then closes what it opened.
 */
export async function withContext<T>(
  io: CliIo,
  use: ContextUse,
  work: (ctx: AppContext) => Promise<T>,
): Promise<T> {
  const config = cliConfig(io);
  // Problems are reported in one line each; the libraries' own warnings would repeat them.
  const log = pino({ level: 'error' }, pino.destination(2));
  const redis = use.changes && config.redisUrl ? createRedis(config.redisUrl, log) : null;
  let database: DatabaseHandle | null = null;
  try {
    if (redis) {
      // Running instances learn of the change over Redis: without it, they would keep serving
      // the old role and sessions from their caches, so change nothing.
      const unreachable = await whenReady(redis, 10_000).then(
        () => null,
        (error: Error) => error.message || error.name,
      );
      if (unreachable !== null) {
        throw new CliError(
          `${use.command}: cannot reach REDIS_URL (${unreachable}): running instances would not hear of the change; nothing was changed`,
        );
      }
    }
    database = openDatabase(config.database, { busyTimeoutMs: 60_000 });
    if (use.migrate) await migrateToLatest(database);
    else if (schemaState(await migrationStatus(database)) === 'behind') {
      throw new CliError(`${use.command}: the database schema is behind: run npm run cli -- migrate first`);
    }
    const { ctx } = createContext(config, {
      log,
      database,
      redis,
      ...(io.hashCost ? { hashCost: io.hashCost } : {}),
    });
    const result = await work(ctx);
    if (use.changes && !(await ctx.services.authState.published())) {
      throw new CliError(
        `${use.command}: the change is saved, but running instances could not be told over REDIS_URL: restart them`,
      );
    }
    return result;
  } finally {
    redis?.disconnect();
    await database?.close();
  }
}
