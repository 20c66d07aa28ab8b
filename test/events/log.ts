import type { FastifyInstance } from 'fastify';

/** The change log as the tests read it: events after a number, each with its viewer rows. */

export interface Recorded {
  position: number;
  type: string;
  at: string;
  actor: { type: string; id: string | null };
  projectId: string;
  subject: { type: string; id: string };
  taskId: string | null;
  changes: Record<string, { from: unknown; to: unknown }> | null;
  data: Record<string, unknown>;
  viewers: string[];
}

export async function headOf(app: FastifyInstance): Promise<number> {
  return (await app.ctx.services.events.state()).head;
}

export async function eventsAfter(app: FastifyInstance, after: number): Promise<Recorded[]> {
  const db = app.ctx.database.db;
  const rows = await db
    .selectFrom('events')
    .selectAll()
    .where('position', '>', after)
    .orderBy('position')
    .execute();
  const viewers = await db
    .selectFrom('event_viewers')
    .selectAll()
    .where('position', '>', after)
    .orderBy('user_id')
    .execute();
  return rows.map((row) => ({
    position: Number(row.position),
    type: row.type,
    at: row.occurred_at,
    actor: { type: row.actor_type, id: row.actor_id },
    projectId: row.project_id,
    subject: { type: row.subject_type, id: row.subject_id },
    taskId: row.task_id,
    changes: row.changes === null ? null : JSON.parse(row.changes),
    data: JSON.parse(row.data),
    viewers: viewers.filter((v) => Number(v.position) === Number(row.position)).map((v) => v.user_id),
  }));
}

/** Runs `write` and returns the events it recorded. */
export async function recordedBy(app: FastifyInstance, write: () => Promise<unknown>): Promise<Recorded[]> {
  const before = await headOf(app);
  await write();
  return eventsAfter(app, before);
}
