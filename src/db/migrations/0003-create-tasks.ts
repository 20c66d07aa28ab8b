import { type Kysely, PostgresAdapter, sql } from 'kysely';

/**
 * Tasks and their tags, with an index for every list filter and sort (all but `q`): per owner
 * and per assignee for everyone's default list, and global ones for admins.
 */
// biome-ignore lint/suspicious/noExplicitAny: a migration must not depend on today's schema types
export async function up(db: Kysely<any>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  // Titles sort by code point: PostgreSQL's "C" collation is byte order of UTF-8, which is code-point
  // order; SQLite's default BINARY compares UTF-8 bytes too.
  const titleType = postgres ? sql`text collate "C"` : sql`text`;
  await db.schema
    .createTable('tasks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('assignee_id', 'text', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('title', titleType, (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('todo', 'in_progress', 'done')`))
    .addColumn('priority', 'integer', (c) => c.notNull().check(sql`priority between 1 and 3`))
    .addColumn('start_at', 'text')
    .addColumn('due_at', 'text')
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('completed_at', 'text')
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('search_text', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('task_tags')
    .addColumn('task_id', 'text', (c) => c.notNull().references('tasks.id').onDelete('cascade'))
    .addColumn('tag', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('task_tags_pk', ['task_id', 'tag'])
    .execute();
  await db.schema.createIndex('task_tags_tag').on('task_tags').columns(['tag', 'task_id']).execute();

  const index = (name: string, columns: string) =>
    sql`create index ${sql.raw(name)} on tasks (${sql.raw(columns)})`.execute(db);
  // A user's default list: owned ∪ assigned, each branch walks its own index in sort order.
  await index('tasks_owner_created', 'owner_id, created_at, id');
  await index('tasks_assignee_created', 'assignee_id, created_at, id');
  // Admins' lists: one index per sort key; tasks without dueAt sort last in both directions.
  await index('tasks_created', 'created_at, id');
  await index('tasks_updated', 'updated_at, id');
  await index('tasks_due_sort', '(due_at is null), due_at, id');
  // -dueAt (dated first, latest first, undated last) is this index read backwards.
  await index('tasks_due_sort_desc', '(due_at is not null), due_at, id');
  await index('tasks_priority', 'priority, id');
  await index('tasks_title', 'title, id');
  // Filters on their own.
  await index('tasks_due', 'due_at');
  await index('tasks_status', 'status, created_at, id');
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('task_tags').execute();
  await db.schema.dropTable('tasks').execute();
}
