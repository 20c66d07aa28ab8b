import type { ProjectRole } from '../../lib/principal.js';

/** Projects (contract §7). 0/1 flags: one representation on SQLite and PostgreSQL. */
export interface ProjectsTable {
  id: string;
  name: string;
  description: string;
  /** Its creator; null once that account is deleted. A personal project's user. */
  owner_id: string | null;
  /** 1 for the one personal project ("Inbox") of its owner. */
  personal: number;
  archived: number;
  /** lower-cased name, for `q` on both dialects */
  search_text: string;
  version: number;
  created_at: string;
  updated_at: string;
}

/**
 * Who belongs to a project, with the role granted. What it allows now is that role capped by the
 * member's current global role (lib/principal.ts effectiveProjectRole).
 */
export interface ProjectMembersTable {
  project_id: string;
  user_id: string;
  role: ProjectRole;
  added_at: string;
}

/** Comments on tasks; deleted with their task. */
export interface CommentsTable {
  id: string;
  task_id: string;
  /** null once its author's account is deleted */
  author_id: string | null;
  body: string;
  /** 1 once the body was changed */
  edited: number;
  created_at: string;
  updated_at: string;
}
