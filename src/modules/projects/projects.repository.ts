import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { ProjectsTable } from '../../db/tables/projects.table.js';
import type { ProjectRole } from '../../lib/principal.js';

/** All SQL about projects and their members. Every function takes the executor. */
export type Db = Kysely<Database>;
export type ProjectRow = Selectable<ProjectsTable>;

export function projectSearchText(name: string): string {
  return name.toLowerCase();
}

export async function insertProject(db: Db, row: Omit<ProjectRow, 'search_text'>): Promise<void> {
  await db
    .insertInto('projects')
    .values({ ...row, search_text: projectSearchText(row.name) })
    .execute();
}

export async function insertMember(
  db: Db,
  member: { project_id: string; user_id: string; role: ProjectRole; added_at: string },
): Promise<void> {
  await db.insertInto('project_members').values(member).execute();
}

/** The personal project of a user (every user has one). */
export async function findPersonalProject(db: Db, userId: string): Promise<ProjectRow | undefined> {
  return db
    .selectFrom('projects')
    .selectAll()
    .where('owner_id', '=', userId)
    .where('personal', '=', 1)
    .executeTakeFirst();
}

/** A project and the stored role of one user in it (null when it is not a member). */
export async function findProjectFor(
  db: Db,
  projectId: string,
  userId: string,
  lock = false,
): Promise<(ProjectRow & { member_role: ProjectRole | null }) | undefined> {
  const query = db
    .selectFrom('projects')
    .leftJoin('project_members as pm', (join) =>
      join.onRef('pm.project_id', '=', 'projects.id').on('pm.user_id', '=', userId),
    )
    .selectAll('projects')
    .select('pm.role as member_role')
    .where('projects.id', '=', projectId);
  return (lock ? query.forUpdate('projects') : query).executeTakeFirst();
}

/** A deleted user's personal project goes with it, and its tasks by foreign key. */
export async function deletePersonalProject(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('projects').where('owner_id', '=', userId).where('personal', '=', 1).execute();
}
