import pino from 'pino';
import { createContext } from '../app.js';
import { ConfigError, loadConfig } from '../config.js';
import { type DatabaseHandle, openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrator.js';
import { readEnvironment } from '../lib/environment.js';
import { PASSWORD_MAX, PASSWORD_MIN, passwordLength, weakPasswordReason } from '../lib/password-policy.js';
import { createRedis, whenReady } from '../lib/redis.js';
import { describeAdminInstall } from '../modules/users/index.js';

/**
 * `npm run create-admin -- <email> [name]`, with the password in ADMIN_PASSWORD (kept out of the
 * shell history and the process list). Creates the admin, or takes an existing account over:
 * it becomes an enabled admin with that password and its sessions and API keys end.
 */
async function main(): Promise<number> {
  const [email, name = 'Administrator'] = process.argv.slice(2);
  const password = process.env.ADMIN_PASSWORD;
  if (!email || !password) {
    process.stderr.write('usage: ADMIN_PASSWORD=… npm run create-admin -- <email> [name]\n');
    return 2;
  }
  const length = passwordLength(password);
  const weak = weakPasswordReason(password, email);
  if (length < PASSWORD_MIN || length > PASSWORD_MAX || weak) {
    process.stderr.write(
      `ADMIN_PASSWORD ${weak ?? `must have ${PASSWORD_MIN}–${PASSWORD_MAX} characters`}\n`,
    );
    return 1;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    const env = readEnvironment();
    // The bootstrap variables are this command's input, not a start-up setting.
    config = loadConfig({ ...env, ADMIN_EMAIL: undefined, ADMIN_PASSWORD: undefined });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  // Problems are reported below in one line each; the library's own warnings would repeat them.
  const log = pino({ level: 'error' }, pino.destination(2));
  const redis = config.redisUrl ? createRedis(config.redisUrl, log) : null;
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
        process.stderr.write(
          `create-admin: cannot reach REDIS_URL (${unreachable}): running instances would not hear of the change; nothing was changed\n`,
        );
        return 1;
      }
    }
    database = openDatabase(config.database, { busyTimeoutMs: 60_000 });
    await migrateToLatest(database);
    // The app's own context: the same services, and the invalidations they publish over Redis.
    const { ctx } = createContext(config, { log, database, redis });
    const { outcome, user } = await ctx.services.users.installAdmin(email, password, name);
    process.stdout.write(`${describeAdminInstall(outcome, user.email)}\n`);
    if (!(await ctx.services.authState.published())) {
      process.stderr.write(
        'create-admin: the change is saved, but running instances could not be told over REDIS_URL: restart them\n',
      );
      return 1;
    }
    return 0;
  } catch (error) {
    process.stderr.write(`create-admin failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    redis?.disconnect();
    await database?.close();
  }
}

main().then((code) => {
  process.exitCode = code;
});
