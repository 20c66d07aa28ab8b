import { type Kysely, type Selectable, type SqlBool, sql } from 'kysely';
import type { Database } from '../../db/schema.js';
import { toCount } from '../../db/sql.js';
import type { CommentsTable } from '../../db/tables/projects.table.js';

/** All SQL about comments. Every function takes the executor, so the service decides transactions. */
export type Db = Kysely<Database>;
export type CommentRow = Selectable<CommentsTable>;

/** Where a version 2 page of a task's comments resumes: after this (created_at, id). */
export interface Position {
  at: string;
  id: string;
}

export async function insertComment(db: Db, row: CommentRow): Promise<void> {
  await db.insertInto('comments').values(row).execute();
}

export async function findComment(db: Db, id: string): Promise<CommentRow | undefined> {
  return db.selectFrom('comments').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * A task's comments, oldest first, after a position: a seek on comments_task_created (task_id,
 * created_at, id) that reads the rows it returns and no sort, so every page costs the same.
 */
export function commentsQuery(db: Db, taskId: string, after: Position | null) {
  const query = db.selectFrom('comments').selectAll().where('task_id', '=', taskId);
  return (after ? query.where(sql<SqlBool>`(created_at, id) > (${after.at}, ${after.id})`) : query)
    .orderBy('created_at')
    .orderBy('id');
}

/** A task's comments, oldest first, from `offset` (version 1) or after `after` (version 2). */
export async function listComments(
  db: Db,
  taskId: string,
  limit: number,
  offset: number,
  after: Position | null = null,
): Promise<CommentRow[]> {
  return commentsQuery(db, taskId, after).limit(limit).offset(offset).execute();
}

export async function countComments(db: Db, taskId: string): Promise<number> {
  const row = await db
    .selectFrom('comments')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('task_id', '=', taskId)
    .executeTakeFirstOrThrow();
  return toCount(row.n);
}

/** The new body, marked edited; the row as stored after the change (undefined when it is gone). */
export async function updateBody(
  db: Db,
  id: string,
  body: string,
  at: string,
): Promise<CommentRow | undefined> {
  return db
    .updateTable('comments')
    .set({ body, edited: 1, updated_at: at })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/** The comment as it was deleted; undefined when it was not there to delete. */
export async function deleteComment(db: Db, id: string): Promise<CommentRow | undefined> {
  return db.deleteFrom('comments').where('id', '=', id).returningAll().executeTakeFirst();
}

/** A user's comments, with their task's project and assignee. */
export async function commentsOf(db: Db, userId: string) {
  return db
    .selectFrom('comments')
    .innerJoin('tasks as t', 't.id', 'comments.task_id')
    .selectAll('comments')
    .select(['t.project_id', 't.assignee_id'])
    .where('comments.author_id', '=', userId)
    .orderBy('comments.id')
    .execute();
}
