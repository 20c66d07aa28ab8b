import { Type } from '@sinclair/typebox';
import { EventId, EventSchema } from './events.schemas.js';

/** The change feed's query and replies (contract §8, "GET /events" and "GET /events/head"). */

/** Event ids are 25 characters; a little room lets a malformed one reach the 400 it deserves. */
const AFTER_MAX_LENGTH = 64;

export const FeedQuery = Type.Object(
  {
    after: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: AFTER_MAX_LENGTH,
        description:
          'an event id: `next` of the previous page, `head`, an SSE `id:` or `Taskforge-Event-Id` (not signed). Omitted: from the oldest retained event. Malformed → 400 invalid_cursor; older than the retention, newer than the head or from another database → 410 events_expired',
      }),
    ),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        default: 20,
        format: 'int32',
        description: 'the most events one page holds',
      }),
    ),
  },
  { additionalProperties: false },
);

export const FeedPageSchema = Type.Object(
  {
    items: Type.Array(Type.Ref(EventSchema), {
      maxItems: 100,
      description: 'the events you may see after `after`, oldest first; possibly none',
    }),
    next: Type.Union([EventId], {
      description:
        'send it as `after` next time; always later than `after`, also when `items` is empty (the read scanned events you may not see)',
    }),
    hasMore: Type.Boolean({
      description:
        'true: events (visible to you or not) follow `next`; read again at once. false: `next` is the head; poll later or open the stream',
    }),
  },
  { $id: 'EventFeedPage', additionalProperties: false },
);

export const FeedHeadSchema = Type.Object(
  {
    head: Type.Union([EventId], {
      description:
        'the newest event id now; on an empty feed an id that sorts before every event (`<tag>-0000000000000000`)',
    }),
  },
  { $id: 'EventFeedHead', additionalProperties: false },
);
