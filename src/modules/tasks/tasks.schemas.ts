import { type Static, Type } from '@sinclair/typebox';
import { Count, CursorPageOf, CursorParams, PageOf, StringEnum } from '../../lib/common-schemas.js';
import { MULTILINE_TEXT_PATTERN, SAFE_TEXT_PATTERN } from '../../lib/text.js';
import { UserId } from '../users/users.schemas.js';

export const STATUSES = ['todo', 'in_progress', 'done'] as const;
export const PRIORITIES = ['low', 'medium', 'high'] as const;
export type Status = (typeof STATUSES)[number];
export type Priority = (typeof PRIORITIES)[number];

export const SORTS = ['createdAt', 'updatedAt', 'dueAt', 'priority', 'title'] as const;
export type SortKey = (typeof SORTS)[number];
const SORT_VALUES = SORTS.flatMap((s) => [s, `-${s}`]);

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
const StatusSchema = StringEnum(STATUSES, { description: 'todo · in_progress · done' });
const PrioritySchema = StringEnum(PRIORITIES, { description: 'low · medium · high' });
const AssigneeId = Type.Union([UserId, Type.Null()], { description: 'the id of an existing user, or null' });

export const TaskSchema = Type.Object(
  {
    id: UserId,
    ownerId: UserId,
    assigneeId: Type.Union([UserId, Type.Null()]),
    title: Type.String({ maxLength: 200 }),
    description: Type.String({ maxLength: 10_000 }),
    status: StatusSchema,
    priority: PrioritySchema,
    startAt: NullableTimestamp,
    dueAt: NullableTimestamp,
    tags: Type.Array(Type.String({ maxLength: 32 }), { maxItems: 20 }),
    completedAt: NullableTimestamp,
    version: Count({ minimum: 1 }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  {
    $id: 'Task',
    additionalProperties: false,
    examples: [
      {
        id: '01935c1e-7a4f-7cc2-a0c3-0c8f4a9e1b2d',
        ownerId: '01935c1d-0b1e-7f00-8c55-5b0f3a1d2e3f',
        assigneeId: null,
        title: 'Buy milk',
        description: '',
        status: 'todo',
        priority: 'medium',
        startAt: null,
        dueAt: '2031-01-01T08:00:00.000Z',
        tags: ['home'],
        completedAt: null,
        version: 1,
        createdAt: '2026-11-22T01:15:37.000Z',
        updatedAt: '2026-11-22T01:15:37.000Z',
      },
    ],
  },
);
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

const READ_ONLY = ['id', 'ownerId', 'completedAt', 'version', 'createdAt', 'updatedAt'];

/** The writable state; `title` is required on create and PUT. */
const writable = {
  description: Type.Optional(Description),
  status: Type.Optional(StatusSchema),
  priority: Type.Optional(PrioritySchema),
  startAt: Type.Optional(NullableTimestamp),
  dueAt: Type.Optional(NullableTimestamp),
  tags: Type.Optional(Tags),
  assigneeId: Type.Optional(AssigneeId),
};

export const CreateTaskBody = Type.Object(
  { title: Title, ...writable },
  {
    additionalProperties: false,
    'x-read-only': READ_ONLY,
    examples: [{ title: 'Buy milk', dueAt: '2031-01-01T10:00:00+02:00', tags: ['home'], priority: 'high' }],
  },
);
export const ReplaceTaskBody = CreateTaskBody;
export const PatchTaskBody = Type.Object(
  { title: Type.Optional(Title), ...writable },
  { additionalProperties: false, 'x-read-only': READ_ONLY, description: 'JSON merge patch (RFC 7396)' },
);
export type TaskInput = Static<typeof PatchTaskBody>;

/** The filters and the sort, shared by both versions' task lists. */
const taskListFilters = {
  status: Type.Optional(
    Type.Array(StatusSchema, { maxItems: 3, description: 'comma-separated or repeated' }),
  ),
  priority: Type.Optional(
    Type.Array(PrioritySchema, { maxItems: 3, description: 'comma-separated or repeated' }),
  ),
  tag: Type.Optional(Type.String({ minLength: 1, maxLength: 32, pattern: '^[A-Za-z0-9_-]+$' })),
  assigneeId: Type.Optional(UserId),
  ownerId: Type.Optional(UserId),
  dueAfter: Type.Optional(
    Type.String({ format: 'date-time', maxLength: 40, description: 'dueAt ≥ dueAfter' }),
  ),
  dueBefore: Type.Optional(
    Type.String({ format: 'date-time', maxLength: 40, description: 'dueAt < dueBefore' }),
  ),
  q: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: SAFE_TEXT_PATTERN,
      description: 'substring of title or description, any case',
    }),
  ),
  sort: Type.Optional(
    StringEnum(SORT_VALUES, { default: '-createdAt', description: 'prefix - for descending' }),
  ),
};

export const TaskListQuery = Type.Object(
  {
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1, format: 'int32' })),
    size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20, format: 'int32' })),
    ...taskListFilters,
  },
  { additionalProperties: false },
);

/** Version 2: the same filters and sort, with a cursor instead of a page number. */
export const TaskCursorQuery = Type.Object(
  { ...CursorParams, ...taskListFilters },
  { additionalProperties: false },
);
export type TaskCursorQueryType = Static<typeof TaskCursorQuery>;

export type TaskListQueryType = Static<typeof TaskListQuery>;

export const TaskIdParams = Type.Object({ id: UserId });
