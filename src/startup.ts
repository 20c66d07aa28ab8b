import type { FastifyInstance } from 'fastify';
import { describeDatabase } from './db/target.js';
import { serviceVersion } from './lib/package-info.js';

/** What a person starting the service needs first, when no admin exists yet. */
export const NO_ADMIN_HINT =
  'no admin account yet: set ADMIN_EMAIL and ADMIN_PASSWORD and restart (the admin is created at start-up), ' +
  'or run: ADMIN_PASSWORD=<password> npm run create-admin -- <email> [name]';

/**
 * The start-up log: the configuration warnings, where the docs are, which database is open, and
 * whether an admin exists (and how to create one when none does).
 */
export async function logStartup(app: FastifyInstance, warnings: readonly string[]): Promise<void> {
  for (const warning of warnings) app.log.warn(warning);
  const { publicUrl } = app.config;
  const docs = `${publicUrl}/docs`;
  app.log.info(
    { version: serviceVersion(), docs },
    `Taskforge ${serviceVersion()} at ${publicUrl}; API docs at ${docs}`,
  );
  const database = describeDatabase(app.config.database);
  app.log.info({ database }, `database: ${database}`);
  let adminExists: boolean;
  try {
    adminExists = await app.ctx.services.users.enabledAdminExists();
  } catch {
    // A schema behind the code has no users table yet; readiness already says so.
    app.log.warn('cannot tell whether an admin exists before the schema is migrated (npm run migrate)');
    return;
  }
  if (adminExists) app.log.info('an enabled admin account exists');
  else app.log.warn(NO_ADMIN_HINT);
}
