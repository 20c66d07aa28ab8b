import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * The background job queue's storage (src/jobs/). SQLite: our own `jobs` table, claimed by the
 * in-process poller. PostgreSQL: pg-boss's tables, functions and type, installed here (not by
 * pg-boss at start-up) so that they follow the migration's schema (the search path) and are
 * created under the migrator's lock, in its transaction, with the rest of the schema.
 */

/** pg-boss wraps its plan in its own transaction; inside the migrator's one it must not commit. */
function withoutOwnTransaction(plan: string): string {
  const inner = plan.replace(/^\s*BEGIN;/, '').replace(/COMMIT;\s*$/, '');
  if (inner === plan || /^\s*(BEGIN|COMMIT);/m.test(inner)) {
    throw new Error(
      'pg-boss construction plan changed shape: check 0004-create-jobs before upgrading pg-boss',
    );
  }
  return inner;
}

/** The schema pg-boss names in its SQL, unquoted: it must be a plain identifier. */
async function currentSchema(
  // biome-ignore lint/suspicious/noExplicitAny: a migration must not depend on today's schema types
  db: Kysely<any>,
): Promise<string> {
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  const schema = rows[0]?.schema ?? '';
  if (!/^[a-z_][a-z0-9_]*$/.test(schema))
    throw new Error(`the job queue needs a plain schema name, got "${schema}"`);
  return schema;
}

// biome-ignore lint/suspicious/noExplicitAny: a migration must not depend on today's schema types
export async function up(db: Kysely<any>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    const schema = await currentSchema(db);
    // Loaded here only: SQLite's migrations (and the migrate CLI's start-up) need none of it.
    const { default: PgBoss } = await import('pg-boss');
    await sql.raw(withoutOwnTransaction(PgBoss.getConstructionPlans(schema))).execute(db);
    return;
  }
  await db.schema
    .createTable('jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    // queued · running · dead (a finished job is deleted)
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('max_attempts', 'integer', (c) => c.notNull())
    // Milliseconds since the epoch: when it may run next, and until when a running claim holds.
    .addColumn('run_at', 'integer', (c) => c.notNull())
    .addColumn('locked_by', 'text')
    .addColumn('locked_until', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  // The poller's one question: the next due job (and expired claims).
  await db.schema.createIndex('jobs_due').on('jobs').columns(['state', 'run_at']).execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    const schema = await currentSchema(db);
    // Dropping the partitioned job table drops every queue's partition with it.
    await sql
      .raw(
        `drop table ${schema}.archive, ${schema}.job, ${schema}.subscription, ${schema}.schedule, ${schema}.queue, ${schema}.version;
         drop function ${schema}.create_queue(text, json), ${schema}.delete_queue(text);
         drop type ${schema}.job_state`,
      )
      .execute(db);
    return;
  }
  await db.schema.dropTable('jobs').execute();
}
