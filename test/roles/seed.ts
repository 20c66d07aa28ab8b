import type { Kysely } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { Database } from '../../src/db/schema.js';
import type { ProjectRole } from '../../src/lib/principal.js';

/**
 * Rows written straight to the database, so a test of one route depends on no other route. The
 * shapes are migration 0007's; what the services compute (search text, tags) is made here alike.
 */
export type Db = Kysely<Database>;

const now = () => new Date().toISOString();

export async function seedProject(
  db: Db,
  options: {
    ownerId: string;
    members: [string, ProjectRole][];
    name?: string;
    archived?: boolean;
  },
): Promise<string> {
  const id = uuidv7();
  const at = now();
  const name = options.name ?? 'Shared';
  await db
    .insertInto('projects')
    .values({
      id,
      name,
      description: '',
      owner_id: options.ownerId,
      personal: 0,
      archived: options.archived ? 1 : 0,
      search_text: name.toLowerCase(),
      version: 1,
      created_at: at,
      updated_at: at,
    })
    .execute();
  if (options.members.length > 0) {
    await db
      .insertInto('project_members')
      .values(
        options.members.map(([userId, role]) => ({ project_id: id, user_id: userId, role, added_at: at })),
      )
      .execute();
  }
  return id;
}

export interface TaskSeed {
  projectId: string;
  ownerId: string | null;
  assigneeId?: string | null;
  parentId?: string | null;
  title?: string;
  status?: 'todo' | 'in_progress' | 'done';
  dueAt?: string | null;
  tags?: string[];
}

export function taskRow(id: string, seed: TaskSeed, at = now()) {
  const title = seed.title ?? `task ${id}`;
  const status = seed.status ?? 'todo';
  return {
    id,
    owner_id: seed.ownerId,
    project_id: seed.projectId,
    parent_id: seed.parentId ?? null,
    assignee_id: seed.assigneeId ?? null,
    title,
    description: '',
    status,
    priority: 2,
    start_at: null,
    due_at: seed.dueAt ?? null,
    tags: JSON.stringify(seed.tags ?? []),
    completed_at: status === 'done' ? at : null,
    version: 1,
    search_text: `${title}\n`.toLowerCase(),
    created_at: at,
    updated_at: at,
  };
}

export async function seedTask(db: Db, seed: TaskSeed): Promise<string> {
  const id = uuidv7();
  await db.insertInto('tasks').values(taskRow(id, seed)).execute();
  const tags = seed.tags ?? [];
  if (tags.length > 0) {
    await db
      .insertInto('task_tags')
      .values(tags.map((tag) => ({ task_id: id, tag })))
      .execute();
  }
  return id;
}

export async function seedComment(
  db: Db,
  taskId: string,
  authorId: string | null,
  body = 'a comment',
): Promise<string> {
  const id = uuidv7();
  const at = now();
  await db
    .insertInto('comments')
    .values({ id, task_id: taskId, author_id: authorId, body, edited: 0, created_at: at, updated_at: at })
    .execute();
  return id;
}

export async function personalProject(db: Db, userId: string): Promise<string> {
  const row = await db
    .selectFrom('projects')
    .select('id')
    .where('owner_id', '=', userId)
    .where('personal', '=', 1)
    .executeTakeFirstOrThrow();
  return row.id;
}
