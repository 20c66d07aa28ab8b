import type { FastifyInstance } from 'fastify';
import { uuidv7 } from 'uuidv7';
import type { ProjectRole } from '../../src/lib/principal.js';

/**
 * Projects, members and tasks in them, inserted directly into migration 0007's tables, for the
 * comments tests while the projects routes (and task writes with projectId) are built alongside.
 */

function db(app: FastifyInstance) {
  return app.ctx.database.db;
}

/** A shared project with `ownerId` as its owner member. */
export async function createProject(
  app: FastifyInstance,
  ownerId: string,
  options: { archived?: boolean; name?: string } = {},
): Promise<string> {
  const id = uuidv7();
  const now = new Date().toISOString();
  const name = options.name ?? 'Shared';
  await db(app)
    .insertInto('projects')
    .values({
      id,
      name,
      description: '',
      owner_id: ownerId,
      personal: 0,
      archived: options.archived ? 1 : 0,
      search_text: name.toLowerCase(),
      version: 1,
      created_at: now,
      updated_at: now,
    })
    .execute();
  await addMember(app, id, ownerId, 'owner');
  return id;
}

export async function addMember(
  app: FastifyInstance,
  projectId: string,
  userId: string,
  role: ProjectRole,
): Promise<void> {
  await db(app)
    .insertInto('project_members')
    .values({ project_id: projectId, user_id: userId, role, added_at: new Date().toISOString() })
    .execute();
}

export async function setArchived(app: FastifyInstance, projectId: string, archived: boolean): Promise<void> {
  await db(app)
    .updateTable('projects')
    .set({ archived: archived ? 1 : 0 })
    .where('id', '=', projectId)
    .execute();
}

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
  await db(app)
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
