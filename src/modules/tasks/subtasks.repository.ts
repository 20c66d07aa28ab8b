import { type Kysely, sql } from 'kysely';
import type { Database } from '../../db/schema.js';

/** The SQL of task trees: a task's ancestors and descendants (recursive), moves, locks. */
type Db = Kysely<Database>;

/** The longest parent chain a walk follows: beyond the 5 levels allowed, so a bad row cannot loop. */
const MAX_WALK = 10;

/** A task and its ancestors, nearest first: the task's level is the length (a top-level task: 1). */
export async function ancestry(db: Db, id: string): Promise<{ id: string; project_id: string }[]> {
  const result = await sql<{ id: string; project_id: string; n: number }>`
    with recursive up (id, project_id, parent_id, n) as (
      select id, project_id, parent_id, 1 from tasks where id = ${id}
      union all
      select t.id, t.project_id, t.parent_id, up.n + 1 from tasks t join up on t.id = up.parent_id
      where up.n < ${sql.lit(MAX_WALK)}
    )
    select id, project_id, n from up order by n`.execute(db);
  return result.rows.map(({ id: taskId, project_id }) => ({ id: taskId, project_id }));
}

/** Every descendant of a task, with its assignee and its distance below it (children: 1). */
export async function descendants(
  db: Db,
  id: string,
): Promise<{ id: string; assignee_id: string | null; n: number }[]> {
  const result = await sql<{ id: string; assignee_id: string | null; n: number }>`
    with recursive down (id, assignee_id, n) as (
      select id, assignee_id, 1 from tasks where parent_id = ${id}
      union all
      select t.id, t.assignee_id, down.n + 1 from tasks t join down on t.parent_id = down.id
      where down.n < ${sql.lit(MAX_WALK)}
    )
    select id, assignee_id, n from down`.execute(db);
  return result.rows.map((row) => ({ ...row, n: Number(row.n) }));
}

/** Moves tasks (a moved task's descendants) to another project, each with a new version. */
export async function moveTasks(db: Db, ids: string[], projectId: string, now: string) {
  if (ids.length === 0) return [];
  return db
    .updateTable('tasks')
    .set((eb) => ({ project_id: projectId, version: eb('version', '+', 1), updated_at: now }))
    .where('id', 'in', ids)
    .returningAll()
    .execute();
}

/**
 * Locks projects (PostgreSQL only) until the transaction ends, in id order so two moves never wait
 * on each other: changes of parents within a project queue, so two of them cannot make a cycle.
 * NO KEY UPDATE: tasks created in the project meanwhile (their foreign key) need not wait.
 */
export async function lockProjects(db: Db, ids: string[]): Promise<void> {
  const unique = [...new Set(ids)].sort();
  await db
    .selectFrom('projects')
    .select('projects.id')
    .where('projects.id', 'in', unique)
    .orderBy('projects.id')
    .forNoKeyUpdate()
    .execute();
}
