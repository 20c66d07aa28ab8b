import pino from 'pino';
import { ConfigError, loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrator.js';
import { normalizeEmail } from '../lib/email.js';
import { readEnvironment } from '../lib/environment.js';
import { PASSWORD_MAX, PASSWORD_MIN, passwordLength, weakPasswordReason } from '../lib/password-policy.js';
import { PasswordHasher } from '../lib/passwords.js';
import { createRedis } from '../lib/redis.js';
import { AuthStateCache } from '../modules/auth/auth-state.js';
import { authStateLoaders } from '../modules/auth/auth-state.loaders.js';
import { UsersService } from '../modules/users/users.service.js';

/**
 * `npm run create-admin -- <email> [name]`, with the password in ADMIN_PASSWORD (kept out of the
 * shell history and the process list). Creates the admin, or promotes an existing account.
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
  const log = pino({ level: 'warn' });
  const database = openDatabase(config.database, { busyTimeoutMs: 60_000 });
  const redis = config.redisUrl ? createRedis(config.redisUrl, log) : null;
  try {
    await migrateToLatest(database);
    const authState = new AuthStateCache(authStateLoaders(database.db), redis, log);
    const users = new UsersService(database, new PasswordHasher(), authState);
    const existing = await database.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', normalizeEmail(email))
      .executeTakeFirst();
    if (existing) {
      await users.update(existing.id, { role: 'admin', disabled: false });
      process.stdout.write(`promoted ${email.toLowerCase()} to admin\n`);
    } else {
      await users.create({ email, password, name, role: 'admin' });
      process.stdout.write(`created admin ${email.toLowerCase()}\n`);
    }
    return 0;
  } catch (error) {
    process.stderr.write(`create-admin failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    redis?.disconnect();
    await database.close();
  }
}

main().then((code) => {
  process.exitCode = code;
});
