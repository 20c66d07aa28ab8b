/** Tasks. Priority is stored as 1–3 so it sorts low < medium < high on both dialects. */
export interface TasksTable {
  id: string;
  /** Its creator; null once that account is deleted. */
  owner_id: string | null;
  /** Every task belongs to one project (deleted with it). */
  project_id: string;
  /** null for a top-level task; a task of the same project, at most 5 levels (deleted with it). */
  parent_id: string | null;
  assignee_id: string | null;
  title: string;
  description: string;
  status: 'todo' | 'in_progress' | 'done';
  priority: number;
  start_at: string | null;
  due_at: string | null;
  /** JSON array of the tags, in the order given (task_tags indexes them for filtering). */
  tags: string;
  completed_at: string | null;
  version: number;
  /** lower-cased "title\ndescription", made in JavaScript (SQLite's lower() folds ASCII only) */
  search_text: string;
  created_at: string;
  updated_at: string;
}

export interface TaskTagsTable {
  task_id: string;
  tag: string;
}
