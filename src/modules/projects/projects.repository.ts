import { type Kysely, type Selectable, type SqlBool, sql, type Updateable } from 'kysely';
import type { Database } from '../../db/schema.js';
import { likeContains, toCount } from '../../db/sql.js';
import type { ProjectsTable } from '../../db/tables/projects.table.js';
import type { ProjectRole, Role } from '../../lib/principal.js';

/** All SQL about projects and their members. Every function takes the executor. */
export type Db = Kysely<Database>;
export type ProjectRow = Selectable<ProjectsTable>;
export type ProjectChanges = Pick<
  Updateable<ProjectsTable>,
  'name' | 'description' | 'archived' | 'search_text' | 'updated_at'
>;

/** The position after which a keyset page starts: (created_at or added_at, id). */
export interface Position {
  v: string;
  id: string;
}

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

/** Whose projects a list covers: every project (admins) or those one user is a member of. */
export type Visibility = { all: true; userId: string } | { all: false; userId: string };
export interface ProjectFilter {
  archived?: boolean;
  /** lower-cased */
  q?: string;
}

function projectQuery(db: Db, visibility: Visibility, filter: ProjectFilter) {
  const { userId } = visibility;
  const joined = db.selectFrom('projects');
  let query = visibility.all
    ? joined.leftJoin('project_members as pm', (join) =>
        join.onRef('pm.project_id', '=', 'projects.id').on('pm.user_id', '=', userId),
      )
    : joined.innerJoin('project_members as pm', (join) =>
        join.onRef('pm.project_id', '=', 'projects.id').on('pm.user_id', '=', userId),
      );
  if (filter.archived !== undefined) query = query.where('projects.archived', '=', filter.archived ? 1 : 0);
  if (filter.q !== undefined) {
    query = query.where(sql<SqlBool>`projects.search_text like ${likeContains(filter.q)} escape '\\'`);
  }
  return query;
}

/** Newest first (created_at desc, id desc); keyset after `after` when given. */
export async function listProjects(
  db: Db,
  visibility: Visibility,
  filter: ProjectFilter,
  limit: number,
  offset: number,
  after: Position | null = null,
): Promise<(ProjectRow & { member_role: ProjectRole | null })[]> {
  let query = projectQuery(db, visibility, filter).selectAll('projects').select('pm.role as member_role');
  if (after) {
    query = query.where(sql<SqlBool>`(projects.created_at, projects.id) < (${after.v}, ${after.id})`);
  }
  return query
    .orderBy('projects.created_at', 'desc')
    .orderBy('projects.id', 'desc')
    .limit(limit)
    .offset(offset)
    .execute();
}

export async function countProjects(db: Db, visibility: Visibility, filter: ProjectFilter): Promise<number> {
  const row = await projectQuery(db, visibility, filter)
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirst();
  return toCount(row?.n);
}

/** Writes the changes when the project is still at `version`; the new row, or undefined. */
export async function updateProjectIfVersion(
  db: Db,
  id: string,
  version: number,
  changes: ProjectChanges,
): Promise<ProjectRow | undefined> {
  return db
    .updateTable('projects')
    .set({ ...changes, version: version + 1 })
    .where('id', '=', id)
    .where('version', '=', version)
    .returningAll()
    .executeTakeFirst();
}

/** Deletes a project (at `version` when given); its tasks, comments and members go by foreign key. */
export async function deleteProject(db: Db, id: string, version: number | null): Promise<boolean> {
  let query = db.deleteFrom('projects').where('id', '=', id);
  if (version !== null) query = query.where('version', '=', version);
  const result = await query.executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** A membership, with the member's account (for its name, email and current global role). */
export interface MemberRow {
  user_id: string;
  name: string;
  email: string;
  role: ProjectRole;
  user_role: Role;
  added_at: string;
}

function memberQuery(db: Db, projectId: string) {
  return db
    .selectFrom('project_members as pm')
    .innerJoin('users as u', 'u.id', 'pm.user_id')
    .select(['pm.user_id', 'u.name', 'u.email', 'pm.role', 'u.role as user_role', 'pm.added_at'])
    .where('pm.project_id', '=', projectId);
}

/** Oldest first (added_at, user_id); keyset after `after` when given. */
export async function listMembers(
  db: Db,
  projectId: string,
  limit: number,
  offset: number,
  after: Position | null = null,
): Promise<MemberRow[]> {
  let query = memberQuery(db, projectId);
  if (after) query = query.where(sql<SqlBool>`(pm.added_at, pm.user_id) > (${after.v}, ${after.id})`);
  return query.orderBy('pm.added_at').orderBy('pm.user_id').limit(limit).offset(offset).execute();
}

export async function countMembers(db: Db, projectId: string): Promise<number> {
  const row = await db
    .selectFrom('project_members')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('project_id', '=', projectId)
    .executeTakeFirst();
  return toCount(row?.n);
}

export async function findMember(db: Db, projectId: string, userId: string): Promise<MemberRow | undefined> {
  return memberQuery(db, projectId).where('pm.user_id', '=', userId).executeTakeFirst();
}

/** The account of an (already normalised) email: what adding a member needs of it. */
export async function findUserByEmail(
  db: Db,
  email: string,
): Promise<{ id: string; name: string; email: string; role: Role } | undefined> {
  return db
    .selectFrom('users')
    .select(['id', 'name', 'email', 'role'])
    .where('email', '=', email)
    .executeTakeFirst();
}

export async function updateMemberRole(
  db: Db,
  projectId: string,
  userId: string,
  role: ProjectRole,
): Promise<void> {
  await db
    .updateTable('project_members')
    .set({ role })
    .where('project_id', '=', projectId)
    .where('user_id', '=', userId)
    .execute();
}

export async function deleteMember(db: Db, projectId: string, userId: string): Promise<boolean> {
  const result = await db
    .deleteFrom('project_members')
    .where('project_id', '=', projectId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/**
 * The owners `last_owner` counts: explicit owner memberships of users that are not (now) guests
 * (a guest's owner membership means commenter). `except` leaves one member out.
 */
export async function countOwners(db: Db, projectId: string, except: string): Promise<number> {
  const row = await db
    .selectFrom('project_members as pm')
    .innerJoin('users as u', 'u.id', 'pm.user_id')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('pm.project_id', '=', projectId)
    .where('pm.role', '=', 'owner')
    .where('u.role', '<>', 'guest')
    .where('pm.user_id', '<>', except)
    .executeTakeFirst();
  return toCount(row?.n);
}

/** The shared projects a user is a member of, with what deleting the user would leave in each. */
export async function sharedProjectsOf(
  db: Db,
  userId: string,
  lock: boolean,
): Promise<{ id: string; role: ProjectRole; others: unknown; other_owners: unknown }[]> {
  const query = db
    .selectFrom('project_members as pm')
    .innerJoin('projects as p', 'p.id', 'pm.project_id')
    .select(['p.id', 'pm.role'])
    .select((eb) => [
      eb
        .selectFrom('project_members as m')
        .select(eb.fn.countAll().as('n'))
        .whereRef('m.project_id', '=', 'p.id')
        .where('m.user_id', '<>', userId)
        .as('others'),
      eb
        .selectFrom('project_members as m')
        .innerJoin('users as u', 'u.id', 'm.user_id')
        .select(eb.fn.countAll().as('n'))
        .whereRef('m.project_id', '=', 'p.id')
        .where('m.user_id', '<>', userId)
        .where('m.role', '=', 'owner')
        .where('u.role', '<>', 'guest')
        .as('other_owners'),
    ])
    .where('pm.user_id', '=', userId)
    .where('p.personal', '=', 0)
    .orderBy('p.id');
  return (lock ? query.forUpdate('p') : query).execute();
}

/** A user's global role (what caps its memberships), read in the caller's transaction. */
export async function globalRoleOf(db: Db, userId: string): Promise<Role | undefined> {
  const row = await db.selectFrom('users').select('role').where('id', '=', userId).executeTakeFirst();
  return row?.role;
}

export async function deleteProjects(db: Db, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.deleteFrom('projects').where('id', 'in', ids).execute();
}

/** A deleted user's personal project goes with it, and its tasks by foreign key. */
export async function deletePersonalProject(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('projects').where('owner_id', '=', userId).where('personal', '=', 1).execute();
}

/** Projects by id (any order). */
export async function findProjects(db: Db, ids: string[]): Promise<ProjectRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('projects').selectAll().where('id', 'in', ids).orderBy('id').execute();
}

/** The user ids of a project's members. */
export async function memberIds(db: Db, projectId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('project_members')
    .select('user_id')
    .where('project_id', '=', projectId)
    .orderBy('user_id')
    .execute();
  return rows.map((row) => row.user_id);
}
