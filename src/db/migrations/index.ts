import type { Migration } from 'kysely';
import * as createUsers from './0001-create-users.js';
import * as createSessions from './0002-create-sessions.js';
import * as createTasks from './0003-create-tasks.js';
import * as createJobs from './0004-create-jobs.js';
import * as createPasswordResets from './0005-create-password-resets.js';
import * as createApiKeys from './0006-create-api-keys.js';
import * as createProjects from './0007-create-projects.js';
import * as createEvents from './0008-create-events.js';
import * as createIdempotencyKeys from './0009-create-idempotency-keys.js';
import * as scaleIndexes from './0010-scale-indexes.js';
import * as projectsArchivedIndex from './0011-projects-archived-index.js';
import * as dueBuckets from './0012-due-buckets.js';

/** Every migration, in order. Names are frozen once released: they are the keys in kysely_migration. */
export const migrations: Record<string, Migration> = {
  '0001-create-users': createUsers,
  '0002-create-sessions': createSessions,
  '0003-create-tasks': createTasks,
  '0004-create-jobs': createJobs,
  '0005-create-password-resets': createPasswordResets,
  '0006-create-api-keys': createApiKeys,
  '0007-create-projects': createProjects,
  '0008-create-events': createEvents,
  '0009-create-idempotency-keys': createIdempotencyKeys,
  '0010-scale-indexes': scaleIndexes,
  '0011-projects-archived-index': projectsArchivedIndex,
  '0012-due-buckets': dueBuckets,
};
