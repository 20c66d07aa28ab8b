import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';

/**
 * The change log (contract §8) and webhooks. Events are numbered by `event_log.head`, raised under
 * the row's lock as the last statement of the writing transaction, so numbers are taken in commit
 * order on PostgreSQL too (a sequence is not: see lib/change-log.ts). `tag` tells this database's
 * ids from another's.
 */
// biome-ignore lint/suspicious/noExplicitAny: a migration must not depend on today's schema types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('event_log')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('tag', 'text', (c) => c.notNull())
    // The newest number given to an event (0: none yet).
    .addColumn('head', 'bigint', (c) => c.notNull())
    // Every event up to this number has been removed by the retention job.
    .addColumn('pruned_through', 'bigint', (c) => c.notNull())
    .execute();
  await db
    .insertInto('event_log')
    .values({ id: 1, tag: randomBytes(4).toString('hex'), head: 0, pruned_through: 0 })
    .execute();

  await db.schema
    .createTable('events')
    .addColumn('position', 'bigint', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('occurred_at', 'text', (c) => c.notNull())
    .addColumn('actor_type', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text')
    // No foreign keys: an event outlives its project, task and actor.
    .addColumn('project_id', 'text', (c) => c.notNull())
    .addColumn('subject_type', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    // The task of a task or comment event (a task's activity).
    .addColumn('task_id', 'text')
    .addColumn('changes', 'text')
    .addColumn('data', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('events_project').on('events').columns(['project_id', 'position']).execute();
  await db.schema.createIndex('events_task').on('events').columns(['task_id', 'position']).execute();
  await db.schema.createIndex('events_occurred').on('events').columns(['occurred_at']).execute();

  // Who sees an event besides the members its project has when it is read (contract §8).
  await db.schema
    .createTable('event_viewers')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('position', 'bigint', (c) => c.notNull().references('events.position').onDelete('cascade'))
    .addPrimaryKeyConstraint('event_viewers_pk', ['user_id', 'position'])
    .execute();
  await db.schema.createIndex('event_viewers_position').on('event_viewers').column('position').execute();

  await db.schema
    .createTable('webhooks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('url', 'text', (c) => c.notNull())
    // JSON array of event types, or ["*"]
    .addColumn('events', 'text', (c) => c.notNull())
    // No foreign key: a webhook of a project still receives that project's project.deleted.
    .addColumn('project_id', 'text')
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('active', 'integer', (c) => c.notNull())
    .addColumn('disabled_reason', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('last_delivery_at', 'text')
    // The event head when it was made: it receives the events numbered after it (commit order,
    // not clock time, so an event that commits after the webhook exists is never left out).
    .addColumn('since', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createIndex('webhooks_user_created')
    .on('webhooks')
    .columns(['user_id', 'created_at', 'id'])
    .execute();

  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('webhook_id', 'text', (c) => c.notNull().references('webhooks.id').onDelete('cascade'))
    // The event id as clients see it (a ping's too); `position` is null for a ping.
    .addColumn('event_id', 'text', (c) => c.notNull())
    .addColumn('position', 'bigint')
    .addColumn('type', 'text', (c) => c.notNull())
    // The exact body sent on every attempt.
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('response_status', 'integer')
    .addColumn('duration_ms', 'integer')
    .addColumn('error', 'text')
    .addColumn('response_body', 'text')
    .addColumn('next_attempt_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('webhook_deliveries_webhook_created')
    .on('webhook_deliveries')
    .columns(['webhook_id', 'created_at', 'id'])
    .execute();

  // How far the webhook dispatcher has turned events into deliveries (one row).
  await db.schema
    .createTable('webhook_dispatch')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('through', 'bigint', (c) => c.notNull())
    .execute();
  await db.insertInto('webhook_dispatch').values({ id: 1, through: 0 }).execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('webhook_dispatch').execute();
  await db.schema.dropTable('webhook_deliveries').execute();
  await db.schema.dropTable('webhooks').execute();
  await db.schema.dropTable('event_viewers').execute();
  await db.schema.dropTable('events').execute();
  await db.schema.dropTable('event_log').execute();
}
