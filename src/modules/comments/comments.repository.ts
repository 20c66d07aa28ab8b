import type { Kysely, Selectable } from 'kysely';
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

/** A task's comments, oldest first (index comments_task_created), from `offset` or after `after`. */
export async function listComments(
  db: Db,
  taskId: string,
  limit: number,
  offset: number,
  after: Position | null = null,
): Promise<CommentRow[]> {
  let query = db.selectFrom('comments').selectAll().where('task_id', '=', taskId);
  if (after) {
    query = query.where((eb) =>
      eb.or([
        eb('created_at', '>', after.at),
        eb.and([eb('created_at', '=', after.at), eb('id', '>', after.id)]),
      ]),
    );
  }
  return query.orderBy('created_at').orderBy('id').limit(limit).offset(offset).execute();
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

/** Whether a comment was there to delete. */
export async function deleteComment(db: Db, id: string): Promise<boolean> {
  const result = await db.deleteFrom('comments').where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
