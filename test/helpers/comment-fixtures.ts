import type { FastifyInstance } from 'fastify';
import { uuidv7 } from 'uuidv7';

/**
 * Tasks in projects, inserted directly into migration 0007's tables, for the comments tests (with
 * the shared project helpers of ./projects.ts).
 */

export { addMember, createProject, setArchived } from './projects.js';

/** A task in a project, made by `ownerId` (and assigned to `assigneeId`, if given). */
export async function createTaskIn(
  app: FastifyInstance,
  projectId: string,
  ownerId: string,
  options: { assigneeId?: string; title?: string } = {},
): Promise<string> {
  const id = uuidv7();
  const now = new Date().toISOString();
  const title = options.title ?? 'Shared task';
  await app.ctx.database.db
    .insertInto('tasks')
    .values({
      id,
      owner_id: ownerId,
      project_id: projectId,
      parent_id: null,
      assignee_id: options.assigneeId ?? null,
      title,
      description: '',
      status: 'todo',
      priority: 2,
      start_at: null,
      due_at: null,
      tags: '[]',
      completed_at: null,
      version: 1,
      search_text: `${title}\n`.toLowerCase(),
      created_at: now,
      updated_at: now,
    })
    .execute();
  return id;
}
