import { uuidv7 } from 'uuidv7';
import { ApiError } from '../../errors.js';
import type { AppContext } from '../../lib/module.js';
import { callerProjectRole, type Principal, type ProjectRole } from '../../lib/principal.js';
import * as repo from './projects.repository.js';

/** A project as one caller stands in it: the row, and the caller's role (null: none). */
export interface ProjectAccess {
  project: repo.ProjectRow;
  role: ProjectRole | null;
}

export const PERSONAL_PROJECT_NAME = 'Inbox';

/** The project rules: personal projects, the caller's role in a project. */
export class ProjectsService {
  constructor(private readonly ctx: AppContext) {}

  private get db() {
    return this.ctx.database.db;
  }

  /** Every user's personal project, made in the transaction that creates the user. */
  async createPersonal(db: repo.Db, userId: string, at: string): Promise<void> {
    const id = uuidv7();
    await repo.insertProject(db, {
      id,
      name: PERSONAL_PROJECT_NAME,
      description: '',
      owner_id: userId,
      personal: 1,
      archived: 0,
      version: 1,
      created_at: at,
      updated_at: at,
    });
    await repo.insertMember(db, { project_id: id, user_id: userId, role: 'owner', added_at: at });
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
}
