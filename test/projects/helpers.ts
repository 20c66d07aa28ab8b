import type { FastifyInstance } from 'fastify';
import type { Headers } from '../helpers/api.js';

/** Projects through the API, for the tests of test/projects. */

export interface ProjectReply {
  id: string;
  name: string;
  description: string;
  ownerId: string | null;
  personal: boolean;
  archived: boolean;
  role: string;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export async function createProject(
  app: FastifyInstance,
  headers: Headers,
  body: { name?: string; description?: string } = {},
): Promise<ProjectReply> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/projects',
    headers,
    payload: { name: 'Shared', ...body },
  });
  if (res.statusCode !== 201) throw new Error(`creating a project failed: ${res.statusCode} ${res.body}`);
  return res.json() as ProjectReply;
}

export async function addMember(
  app: FastifyInstance,
  headers: Headers,
  projectId: string,
  email: string,
  role: string,
): Promise<void> {
  const res = await app.inject({
    method: 'POST',
    url: `/api/v1/projects/${projectId}/members`,
    headers,
    payload: { email, role },
  });
  if (res.statusCode !== 201) throw new Error(`adding a member failed: ${res.statusCode} ${res.body}`);
}

/**
 * A task of `headers`' caller in a project. Made through the API (in the caller's Inbox), then
 * moved by SQL: these tests are about projects, not about the task routes' projectId.
 */
export async function taskIn(
  app: FastifyInstance,
  headers: Headers,
  projectId: string,
  body: { title?: string; assigneeId?: string | null } = {},
): Promise<{ id: string; version: number; updatedAt: string }> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/tasks',
    headers,
    payload: { title: 'In a project', ...body },
  });
  if (res.statusCode !== 201) throw new Error(`creating a task failed: ${res.statusCode} ${res.body}`);
  const task = res.json() as { id: string; version: number; updatedAt: string };
  await app.ctx.database.db
    .updateTable('tasks')
    .set({ project_id: projectId })
    .where('id', '=', task.id)
    .execute();
  return task;
}

/** A task's stored state, read past every route (the tests check what a change left behind). */
export async function storedTask(app: FastifyInstance, id: string) {
  return app.ctx.database.db
    .selectFrom('tasks')
    .select(['id', 'owner_id', 'assignee_id', 'project_id', 'version', 'updated_at'])
    .where('id', '=', id)
    .executeTakeFirst();
}
