import {
  FIELDS,
  type Field,
  type FieldName,
  INPUTS,
  type NewTaskRow,
  type TaskRow,
  type WritableName,
} from './task-fields.js';
import type { Task } from './tasks.schemas.js';

/** A task's row ↔ API mapping, and its writable state as the rules compare it. */

const FIELD_NAMES = Object.keys(FIELDS) as FieldName[];
/** What an update writes: every field but those fixed at creation. */
export const CHANGING = FIELD_NAMES.filter((name) => !FIELDS[name].fixed);
const WRITABLE = Object.keys(INPUTS) as WritableName[];

export function toTask(row: TaskRow): Task {
  // Each field decodes its own column; Object.fromEntries loses the per-key types FIELDS guarantees.
  return Object.fromEntries(
    FIELD_NAMES.map((name) => {
      const f: Field = FIELDS[name];
      return [name, f.decode(row[f.column])];
    }),
  ) as Task;
}

/** The stored columns of some of a task's fields, and the search text the server keeps. */
export function columnsOf(task: Task, names: readonly FieldName[]): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const name of names) {
    const f: Field = FIELDS[name];
    row[f.column] = f.encode(task[name]);
  }
  // Lower-cased here: SQLite's lower() folds ASCII only.
  row.search_text = `${task.title}\n${task.description}`.toLowerCase();
  return row;
}

/** The row that stores a task. */
export function toRow(task: Task): NewTaskRow {
  return columnsOf(task, FIELD_NAMES) as NewTaskRow;
}

/** The writable state of a task, as the API names it. */
export type State = Pick<Task, WritableName>;
type Defaults = {
  [K in WritableName as (typeof INPUTS)[K] extends { default: unknown } ? K : never]: Task[K];
};

export const DEFAULTS = Object.fromEntries(
  Object.entries(INPUTS).flatMap(([name, input]) => ('default' in input ? [[name, input.default]] : [])),
) as Record<string, unknown> as Defaults;

export function stateOf(task: Task): State {
  return Object.fromEntries(WRITABLE.map((name) => [name, task[name]])) as State;
}

export function sameState(a: State, b: State): boolean {
  return (Object.keys(a) as (keyof State)[]).every(
    (key) => JSON.stringify(a[key]) === JSON.stringify(b[key]),
  );
}

/** Set when status becomes done, kept while it stays done, cleared when it leaves done. */
export function completedAtOf(state: State, previous: Task | null, now: string): string | null {
  if (state.status !== 'done') return null;
  return previous?.status === 'done' ? previous.completedAt : now;
}

export function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
