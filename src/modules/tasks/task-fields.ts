import { type Static, type TSchema, Type } from '@sinclair/typebox';
import type { Insertable, Selectable, Updateable } from 'kysely';
import type { TasksTable } from '../../db/tables/tasks.table.js';
import { Count, Id, StringEnum } from '../../lib/common-schemas.js';
import { MULTILINE_TEXT_PATTERN, SAFE_TEXT_PATTERN } from '../../lib/text.js';

/**
 * The one table of task fields: what each is called in the API and in the database, how its value
 * is stored, what a caller may write, which fields sort and which filter. The schemas, the row
 * mapping, the ORDER BY terms, the v2 cursor positions and the filters are all derived from it.
 */

export type TaskRow = Selectable<TasksTable>;
export type NewTaskRow = Insertable<TasksTable>;
export type TaskChanges = Updateable<TasksTable>;
type Column = keyof TaskRow & string;

export const STATUSES = ['todo', 'in_progress', 'done'] as const;
export const PRIORITIES = ['low', 'medium', 'high'] as const;
export type Status = (typeof STATUSES)[number];
export type Priority = (typeof PRIORITIES)[number];
/** Stored as 1–3 so it sorts low < medium < high on both dialects. */
const PRIORITY_RANK: Record<Priority, number> = { low: 1, medium: 2, high: 3 };

const Timestamp = Type.String({ format: 'date-time', maxLength: 40, examples: ['2031-01-01T08:00:00.000Z'] });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
const Title = Type.String({
  minLength: 1,
  maxLength: 200,
  pattern: SAFE_TEXT_PATTERN,
  'x-trim': true,
  description: 'trimmed of Unicode white space; 1–200 code points',
  examples: ['Buy milk'],
});
const Description = Type.String({
  maxLength: 10_000,
  pattern: MULTILINE_TEXT_PATTERN,
  description: '0–10,000 code points; tab, line feed and carriage return allowed',
});
const Tag = Type.String({
  minLength: 1,
  maxLength: 32,
  pattern: '^[a-z0-9_-]+$',
  'x-lowercase': true,
  description: 'lower-cased by the server, then 1–32 of [a-z0-9_-]',
  examples: ['home'],
});
const Tags = Type.Array(Tag, { maxItems: 20, uniqueItems: true, description: '0–20 tags, no duplicates' });
export const StatusSchema = StringEnum(STATUSES, { description: 'todo · in_progress · done' });
export const PrioritySchema = StringEnum(PRIORITIES, { description: 'low · medium · high' });
const AssigneeId = Type.Union([Id, Type.Null()], {
  description:
    'null, or a user: any existing user in a personal project, a member of the project in a shared one',
});
const ProjectId = Type.String({
  maxLength: 64,
  pattern: '^[A-Za-z0-9-]+$',
  description:
    "a project where the caller is editor or more; default (create): the caller's personal project",
});
const ParentId = Type.Union([Id, Type.Null()], {
  description: 'null (top level) or a task of the same project, at most 5 levels deep',
});

/** `decode`/`encode` may be left out only where the column already holds the API value. */
type Codec<Stored, Api> = ([Stored] extends [Api]
  ? { decode?: (stored: Stored) => Api }
  : { decode: (stored: Stored) => Api }) &
  ([Api] extends [Stored] ? { encode?: (value: Api) => Stored } : { encode: (value: Api) => Stored });

export interface Field<C extends Column = Column, S extends TSchema = TSchema> {
  column: C;
  /** The value in replies. */
  schema: S;
  example: Static<S>;
  decode(stored: TaskRow[C]): Static<S>;
  encode(value: Static<S>): TaskRow[C];
  /** Set when the task is created and never by an update (the version moves in SQL). */
  fixed: boolean;
}

function field<C extends Column, S extends TSchema>(
  spec: { column: C; schema: S; example: Static<S>; fixed?: boolean } & Codec<TaskRow[C], Static<S>>,
): Field<C, S> {
  // Codec<> lets these be absent only when stored and API values are the same type.
  const { decode, encode } = spec as { decode?: Field<C, S>['decode']; encode?: Field<C, S>['encode'] };
  const same = (value: unknown) => value;
  return {
    column: spec.column,
    schema: spec.schema,
    example: spec.example,
    fixed: spec.fixed ?? false,
    decode: decode ?? (same as Field<C, S>['decode']),
    encode: encode ?? (same as Field<C, S>['encode']),
  };
}

/** Every field of a task, in the order replies list them. */
export const FIELDS = {
  id: field({ column: 'id', schema: Id, example: '01935c1e-7a4f-7cc2-a0c3-0c8f4a9e1b2d', fixed: true }),
  ownerId: field({
    column: 'owner_id',
    schema: Type.Union([Id, Type.Null()], { description: 'its creator; null once that account is deleted' }),
    example: '01935c1d-0b1e-7f00-8c55-5b0f3a1d2e3f',
    fixed: true,
  }),
  projectId: field({ column: 'project_id', schema: Id, example: '01935c1d-0c2a-7a10-9b3e-2f4c6d8e0a1b' }),
  parentId: field({
    column: 'parent_id',
    schema: Type.Union([Id, Type.Null()], { description: 'null for a top-level task' }),
    example: null,
  }),
  assigneeId: field({ column: 'assignee_id', schema: Type.Union([Id, Type.Null()]), example: null }),
  title: field({ column: 'title', schema: Type.String({ maxLength: 200 }), example: 'Buy milk' }),
  description: field({ column: 'description', schema: Type.String({ maxLength: 10_000 }), example: '' }),
  status: field({ column: 'status', schema: StatusSchema, example: 'todo' }),
  priority: field({
    column: 'priority',
    schema: PrioritySchema,
    example: 'medium',
    encode: (priority) => PRIORITY_RANK[priority],
    decode: (rank) => PRIORITIES[rank - 1] ?? 'medium',
  }),
  startAt: field({ column: 'start_at', schema: NullableTimestamp, example: null }),
  dueAt: field({ column: 'due_at', schema: NullableTimestamp, example: '2031-01-01T08:00:00.000Z' }),
  tags: field({
    column: 'tags',
    schema: Type.Array(Type.String({ maxLength: 32 }), { maxItems: 20 }),
    example: ['home'],
    encode: (tags) => JSON.stringify(tags),
    decode: (json) => JSON.parse(json) as string[],
  }),
  completedAt: field({ column: 'completed_at', schema: NullableTimestamp, example: null }),
  version: field({ column: 'version', schema: Count({ minimum: 1 }), example: 1, fixed: true }),
  createdAt: field({
    column: 'created_at',
    schema: Timestamp,
    example: '2026-11-22T01:15:37.000Z',
    fixed: true,
  }),
  updatedAt: field({ column: 'updated_at', schema: Timestamp, example: '2026-11-22T01:15:37.000Z' }),
};
export type FieldName = keyof typeof FIELDS;
/** A task as the API shows it. */
export type TaskValues = { [K in FieldName]: Static<(typeof FIELDS)[K]['schema']> };

/** Columns the server keeps for itself, not shown as a field. */
export type ServerColumn = 'search_text';
// Adding a column to TasksTable without a field (or a server column) fails here, naming the column.
type Unmapped = Exclude<Column, (typeof FIELDS)[FieldName]['column'] | ServerColumn>;
const everyColumnMapped: [Unmapped] extends [never] ? true : Unmapped = true;
void everyColumnMapped;

interface Input<K extends FieldName> {
  /** What a body may hold, where it differs from the reply's schema; its value must be the field's. */
  schema?: TSchema & { static: TaskValues[K] };
  /** Where a create or a PUT leaves it out; a field without one is required there (unless kept). */
  default?: TaskValues[K];
  /** Optional on create (the service decides) and kept by a PUT that leaves it out. */
  kept?: true;
}

/** What a caller may write, in the order bodies list it; every other field is read-only. */
export const INPUTS = {
  title: { schema: Title },
  projectId: { schema: ProjectId, kept: true },
  parentId: { schema: ParentId, kept: true },
  description: { schema: Description, default: '' },
  status: { schema: StatusSchema, default: 'todo' },
  priority: { schema: PrioritySchema, default: 'medium' },
  startAt: { schema: NullableTimestamp, default: null },
  dueAt: { schema: NullableTimestamp, default: null },
  tags: { schema: Tags, default: [] },
  assigneeId: { schema: AssigneeId, default: null },
} satisfies { [K in FieldName]?: Input<K> };
export type WritableName = keyof typeof INPUTS;
export type InputSchema<K extends WritableName> = (typeof INPUTS)[K] extends {
  schema: infer S extends TSchema;
}
  ? S
  : (typeof FIELDS)[K]['schema'];

export function inputSchema<K extends WritableName>(name: K): InputSchema<K> {
  const input = INPUTS[name];
  return ('schema' in input ? input.schema : FIELDS[name].schema) as InputSchema<K>;
}

type Stored<K extends FieldName> = TaskRow[(typeof FIELDS)[K]['column']];
type JsonType<T> = [T] extends [string] ? 'string' : [T] extends [number] ? 'number' : never;
/** A sort key's position in a v2 cursor: the JSON type of its stored value, and whether it may be null. */
interface SortSpec<T> {
  position: JsonType<NonNullable<T>>;
  nullable: null extends T ? true : false;
}

/**
 * The sort keys, in the order the contract lists them; the compiler checks each against its
 * column's type. Every key is followed by `id` in the same direction; a nullable key puts its nulls
 * last in both directions, and wants two indexes (see migration 0003's due_at ones). A text key
 * that sorts by code point needs a binary collation on PostgreSQL (the migration's `collate "C"`).
 */
export const SORT_KEYS = {
  createdAt: { position: 'string', nullable: false },
  updatedAt: { position: 'string', nullable: false },
  dueAt: { position: 'string', nullable: true },
  priority: { position: 'number', nullable: false },
  title: { position: 'string', nullable: false },
} as const satisfies { [K in FieldName]?: SortSpec<Stored<K>> };
export type SortKey = keyof typeof SORT_KEYS;
export const SORTS = Object.keys(SORT_KEYS) as SortKey[];

export interface Sort {
  key: SortKey;
  descending: boolean;
}

/** What the SQL and the cursor need to know of a sort key. */
export function sortColumn(key: SortKey): {
  column: Column;
  position: 'string' | 'number';
  nullable: boolean;
} {
  return { column: FIELDS[key].column, ...SORT_KEYS[key] };
}

/**
 * The list filters, in the order the query lists them. `in`, `=`, `>=` and `<` compare a field's
 * stored value (the parameter normalised and encoded like the field); `tag` matches one tag,
 * `search` a substring of the lower-cased search text.
 */
interface FieldFilter {
  op: 'in' | '=' | '>=' | '<';
  field: FieldName;
  schema: TSchema;
  /** A range's upper bound names its lower one: both given, it must be above it (else 422). */
  above?: string;
}
interface TextFilter {
  /** `parent`: the subtasks of one task, or `none` for top-level tasks. */
  op: 'tag' | 'search' | 'parent';
  schema: TSchema & { static: string };
}
export const FILTERS = {
  status: {
    op: 'in',
    field: 'status',
    schema: Type.Array(StatusSchema, { maxItems: 3, description: 'comma-separated or repeated' }),
  },
  priority: {
    op: 'in',
    field: 'priority',
    schema: Type.Array(PrioritySchema, { maxItems: 3, description: 'comma-separated or repeated' }),
  },
  tag: {
    op: 'tag',
    schema: Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9_-]+$', 'x-lowercase': true }),
  },
  projectId: {
    op: 'in',
    field: 'projectId',
    schema: Type.Array(Id, {
      minItems: 1,
      maxItems: 50,
      description: 'comma-separated or repeated project ids (at most 50); archived projects included',
    }),
  },
  parentId: {
    op: 'parent',
    schema: Type.String({
      maxLength: 64,
      pattern: '^[A-Za-z0-9-]+$',
      description: 'the subtasks of this task, or `none` for top-level tasks',
    }),
  },
  assigneeId: { op: '=', field: 'assigneeId', schema: Id },
  ownerId: { op: '=', field: 'ownerId', schema: Id },
  dueAfter: {
    op: '>=',
    field: 'dueAt',
    schema: Type.String({ format: 'date-time', maxLength: 40, description: 'dueAt ≥ dueAfter' }),
  },
  dueBefore: {
    op: '<',
    field: 'dueAt',
    above: 'dueAfter',
    schema: Type.String({ format: 'date-time', maxLength: 40, description: 'dueAt < dueBefore' }),
  },
  q: {
    op: 'search',
    schema: Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: SAFE_TEXT_PATTERN,
      description: 'substring of title or description, any case',
    }),
  },
} as const satisfies Record<string, FieldFilter | TextFilter>;
export type FilterName = keyof typeof FILTERS;

type FilterValue<F> = F extends { op: 'in'; field: infer K extends FieldName }
  ? NonNullable<Stored<K>>[]
  : F extends { field: infer K extends FieldName }
    ? NonNullable<Stored<K>>
    : string;
/** A list's filters as the repository applies them: stored values, text already lower-cased. */
export type TaskFilter = { [P in FilterName]?: FilterValue<(typeof FILTERS)[P]> };
