import { type Kysely, sql } from 'kysely';

/**
 * A project's tasks in every list order (0007 gave created_at only), so a user's list, a merge of
 * one ordered read per member project (tasks.repository.ts), reads each project in order from an
 * index at any sort, instead of sorting all of the user's tasks in memory.
 */
const INDEXES: [string, string][] = [
  ['tasks_project_updated', 'project_id, updated_at, id'],
  ['tasks_project_due_sort', 'project_id, (due_at is null), due_at, id'],
  ['tasks_project_due_sort_desc', 'project_id, (due_at is not null), due_at, id'],
  ['tasks_project_priority', 'project_id, priority, id'],
  ['tasks_project_title', 'project_id, title, id'],
];

// biome-ignore lint/suspicious/noExplicitAny: a migration must not depend on today's schema types
export async function up(db: Kysely<any>): Promise<void> {
  for (const [name, columns] of INDEXES) {
    await sql`create index ${sql.raw(name)} on tasks (${sql.raw(columns)})`.execute(db);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: as above
export async function down(db: Kysely<any>): Promise<void> {
  for (const [name] of INDEXES) await sql`drop index ${sql.raw(name)}`.execute(db);
}
