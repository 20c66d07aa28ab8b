import type { Kysely } from 'kysely';

/**
 * The archived projects, by an index: a count or stats over every visible task excludes their
 * tasks with one read of the few archived projects (NOT IN), not one lookup per task and not a
 * scan of every project (tasks.repository.ts, `whole`).
 */
// biome-ignore lint/suspicious/noExplicitAny: a migration must not depend on today's schema types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('projects_archived').on('projects').columns(['archived', 'id']).execute();
}

// biome-ignore lint/suspicious/noExplicitAny: as above
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('projects_archived').execute();
}
