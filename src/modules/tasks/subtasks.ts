import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { FieldError } from '../../errors.js';
import * as repo from './subtasks.repository.js';
import type { State } from './task-state.js';

/** The subtask rules (contract §7): a parent of the same project, no cycle, at most 5 levels. */

export const MAX_LEVELS = 5;

export type Subtree = Awaited<ReturnType<typeof repo.descendants>>;

/** How many levels a task and its subtasks take (a task without subtasks: 1). */
export function heightOf(subtree: Subtree): number {
  return 1 + subtree.reduce((most, d) => Math.max(most, d.n), 0);
}

/**
 * What is wrong with the state's parent, for a task that is new (`taskId` null) or moves with
 * `subtree` below it. Another project's task, a missing one and one the caller cannot see answer
 * alike, so the reply tells nothing of tasks outside the project.
 */
export async function parentErrors(
  db: Kysely<Database>,
  state: State,
  taskId: string | null,
  subtree: Subtree,
): Promise<FieldError[]> {
  if (state.parentId === null) return [];
  const invalid = (detail: string): FieldError[] => [
    { pointer: '/parentId', code: 'invalid_parent', detail },
  ];
  const chain = await repo.ancestry(db, state.parentId);
  const [parent] = chain;
  if (!parent || parent.project_id !== state.projectId) {
    return invalid('must be null or a task of the same project');
  }
  if (taskId !== null && chain.some((t) => t.id === taskId)) {
    return invalid('must not be the task itself or one of its subtasks');
  }
  const levels = chain.length + heightOf(subtree);
  if (levels > MAX_LEVELS) {
    return invalid(`tasks nest at most ${MAX_LEVELS} levels deep (this would make ${levels})`);
  }
  return [];
}
