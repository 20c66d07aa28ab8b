import { uuidv7 } from 'uuidv7';
import { ApiError } from '../../errors.js';
import { type Actor, actorOf, diffFields, SYSTEM_ACTOR } from '../../lib/change-log.js';
import { etagOf, ifMatchPasses } from '../../lib/conditional.js';
import type { ReplyRecorder } from '../../lib/idempotency.js';
import { type CursorPage, type CursorRequest, type Page, type PageRequest, pageOf } from '../../lib/lists.js';
import type { AppContext } from '../../lib/module.js';
import { callerProjectRole, type Principal, type ProjectRole } from '../../lib/principal.js';
import * as repo from './projects.repository.js';
import type { CreateProject, PatchProject, Project, ProjectListFilters } from './projects.schemas.js';

/** A project as one caller stands in it: the row, and the caller's role (null: none). */
export interface ProjectAccess {
  project: repo.ProjectRow;
  role: ProjectRole | null;
}

export const PERSONAL_PROJECT_NAME = 'Inbox';

export function toProject(row: repo.ProjectRow, role: ProjectRole): Project {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    ownerId: row.owner_id,
    personal: row.personal === 1,
    archived: row.archived === 1,
    role,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    version: Number(row.version),
  };
}

/**
 * A project as its events carry it: the API shape without `role`, which is each reader's own
 * (an event is read by many).
 */
export type ProjectData = Omit<Project, 'role'>;

export function projectData(row: repo.ProjectRow): ProjectData {
  // Stryker disable next-line StringLiteral: the role is dropped on this line, whatever its value
  const { role: _role, ...data } = toProject(row, 'owner');
  return data;
}

/** What a project.updated lists when it differs. */
const DIFFED = ['name', 'description', 'archived'] as const;

/** A keyset position a (signed) cursor carries. */
export function positionFrom(value: unknown): repo.Position {
  const p = value as { v?: unknown; id?: unknown } | null;
  if (typeof p?.v !== 'string' || typeof p.id !== 'string') throw new ApiError('invalid_cursor');
  return { v: p.v, id: p.id };
}

function preconditionFailed(version: number): ApiError {
  return new ApiError('precondition_failed', { headers: { etag: etagOf(version) } });
}

/** Only an owner (admins act as owners) changes a project or its members. */
export function requireOwner(role: ProjectRole, what: string): void {
  if (role !== 'owner')
    throw new ApiError('forbidden', { detail: `Only an owner of the project may ${what}` });
}

/** The project rules: personal projects, the caller's role in a project, project CRUD. */
export class ProjectsService {
  constructor(private readonly ctx: AppContext) {}

  private get db() {
    return this.ctx.database.db;
  }

  /** PostgreSQL writers queue on the project's row; SQLite has one writer at a time anyway. */
  get lockRows(): boolean {
    return this.ctx.database.dialect === 'postgres';
  }

  /** Every user's personal project, made in the transaction that creates the user (by the system). */
  async createPersonal(db: repo.Db, userId: string, at: string): Promise<void> {
    const values: Omit<repo.ProjectRow, 'search_text'> = {
      id: uuidv7(),
      name: PERSONAL_PROJECT_NAME,
      description: '',
      owner_id: userId,
      personal: 1,
      archived: 0,
      version: 1,
      created_at: at,
      updated_at: at,
    };
    await repo.insertProject(db, values);
    await repo.insertMember(db, { project_id: values.id, user_id: userId, role: 'owner', added_at: at });
    this.record(db, 'project.created', SYSTEM_ACTOR, at, this.rowOf(values), null, []);
  }

  private rowOf(values: Omit<repo.ProjectRow, 'search_text'>): repo.ProjectRow {
    return { ...values, search_text: repo.projectSearchText(values.name) };
  }

  /** Records a project event in `db`, a change-log transaction (see lib/change-log.ts). */
  private record(
    db: repo.Db,
    type: 'project.created' | 'project.updated' | 'project.deleted',
    actor: Actor,
    at: string,
    row: repo.ProjectRow,
    changes: ReturnType<typeof diffFields>,
    viewers: string[],
  ): void {
    this.ctx.changes.record(db, {
      type,
      at,
      actor,
      projectId: row.id,
      subject: { type: 'project', id: row.id },
      taskId: null,
      changes,
      data: projectData(row),
      viewers,
    });
  }

  /**
   * A project's deletion as its event: its members at deletion see it, and so do the assignees of
   * its tasks (a personal project's are not members), whose tasks go with it without events.
   */
  private async recordDeleted(db: repo.Db, actor: Actor, at: string, row: repo.ProjectRow): Promise<void> {
    const members = await repo.memberIds(db, row.id);
    const assignees = await this.ctx.services.tasks.assigneesIn(db, row.id);
    this.record(db, 'project.deleted', actor, at, row, null, [...members, ...assignees]);
  }

  /** The id of a user's personal project. */
  async personalProjectId(userId: string, db: repo.Db = this.db): Promise<string> {
    const row = await repo.findPersonalProject(db, userId);
    // Made with the account (and by migration 0007 for accounts made before).
    if (!row) throw new Error(`user ${userId} has no personal project`);
    return row.id;
  }

  /**
   * A project and the caller's role in it, or null when it does not exist. Callers decide
   * visibility: a caller without a role sees nothing of the project (404).
   */
  async access(caller: Principal, projectId: string, db: repo.Db = this.db, lock = false) {
    const row = await repo.findProjectFor(db, projectId, caller.userId, lock);
    if (!row) return null;
    const { member_role, ...project } = row;
    return { project, role: callerProjectRole(caller, member_role) } satisfies ProjectAccess;
  }

  /** As access(), but 404 for a project the caller may not see. */
  async visible(caller: Principal, projectId: string, db: repo.Db = this.db, lock = false) {
    const found = await this.access(caller, projectId, db, lock);
    if (!found || found.role === null) throw new ApiError('not_found');
    return found as ProjectAccess & { role: ProjectRole };
  }

  async create(caller: Principal, input: CreateProject, recorder?: ReplyRecorder<Project>): Promise<Project> {
    const now = new Date().toISOString();
    const values: Omit<repo.ProjectRow, 'search_text'> = {
      id: uuidv7(),
      name: input.name,
      description: input.description ?? '',
      owner_id: caller.userId,
      personal: 0,
      archived: 0,
      version: 1,
      created_at: now,
      updated_at: now,
    };
    const project = toProject(this.rowOf(values), 'owner');
    await this.ctx.changes.transaction(this.db, async (trx) => {
      await repo.insertProject(trx, values);
      await repo.insertMember(trx, {
        project_id: values.id,
        user_id: caller.userId,
        role: 'owner',
        added_at: now,
      });
      // One event: the owner's membership is part of it (data.ownerId).
      this.record(trx, 'project.created', actorOf(caller), now, this.rowOf(values), null, []);
      await recorder?.(trx, project);
    });
    return project;
  }

  async get(caller: Principal, id: string): Promise<Project> {
    const { project, role } = await this.visible(caller, id);
    return toProject(project, role);
  }

  async list(caller: Principal, filters: ProjectListFilters, request: PageRequest): Promise<Page<Project>> {
    const visibility = visibilityOf(caller);
    const filter = toFilter(filters);
    const { page, size } = request;
    const [rows, total] = await Promise.all([
      repo.listProjects(this.db, visibility, filter, size, (page - 1) * size),
      repo.countProjects(this.db, visibility, filter),
    ]);
    return pageOf(
      rows.map((row) => this.listed(caller, row)),
      total,
      request,
    );
  }

  /** Version 2: newest first, a cursor page at a time. */
  async listAfter(
    caller: Principal,
    filters: ProjectListFilters,
    request: CursorRequest,
  ): Promise<CursorPage<Project>> {
    const { cursors } = this.ctx;
    const { limit, cursor } = request;
    const filter = toFilter(filters);
    const binding = { list: 'projects', caller: caller.userId, filter };
    const after = cursor === undefined ? null : positionFrom(cursors.open(binding, cursor));
    const rows = await repo.listProjects(this.db, visibilityOf(caller), filter, limit + 1, 0, after);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > limit && last ? cursors.sign(binding, { v: last.created_at, id: last.id }) : null;
    return { items: page.map((row) => this.listed(caller, row)), nextCursor };
  }

  private listed(caller: Principal, row: repo.ProjectRow & { member_role: ProjectRole | null }): Project {
    const { member_role, ...project } = row;
    // The list joins the caller's membership (admins: every project, role owner).
    // Stryker disable next-line StringLiteral: never null here (the list joins the caller's membership, or an admin's role is owner)
    return toProject(project, callerProjectRole(caller, member_role) ?? 'owner');
  }

  /**
   * PATCH: owner only (403) → archived project: only exactly {archived: false} (409
   * project_archived) → If-Match (412) → a personal project cannot be archived (409 conflict).
   * Nothing changed: the stored project, same version.
   */
  async update(
    caller: Principal,
    id: string,
    input: PatchProject,
    ifMatch: string | undefined,
  ): Promise<Project> {
    return this.ctx.changes.transaction(this.db, async (trx) => {
      const { project, role } = await this.visible(caller, id, trx, this.lockRows);
      requireOwner(role, 'change it');
      const given = Object.entries(input).filter(([, v]) => v !== undefined);
      const unarchiving = given.length === 1 && input.archived === false;
      if (project.archived === 1 && !unarchiving) {
        throw new ApiError('project_archived', {
          detail: 'An archived project only takes {"archived": false}',
        });
      }
      const version = Number(project.version);
      if (ifMatch !== undefined && !ifMatchPasses(ifMatch, version)) throw preconditionFailed(version);
      if (project.personal === 1 && input.archived === true) {
        throw new ApiError('conflict', { detail: 'A personal project cannot be archived' });
      }
      const name = input.name ?? project.name;
      const description = input.description ?? project.description;
      // Stryker disable next-line ConditionalExpression: archived undefined gives 0, which a project that takes other fields already is (an archived one only takes {archived: false})
      const archived = input.archived === undefined ? project.archived : input.archived ? 1 : 0;
      if (name === project.name && description === project.description && archived === project.archived) {
        return toProject(project, role);
      }
      const now = new Date().toISOString();
      const updated = await repo.updateProjectIfVersion(trx, id, version, {
        name,
        description,
        archived,
        search_text: repo.projectSearchText(name),
        updated_at: now,
      });
      // Read under the row lock (PostgreSQL) or in SQLite's one writer: nobody wrote in between.
      if (!updated) throw preconditionFailed(version);
      const changes = diffFields(projectData(project), projectData(updated), DIFFED);
      this.record(trx, 'project.updated', actorOf(caller), now, updated, changes, []);
      return toProject(updated, role);
    });
  }

  /** DELETE: owner only (403) → personal (409 conflict) → If-Match (412); tasks and members go too. */
  async delete(caller: Principal, id: string, ifMatch: string | undefined): Promise<void> {
    await this.ctx.changes.transaction(this.db, async (trx) => {
      const { project, role } = await this.visible(caller, id, trx, this.lockRows);
      requireOwner(role, 'delete it');
      if (project.personal === 1) {
        throw new ApiError('conflict', { detail: 'A personal project cannot be deleted' });
      }
      const version = Number(project.version);
      if (ifMatch !== undefined && !ifMatchPasses(ifMatch, version)) throw preconditionFailed(version);
      // One event (its tasks, comments and members go without their own); read before it goes.
      await this.recordDeleted(trx, actorOf(caller), new Date().toISOString(), project);
      if (!(await repo.deleteProject(trx, id, version))) throw new ApiError('not_found');
    });
  }

  /**
   * A user is about to be deleted (in that transaction): the last owner of a shared project that
   * has other members → 409 last_owner (the whole deletion rolls back); shared projects of which it
   * is the only member go with it, and so does its personal project. Its memberships go by
   * foreign key; what it created elsewhere stays, without an owner or author.
   */
  async userDeleted(trx: repo.Db, userId: string, at: string): Promise<void> {
    const userRole = await repo.globalRoleOf(trx, userId);
    const shared = await repo.sharedProjectsOf(trx, userId, this.lockRows);
    // Stryker disable next-line ArrayDeclaration: an id that names no project finds nothing and deletes nothing
    const alone: string[] = [];
    // Stryker disable next-line ArrayDeclaration: an id that names no project has no membership, which the loop below skips
    const kept: string[] = [];
    for (const project of shared) {
      const others = Number(project.others ?? 0);
      if (others === 0) {
        alone.push(project.id);
        continue;
      }
      kept.push(project.id);
      const countsAsOwner = project.role === 'owner' && userRole !== 'guest';
      if (countsAsOwner && Number(project.other_owners ?? 0) === 0) {
        throw new ApiError('last_owner', {
          detail: `The user is the last owner of project ${project.id}, which has other members: make another member owner first`,
        });
      }
    }
    // The traces it leaves, by the system, read before they go: a project.deleted for each project
    // that goes, a member.removed for each membership that goes by foreign key (the tasks module
    // records the unassignments and the tasks that lose their owner).
    const personal = await repo.findPersonalProject(trx, userId);
    for (const row of await repo.findProjects(trx, alone))
      await this.recordDeleted(trx, SYSTEM_ACTOR, at, row);
    if (personal) await this.recordDeleted(trx, SYSTEM_ACTOR, at, personal);
    for (const projectId of kept) {
      const member = await repo.findMember(trx, projectId, userId);
      // Stryker disable next-line ConditionalExpression: kept lists the user's memberships read in this transaction, so each is found
      if (member)
        this.ctx.services.projectMembers.recordMember(
          trx,
          'member.removed',
          SYSTEM_ACTOR,
          at,
          projectId,
          member,
        );
    }
    await repo.deleteProjects(trx, alone);
    await repo.deletePersonalProject(trx, userId);
  }
}

function visibilityOf(caller: Principal): repo.Visibility {
  return { all: caller.role === 'admin', userId: caller.userId };
}

function toFilter(filters: ProjectListFilters): repo.ProjectFilter {
  return {
    // Stryker disable next-line ConditionalExpression: {archived: undefined} filters nothing and binds a cursor alike (JSON drops it)
    ...(filters.archived !== undefined ? { archived: filters.archived } : {}),
    // Lower-cased here, as the search text is: SQLite's lower() folds ASCII only.
    ...(filters.q !== undefined ? { q: filters.q.toLowerCase() } : {}),
  };
}
