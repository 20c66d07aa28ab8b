import { type Static, Type } from '@sinclair/typebox';
import { EVENT_ID_EXAMPLE, EVENT_ID_PATTERN, EVENT_TYPES } from '../../lib/change-log.js';
import { Id } from '../../lib/common-schemas.js';

/** The event resource (contract §8). */

export const EventId = Type.String({
  pattern: EVENT_ID_PATTERN,
  maxLength: 25,
  description: 'opaque; sorts as a string in commit order',
  examples: [EVENT_ID_EXAMPLE],
});

const Timestamp = Type.String({ format: 'date-time', maxLength: 40, examples: ['2031-01-01T08:00:00.000Z'] });

const EXAMPLE = {
  id: EVENT_ID_EXAMPLE,
  type: 'task.updated',
  occurredAt: '2031-01-01T08:00:00.000Z',
  actor: { type: 'user', id: '01935c1d-0b1e-7f00-8c55-5b0f3a1d2e3f' },
  projectId: '01935c1a-1111-7aaa-8bbb-000000000001',
  subject: { type: 'task', id: '01935c1e-7a4f-7cc2-a0c3-0c8f4a9e1b2d' },
  changes: { status: { from: 'todo', to: 'done' } },
  data: { id: '01935c1e-7a4f-7cc2-a0c3-0c8f4a9e1b2d', status: 'done' },
};

export const EventSchema = Type.Object(
  {
    id: EventId,
    type: Type.String({ enum: [...EVENT_TYPES] }),
    occurredAt: Timestamp,
    actor: Type.Object(
      {
        type: Type.String({ enum: ['user', 'api_key', 'system'] }),
        id: Type.Union([Id, Type.Null()], {
          description: "the user's or the API key's id; null for the system",
        }),
      },
      { additionalProperties: false },
    ),
    projectId: Id,
    subject: Type.Object(
      {
        type: Type.String({ enum: ['project', 'member', 'task', 'comment'] }),
        id: Type.Union([Id], { description: "a member's id is its user's id" }),
      },
      { additionalProperties: false },
    ),
    changes: Type.Union(
      [
        Type.Record(
          Type.String({ maxLength: 40, pattern: '^[a-zA-Z]+$' }),
          Type.Object({ from: Type.Unknown(), to: Type.Unknown() }, { additionalProperties: false }),
          { maxProperties: 40 },
        ),
        Type.Null(),
      ],
      {
        description:
          'on *.updated and member.changed: exactly the fields that changed (never version or updatedAt); else null',
      },
    ),
    data: Type.Object(
      {},
      {
        additionalProperties: true,
        maxProperties: 40,
        description:
          'the subject (Project, Member, Task or Comment) after the change; before it, for *.deleted',
      },
    ),
  },
  { $id: 'Event', additionalProperties: false, examples: [EXAMPLE] },
);
export type Event = Static<typeof EventSchema>;
