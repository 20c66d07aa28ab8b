import { type Static, Type } from '@sinclair/typebox';
import { EVENT_ID_EXAMPLE } from '../../lib/change-log.js';
import { Count, Id } from '../../lib/common-schemas.js';
import { CursorPageOf, PageOf } from '../../lib/lists.js';

/** A webhook's delivery log (contract §8, "Deliveries"). */

const Timestamp = Type.String({ format: 'date-time', maxLength: 30, examples: ['2031-01-01T08:00:00.000Z'] });

/** An event's id, or a ping's: `ping-` and a UUID, which no event id can be. */
export const DeliveryEventId = Type.String({
  maxLength: 41,
  pattern: '^([0-9a-f]{8}-[0-9]{16}|ping-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$',
  description:
    "the event's id (Taskforge-Event-Id, the same on every attempt and on a redelivery); a ping's is `ping-` and a UUID",
  examples: [EVENT_ID_EXAMPLE],
});

export const DeliverySchema = Type.Object(
  {
    id: Id,
    eventId: DeliveryEventId,
    type: Type.String({
      maxLength: 40,
      pattern: '^[a-z]+(\\.[a-z]+)?$',
      description: 'the event type (Taskforge-Event), or `ping`',
      examples: ['task.updated'],
    }),
    attempt: Type.Integer({
      minimum: 0,
      maximum: 8,
      format: 'int32',
      description: 'attempts made so far (0: the first has not been made yet)',
    }),
    status: Type.String({ enum: ['pending', 'succeeded', 'failed'] }),
    responseStatus: Type.Union([Type.Integer({ minimum: 100, maximum: 599, format: 'int32' }), Type.Null()], {
      description: "the receiver's status on the last attempt; null when none arrived",
    }),
    durationMs: Type.Union([Count({ format: 'int32', maximum: 2_147_483_647 }), Type.Null()], {
      description: 'how long the last attempt took',
    }),
    error: Type.Union([Type.String({ maxLength: 500 }), Type.Null()], {
      description: 'why the last attempt failed; null when it succeeded or none was made',
    }),
    responseBody: Type.Union([Type.String({ maxLength: 1024 }), Type.Null()], {
      description: 'the first 1 KiB of the reply to the last attempt',
    }),
    createdAt: Timestamp,
  },
  { $id: 'WebhookDelivery', additionalProperties: false },
);
export type Delivery = Static<typeof DeliverySchema>;

export const DeliveryPageSchema = PageOf(DeliverySchema, 'WebhookDeliveryPage');
export const DeliveryCursorPageSchema = CursorPageOf(DeliverySchema, 'WebhookDeliveryCursorPage');

export const WebhookIdParams = Type.Object({ id: Id });
export const DeliveryIdParams = Type.Object({ id: Id, deliveryId: Id });
