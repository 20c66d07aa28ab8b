import { type Kysely, PostgresAdapter, sql } from 'kysely';
import { uuidv7 } from 'uuidv7';

/**
 * Projects, their members and task comments (contract §7). Every task gains a project and an
 * optional parent; every user gets its personal project ("Inbox"), and the tasks that existed
 * before move to their owner's, keeping their assignee. A task's owner (its creator) becomes
 * nullable: in shared projects a deleted user's tasks stay. SQLite cannot change a column's
 * constraints, so there the tasks table is rebuilt (its tags are kept aside: dropping the old table
 * cascades to them).
 */

// biome-ignore lint/suspicious/noExplicitAny: a migration must not depend on today's schema types
type Db = Kysely<any>;

const TASK_COLUMNS =
  'id, owner_id, assignee_id, title, description, status, priority, start_at, due_at, tags, completed_at, version, search_text, created_at, updated_at';

/** The indexes of migration 0003, which SQLite's rebuild must make again. */
const TASK_INDEXES_0003: [string, string][] = [
  ['tasks_owner_created', 'owner_id, created_at, id'],
  ['tasks_assignee_created', 'assignee_id, created_at, id'],
  ['tasks_created', 'created_at, id'],
  ['tasks_updated', 'updated_at, id'],
  ['tasks_due_sort', '(due_at is null), due_at, id'],
  ['tasks_due_sort_desc', '(due_at is not null), due_at, id'],
  ['tasks_priority', 'priority, id'],
  ['tasks_title', 'title, id'],
  ['tasks_due', 'due_at'],
  ['tasks_status', 'status, created_at, id'],
];

/** What this migration adds: a project's tasks in list order, and a task's subtasks. */
const TASK_INDEXES_0007: [string, string][] = [
  ['tasks_project_created', 'project_id, created_at, id'],
  ['tasks_parent_created', 'parent_id, created_at, id'],
];

function isPostgres(db: Db): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

async function createIndexes(db: Db, indexes: [string, string][]): Promise<void> {
  for (const [name, columns] of indexes) {
    await sql`create index ${sql.raw(name)} on tasks (${sql.raw(columns)})`.execute(db);
  }
}

/** The SQLite tasks table, with `owner` as its owner column's definition and the project columns or not. */
function sqliteTasksTable(name: string, withProjects: boolean) {
  const owner = withProjects
    ? 'owner_id text references users(id) on delete set null'
    : 'owner_id text not null references users(id) on delete cascade';
  const projects = withProjects
    ? `project_id text not null references projects(id) on delete cascade,
       parent_id text references tasks(id) on delete cascade,`
    : '';
  return sql.raw(`create table ${name} (
    id text primary key,
    ${owner},
    ${projects}
    assignee_id text references users(id) on delete set null,
    title text not null,
    description text not null,
    status text not null check (status in ('todo', 'in_progress', 'done')),
    priority integer not null check (priority between 1 and 3),
    start_at text,
    due_at text,
    tags text not null,
    completed_at text,
    version integer not null,
    search_text text not null,
    created_at text not null,
    updated_at text not null
  )`);
}

/** Rebuilds SQLite's tasks table from `select` (which must list the new table's columns). */
async function rebuildSqliteTasks(db: Db, withProjects: boolean, columns: string, select: string) {
  await sql`create table task_tags_kept as select task_id, tag from task_tags`.execute(db);
  await sqliteTasksTable('tasks_new', withProjects).execute(db);
  await sql.raw(`insert into tasks_new (${columns}) ${select}`).execute(db);
  await sql`drop table tasks`.execute(db);
  await sql`alter table tasks_new rename to tasks`.execute(db);
  await sql`insert into task_tags (task_id, tag) select task_id, tag from task_tags_kept where task_id in (select id from tasks)`.execute(
    db,
  );
  await sql`drop table task_tags_kept`.execute(db);
  await createIndexes(db, withProjects ? [...TASK_INDEXES_0003, ...TASK_INDEXES_0007] : TASK_INDEXES_0003);
}

export async function up(db: Db): Promise<void> {
  const postgres = isPostgres(db);
  await db.schema
    .createTable('projects')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'text', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('personal', 'integer', (c) => c.notNull().check(sql`personal in (0, 1)`))
    .addColumn('archived', 'integer', (c) => c.notNull().check(sql`archived in (0, 1)`))
    .addColumn('search_text', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  // One personal project per user; every project newest first (admins' list).
  await sql`create unique index projects_personal on projects (owner_id) where personal = 1`.execute(db);
  await sql`create index projects_created on projects (created_at, id)`.execute(db);

  await db.schema
    .createTable('project_members')
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) =>
      c.notNull().check(sql`role in ('owner', 'editor', 'commenter', 'viewer')`),
    )
    .addColumn('added_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('project_members_pk', ['project_id', 'user_id'])
    .execute();
  // A user's projects (every visibility check and list starts here); a project's members, oldest first.
  await sql`create index project_members_user on project_members (user_id, project_id, role)`.execute(db);
  await sql`create index project_members_added on project_members (project_id, added_at, user_id)`.execute(
    db,
  );

  // Every existing user gets its personal project, of which it is the one member.
  const users = await db.selectFrom('users').select(['id', 'created_at']).orderBy('id').execute();
  const now = new Date().toISOString();
  for (let i = 0; i < users.length; i += 200) {
    const batch = users.slice(i, i + 200).map((u: { id: string; created_at: string }) => ({
      user: u.id,
      project: uuidv7(),
      at: u.created_at ?? now,
    }));
    await db
      .insertInto('projects')
      .values(
        batch.map((b) => ({
          id: b.project,
          name: 'Inbox',
          description: '',
          owner_id: b.user,
          personal: 1,
          archived: 0,
          search_text: 'inbox',
          version: 1,
          created_at: b.at,
          updated_at: b.at,
        })),
      )
      .execute();
    await db
      .insertInto('project_members')
      .values(batch.map((b) => ({ project_id: b.project, user_id: b.user, role: 'owner', added_at: b.at })))
      .execute();
  }

  await db.schema
    .createTable('comments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('task_id', 'text', (c) => c.notNull().references('tasks.id').onDelete('cascade'))
    .addColumn('author_id', 'text', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('edited', 'integer', (c) => c.notNull().check(sql`edited in (0, 1)`))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await sql`create index comments_task_created on comments (task_id, created_at, id)`.execute(db);
  await sql`create index comments_author on comments (author_id)`.execute(db);

  const personalOf = '(select p.id from projects p where p.owner_id = tasks.owner_id and p.personal = 1)';
  if (postgres) {
    await sql`alter table tasks add column project_id text references projects(id) on delete cascade`.execute(
      db,
    );
    await sql`alter table tasks add column parent_id text references tasks(id) on delete cascade`.execute(db);
    await sql.raw(`update tasks set project_id = ${personalOf}`).execute(db);
    await sql`alter table tasks alter column project_id set not null`.execute(db);
    await sql`alter table tasks alter column owner_id drop not null`.execute(db);
    await sql`alter table tasks drop constraint tasks_owner_id_fkey`.execute(db);
    await sql`alter table tasks add constraint tasks_owner_id_fkey foreign key (owner_id) references users(id) on delete set null`.execute(
      db,
    );
    await createIndexes(db, TASK_INDEXES_0007);
  } else {
    await rebuildSqliteTasks(
      db,
      true,
      `${TASK_COLUMNS}, project_id, parent_id`,
      `select ${TASK_COLUMNS}, ${personalOf.replaceAll('tasks.', 'old.')}, null from tasks old`,
    );
  }
}

/**
 * Back to tasks owned by users: every project, membership and comment goes, and so do the tasks
 * no user owns any more (those of deleted users in shared projects).
 */
export async function down(db: Db): Promise<void> {
  await db.deleteFrom('tasks').where('owner_id', 'is', null).execute();
  if (isPostgres(db)) {
    await sql`alter table tasks drop constraint tasks_owner_id_fkey`.execute(db);
    await sql`alter table tasks add constraint tasks_owner_id_fkey foreign key (owner_id) references users(id) on delete cascade`.execute(
      db,
    );
    await sql`alter table tasks alter column owner_id set not null`.execute(db);
    await sql`alter table tasks drop column parent_id`.execute(db);
    await sql`alter table tasks drop column project_id`.execute(db);
  } else {
    await rebuildSqliteTasks(db, false, TASK_COLUMNS, `select ${TASK_COLUMNS} from tasks`);
  }
  await db.schema.dropTable('comments').execute();
  await db.schema.dropTable('project_members').execute();
  await db.schema.dropTable('projects').execute();
}
