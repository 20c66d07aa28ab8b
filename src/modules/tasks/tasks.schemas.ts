import { type Static, type TObject, type TOptional, type TSchema, Type } from '@sinclair/typebox';
import { Count, Id, StringEnum } from '../../lib/common-schemas.js';
import { CursorPageOf, PageOf } from '../../lib/lists.js';
import {
  FIELDS,
  FILTERS,
  type FieldName,
  type FilterName,
  INPUTS,
  type InputSchema,
  inputSchema,
  SORTS,
  type WritableName,
} from './task-fields.js';

/** The route schemas, composed from the table of task fields. */

type Props<T extends Record<string, { schema: TSchema }>> = { [K in keyof T]: T[K]['schema'] };
type OptionalProps<T extends Record<string, { schema: TSchema }>> = {
  [K in keyof T]: TOptional<T[K]['schema']>;
};
/** Required where the field has no default and is not kept (title), optional elsewhere. */
type CreateProps = {
  [K in WritableName]: (typeof INPUTS)[K] extends { default: unknown } | { kept: true }
    ? TOptional<InputSchema<K>>
    : InputSchema<K>;
};
type PatchProps = { [K in WritableName]: TOptional<InputSchema<K>> };

function bodyProps<R>(optional: (name: WritableName) => boolean): R {
  // Object.fromEntries loses the per-key types that CreateProps and PatchProps restore.
  return Object.fromEntries(
    (Object.keys(INPUTS) as WritableName[]).map((name) => {
      const schema = inputSchema(name);
      return [name, optional(name) ? Type.Optional(schema) : schema];
    }),
  ) as R;
}

function mapProps<T extends Record<string, { schema: TSchema }>, R>(
  table: T,
  each: (spec: T[keyof T]) => TSchema,
): R {
  // Object.entries loses the per-key types that the callers' mapped types restore.
  return Object.fromEntries(
    Object.entries(table).map(([name, spec]) => [name, each(spec as T[keyof T])]),
  ) as R;
}

const taskProps = mapProps<typeof FIELDS, Props<typeof FIELDS>>(FIELDS, (f) => f.schema);
const example = Object.fromEntries(Object.entries(FIELDS).map(([name, f]) => [name, f.example]));

export const TaskSchema: TObject<Props<typeof FIELDS>> = Type.Object(taskProps, {
  $id: 'Task',
  additionalProperties: false,
  examples: [example],
});
export type Task = Static<typeof TaskSchema>;

export const TaskPageSchema = PageOf(TaskSchema, 'TaskPage');
export const TaskCursorPageSchema = CursorPageOf(TaskSchema, 'TaskCursorPage');

export const TaskStatsSchema = Type.Object(
  {
    total: Count(),
    byStatus: Type.Object(
      {
        todo: Count(),
        in_progress: Count(),
        done: Count(),
      },
      { additionalProperties: false },
    ),
    byPriority: Type.Object(
      {
        low: Count(),
        medium: Count(),
        high: Count(),
      },
      { additionalProperties: false },
    ),
    overdue: Count({ description: 'dueAt < now and status ≠ done' }),
  },
  { $id: 'TaskStats', additionalProperties: false },
);

const READ_ONLY = (Object.keys(FIELDS) as FieldName[]).filter((name) => !(name in INPUTS));

export const CreateTaskBody = Type.Object(
  bodyProps<CreateProps>((name) => 'default' in INPUTS[name] || 'kept' in INPUTS[name]),
  {
    additionalProperties: false,
    'x-read-only': READ_ONLY,
    examples: [{ title: 'Buy milk', dueAt: '2031-01-01T10:00:00+02:00', tags: ['home'], priority: 'high' }],
  },
);
export const ReplaceTaskBody = CreateTaskBody;
export const PatchTaskBody = Type.Object(
  bodyProps<PatchProps>(() => true),
  { additionalProperties: false, 'x-read-only': READ_ONLY, description: 'JSON merge patch (RFC 7396)' },
);
export type TaskInput = Static<typeof PatchTaskBody>;
export type TaskStats = Static<typeof TaskStatsSchema>;

/** The query of both versions' task lists besides the paging: the filters and the sort. */
export const TaskListParams = {
  ...mapProps<typeof FILTERS, OptionalProps<typeof FILTERS>>(FILTERS, (filter) =>
    Type.Optional(filter.schema),
  ),
  sort: Type.Optional(
    StringEnum(
      SORTS.flatMap((s) => [s, `-${s}`]),
      { default: '-createdAt', description: 'prefix - for descending' },
    ),
  ),
};
export type TaskListFilters = { [P in FilterName]?: Static<(typeof FILTERS)[P]['schema']> };
export type TaskListQuery = Static<TObject<typeof TaskListParams>>;

export const TaskIdParams = Type.Object({ id: Id });
