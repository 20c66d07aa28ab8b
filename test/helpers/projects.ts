import type { FastifyInstance } from 'fastify';
import { uuidv7 } from 'uuidv7';
import type { ProjectRole } from '../../src/lib/principal.js';

/**
 * Shared projects and their members, written straight into the tables of migration 0007 (for the
 * task tests, which need projects whatever the projects routes do).
 */

/** A shared project whose owner member is `ownerId`; its id. */
export async function createProject(
  app: FastifyInstance,
  ownerId: string,
  { name = 'Project', archived = false }: { name?: string; archived?: boolean } = {},
): Promise<string> {
  const db = app.ctx.database.db;
  const id = uuidv7();
  const at = new Date().toISOString();
  await db
    .insertInto('projects')
    .values({
      id,
      name,
      description: '',
      owner_id: ownerId,
      personal: 0,
      archived: archived ? 1 : 0,
      search_text: name.toLowerCase(),
      version: 1,
      created_at: at,
      updated_at: at,
    })
    .execute();
  await addMember(app, id, ownerId, 'owner');
  return id;
}

/** Makes `userId` a member of the project with the (stored) role. */
export async function addMember(
  app: FastifyInstance,
  projectId: string,
  userId: string,
  role: ProjectRole,
): Promise<void> {
  await app.ctx.database.db
    .insertInto('project_members')
    .values({ project_id: projectId, user_id: userId, role, added_at: new Date().toISOString() })
    .execute();
}

/** Removes a membership (without what the projects service does besides). */
export async function removeMember(app: FastifyInstance, projectId: string, userId: string): Promise<void> {
  await app.ctx.database.db
    .deleteFrom('project_members')
    .where('project_id', '=', projectId)
    .where('user_id', '=', userId)
    .execute();
}

/** Archives or unarchives a project. */
export async function setArchived(app: FastifyInstance, projectId: string, archived: boolean): Promise<void> {
  await app.ctx.database.db
    .updateTable('projects')
    .set({ archived: archived ? 1 : 0 })
    .where('id', '=', projectId)
    .execute();
}
