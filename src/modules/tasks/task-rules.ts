import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { ApiError, type FieldError, validationFailed } from '../../errors.js';
import type { AppContext } from '../../lib/module.js';
import { atLeast, type Principal, type ProjectRole } from '../../lib/principal.js';
import { parentErrors, type Subtree } from './subtasks.js';
import type { State } from './task-state.js';
import * as repo from './tasks.repository.js';
import type { Task } from './tasks.schemas.js';

/** Who may write what in a task, and the checks on a task's merged state (contract §2 and §7). */

/** What the write rules need of a caller's standing to a task. */
interface Standing {
  role: ProjectRole | null;
  assignee: boolean;
}

/**
 * Editors and up (admins) change everything; the assignee changes only the status when it is a
 * commenter member, or a non-member (personal project, the v1 rule) that is not a guest. Viewers,
 * and everyone else, get 403.
 */
export function authorizeWrite(caller: Principal, standing: Standing, statusOnly: boolean): void {
  if (atLeast(standing.role, 'editor')) return;
  if (statusOnly && standing.assignee) {
    if (standing.role === 'commenter') return;
    if (standing.role === null && caller.role !== 'guest') return;
  }
  throw new ApiError('forbidden', {
    detail: standing.assignee
      ? 'The assignee may change only the status, and needs the commenter role for it'
      : 'Changing tasks in this project needs the editor role',
  });
}

/** The project a task is written into. `known` false: none the caller can see (a 422 later). */
export interface Target {
  id: string;
  known: boolean;
  personal: boolean;
}

/** A project the caller writes a task into: 403 below editor, 409 when archived. */
export async function targetProject(
  ctx: AppContext,
  caller: Principal,
  projectId: string,
  db: Kysely<Database>,
): Promise<Target> {
  const found = await ctx.services.projects.access(caller, projectId, db);
  if (!found || found.role === null) return { id: projectId, known: false, personal: false };
  if (!atLeast(found.role, 'editor')) {
    throw new ApiError('forbidden', { detail: 'Writing tasks in this project needs the editor role' });
  }
  if (found.project.archived === 1) throw new ApiError('project_archived');
  return { id: projectId, known: true, personal: found.project.personal === 1 };
}

/** Who may be assigned: any user in a personal project, a member (any role) in a shared one. */
async function assignable(ctx: AppContext, target: Target, userId: string, db: Kysely<Database>) {
  if (target.known && !target.personal) return repo.isMember(db, target.id, userId);
  return ctx.services.users.exists(userId, db);
}

/**
 * The rules on the whole (merged) state, after the schema: startAt ≤ dueAt, a project the caller
 * can see, an assignee who may be assigned there (also the moved subtasks' assignees), a valid
 * parent. One 422 lists every one that fails.
 */
export async function checkState(
  ctx: AppContext,
  db: Kysely<Database>,
  state: State,
  previous: Task | null,
  target: Target,
  subtree: Subtree,
): Promise<void> {
  const errors: FieldError[] = [];
  if (state.startAt !== null && state.dueAt !== null && state.startAt > state.dueAt) {
    errors.push({ pointer: '/dueAt', code: 'invalid_range', detail: 'must not be before startAt' });
  }
  if (!target.known) {
    errors.push({ pointer: '/projectId', code: 'not_found', detail: 'names no project you can see' });
  }
  const moved = previous !== null && previous.projectId !== state.projectId;
  const assigneeChanged = previous === null || previous.assigneeId !== state.assigneeId || moved;
  if (
    assigneeChanged &&
    state.assigneeId !== null &&
    !(await assignable(ctx, target, state.assigneeId, db))
  ) {
    errors.push({
      pointer: '/assigneeId',
      code: 'not_found',
      detail: target.personal || !target.known ? 'names no user' : 'names no member of the project',
    });
  }
  if (moved && target.known && !target.personal) {
    // The subtasks move too: their assignees must be members of the target project as well.
    for (const d of subtree) {
      if (d.assignee_id !== null && !(await repo.isMember(db, target.id, d.assignee_id))) {
        errors.push({
          pointer: '/assigneeId',
          code: 'not_found',
          detail: `subtask ${d.id} is assigned to a user who is no member of the target project`,
        });
        break;
      }
    }
  }
  const parentChanged = previous === null || previous.parentId !== state.parentId || moved;
  if (parentChanged && target.known) {
    errors.push(...(await parentErrors(db, state, previous?.id ?? null, subtree)));
  } else if (parentChanged && state.parentId !== null) {
    // A parent in a project the caller cannot see is no parent it may name: both fields are listed.
    errors.push({
      pointer: '/parentId',
      code: 'invalid_parent',
      detail: 'must be null or a task of the same project',
    });
  }
  if (errors.length > 0) throw validationFailed(errors);
}
