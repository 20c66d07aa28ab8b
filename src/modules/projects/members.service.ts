import { ApiError, type FieldError, validationFailed } from '../../errors.js';
import { type Actor, actorOf, diffFields, type FieldChanges } from '../../lib/change-log.js';
import { normalizeEmail } from '../../lib/email.js';
import { type CursorPage, type CursorRequest, type Page, type PageRequest, pageOf } from '../../lib/lists.js';
import type { AppContext } from '../../lib/module.js';
import {
  effectiveProjectRole,
  type Principal,
  type ProjectRole,
  ROLE_CAP,
  type Role,
} from '../../lib/principal.js';
import * as repo from './projects.repository.js';
import type { AddMember, Member, PatchMember } from './projects.schemas.js';
import { type ProjectsService, positionFrom, requireOwner } from './projects.service.js';

export function toMember(row: repo.MemberRow): Member {
  return {
    userId: row.user_id,
    name: row.name,
    email: row.email,
    role: effectiveProjectRole(row.role, row.user_role),
    addedAt: row.added_at,
  };
}

/** Whether a member counts for last_owner: an explicit owner that is not (now) a guest. */
function countsAsOwner(row: { role: ProjectRole; user_role: Role }): boolean {
  return row.role === 'owner' && row.user_role !== 'guest';
}

function roleNotAllowed(role: ProjectRole, userRole: Role): FieldError | null {
  const cap = ROLE_CAP[userRole];
  return effectiveProjectRole(role, userRole) === role
    ? null
    : { pointer: '/role', code: 'role_not_allowed', detail: `a ${userRole} may be at most ${cap}` };
}

/** The user of a personal project is its owner for good, whatever its global role caps. */
function personalOwner(): ApiError {
  return new ApiError('last_owner', { detail: 'The user of a personal project stays its owner' });
}

function lastOwner(): ApiError {
  return new ApiError('last_owner', {
    detail: 'This is the last owner of the project: make another member owner first',
  });
}

function archivedError(): ApiError {
  return new ApiError('project_archived', {
    detail: 'The project is archived: its members stay as they are',
  });
}

/**
 * Members of a project: listed by any member, managed by owners (admins act as owners); a member
 * may leave. Checks in the house order: 404 (project not visible) → 403 (role) → 409
 * project_archived → 404 (member) → 422 → 409 (conflict, last_owner).
 */
export class MembersService {
  constructor(
    private readonly ctx: AppContext,
    private readonly projects: ProjectsService,
  ) {}

  private get db() {
    return this.ctx.database.db;
  }

  async list(caller: Principal, projectId: string, request: PageRequest): Promise<Page<Member>> {
    await this.projects.visible(caller, projectId);
    const { page, size } = request;
    const [rows, total] = await Promise.all([
      repo.listMembers(this.db, projectId, size, (page - 1) * size),
      repo.countMembers(this.db, projectId),
    ]);
    return pageOf(rows.map(toMember), total, request);
  }

  /** Version 2: oldest first, a cursor page at a time. */
  async listAfter(caller: Principal, projectId: string, request: CursorRequest): Promise<CursorPage<Member>> {
    await this.projects.visible(caller, projectId);
    const { cursors } = this.ctx;
    const { limit, cursor } = request;
    const binding = { list: 'members', caller: caller.userId, projectId };
    const after = cursor === undefined ? null : positionFrom(cursors.open(binding, cursor));
    const rows = await repo.listMembers(this.db, projectId, limit + 1, 0, after);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > limit && last ? cursors.sign(binding, { v: last.added_at, id: last.user_id }) : null;
    return { items: page.map(toMember), nextCursor };
  }

  async get(caller: Principal, projectId: string, userId: string): Promise<Member> {
    await this.projects.visible(caller, projectId);
    const row = await repo.findMember(this.db, projectId, userId);
    if (!row) throw new ApiError('not_found');
    return toMember(row);
  }

  /**
   * Records a member event in `db`, a change-log transaction: the member's user sees it whatever
   * its membership (data: the Member and its projectId).
   */
  recordMember(
    db: repo.Db,
    type: 'member.added' | 'member.changed' | 'member.removed',
    actor: Actor,
    at: string,
    projectId: string,
    member: repo.MemberRow | Member,
    changes: FieldChanges | null = null,
  ): void {
    const data = 'user_id' in member ? toMember(member) : member;
    this.ctx.changes.record(db, {
      type,
      at,
      actor,
      projectId,
      subject: { type: 'member', id: data.userId },
      taskId: null,
      changes,
      data: { ...data, projectId },
      viewers: [data.userId],
    });
  }

  async add(caller: Principal, projectId: string, input: AddMember): Promise<Member> {
    return this.ctx.changes.transaction(this.db, async (trx) => {
      const { project, role } = await this.projects.visible(caller, projectId, trx, this.projects.lockRows);
      requireOwner(role, 'add members');
      if (project.archived === 1) throw archivedError();
      if (project.personal === 1) {
        throw new ApiError('conflict', { detail: 'A personal project cannot be shared' });
      }
      const user = await repo.findUserByEmail(trx, normalizeEmail(input.email));
      if (!user)
        throw validationFailed([{ pointer: '/email', code: 'not_found', detail: 'names no account' }]);
      const refused = roleNotAllowed(input.role, user.role);
      if (refused) throw validationFailed([refused]);
      if (await repo.findMember(trx, projectId, user.id)) {
        throw new ApiError('conflict', { detail: 'That user is already a member of the project' });
      }
      const addedAt = new Date().toISOString();
      await repo.insertMember(trx, {
        project_id: projectId,
        user_id: user.id,
        role: input.role,
        added_at: addedAt,
      });
      const member: Member = {
        userId: user.id,
        name: user.name,
        email: user.email,
        role: input.role,
        addedAt,
      };
      this.recordMember(trx, 'member.added', actorOf(caller), addedAt, projectId, member);
      return member;
    });
  }

  async update(caller: Principal, projectId: string, userId: string, input: PatchMember): Promise<Member> {
    return this.ctx.changes.transaction(this.db, async (trx) => {
      const { project, role } = await this.projects.visible(caller, projectId, trx, this.projects.lockRows);
      requireOwner(role, 'change roles');
      if (project.archived === 1) throw archivedError();
      const member = await repo.findMember(trx, projectId, userId);
      if (!member) throw new ApiError('not_found');
      const refused = roleNotAllowed(input.role, member.user_role);
      if (refused) throw validationFailed([refused]);
      if (input.role === member.role) return toMember(member);
      if (project.personal === 1) throw personalOwner();
      const next = { ...member, role: input.role };
      const demoted = countsAsOwner(member) && !countsAsOwner(next);
      if (demoted && (await repo.countOwners(trx, projectId, userId)) === 0) throw lastOwner();
      await repo.updateMemberRole(trx, projectId, userId, input.role);
      const after = toMember(next);
      // The effective role (what the API shows): a stored role its global role caps alike is no change.
      const changes = diffFields(toMember(member), after, ['role']);
      if (changes) {
        const at = new Date().toISOString();
        this.recordMember(trx, 'member.changed', actorOf(caller), at, projectId, after, changes);
      }
      return after;
    });
  }

  /** An owner removes a member, or a member leaves; its tasks there lose their assignee. */
  async remove(caller: Principal, projectId: string, userId: string): Promise<void> {
    await this.ctx.changes.transaction(this.db, async (trx) => {
      const { project, role } = await this.projects.visible(caller, projectId, trx, this.projects.lockRows);
      if (userId !== caller.userId) requireOwner(role, 'remove other members');
      if (project.archived === 1) throw archivedError();
      const member = await repo.findMember(trx, projectId, userId);
      if (!member) throw new ApiError('not_found');
      if (project.personal === 1) throw personalOwner();
      if (countsAsOwner(member) && (await repo.countOwners(trx, projectId, userId)) === 0) throw lastOwner();
      await repo.deleteMember(trx, projectId, userId);
      const at = new Date().toISOString();
      const actor = actorOf(caller);
      this.recordMember(trx, 'member.removed', actor, at, projectId, member);
      await this.ctx.services.tasks.unassignMember(trx, projectId, userId, at, actor);
    });
  }
}
