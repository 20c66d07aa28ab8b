import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { problemResponses } from '../../lib/common-schemas.js';
import { listRoute } from '../../lib/lists.js';
import type { VersionOptions } from '../../lib/module.js';
import { callerOf, TOKEN_ONLY } from '../../lib/principal.js';
import {
  DeliveryCursorPageSchema,
  DeliveryIdParams,
  DeliveryPageSchema,
  DeliverySchema,
  WebhookIdParams,
} from './deliveries.schemas.js';

/** Signed in with an access token, any role; API keys cannot reach webhooks (403). */
const TOKEN = { auth: {} };

const ABOUT =
  "The webhook must be one of the caller's (another's, or none: 404). Webhooks take an access token only: an API key gets 403 `forbidden`. Replies are `Cache-Control: no-store`.";

const ACCEPTED = {
  description: 'Accepted: the new delivery, pending; its first attempt starts within seconds',
  content: { 'application/json': { schema: Type.Ref(DeliverySchema) } },
};

export const deliveriesRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { version, ctx }) => {
  const { webhookDeliveries } = ctx.services;
  const tags = ['webhooks'];

  listRoute(app, version, {
    url: '/webhooks/:id/deliveries',
    operationId: 'listWebhookDeliveries',
    tags,
    security: TOKEN_ONLY,
    config: TOKEN,
    what: 'deliveries',
    summary: {
      v1: "A page of a webhook's deliveries, newest first",
      v2: "A webhook's deliveries, newest first, a cursor page at a time",
    },
    description: `One delivery is one event (or ping) sent to this webhook; its attempts share its id and raise \`attempt\` (at most 8, over 24 hours; the first retry no sooner than 10 s after the first attempt). \`status\` is \`pending\` until an attempt gets a 2xx (\`succeeded\`) or the last one fails (\`failed\`; the webhook then turns inactive with a \`disabledReason\`); a delivery whose event its owner may no longer see is \`failed\` with error "no longer visible", one whose webhook was turned inactive meanwhile is \`failed\` with error "the webhook is not active", and one whose owner was disabled is \`failed\` with error "its owner is disabled" (a disabled user's webhooks get no new deliveries): none of these is sent. \`responseStatus\`, \`durationMs\`, \`error\` and \`responseBody\` (the first 1 KiB of the reply) describe the last attempt. ${ABOUT}`,
    cursorBinding: 'the caller and the webhook',
    filters: {},
    params: WebhookIdParams,
    pageSchema: DeliveryPageSchema,
    cursorPageSchema: DeliveryCursorPageSchema,
    problems: [401, 403, 404, 422, 429, 500],
    page: (request, _filter, page) =>
      webhookDeliveries.list(callerOf(request).userId, (request.params as { id: string }).id, page),
    cursorPage: (request, _filter, cursor) =>
      webhookDeliveries.listAfter(callerOf(request).userId, (request.params as { id: string }).id, cursor),
  });

  app.post(
    '/webhooks/:id/deliveries/:deliveryId/redeliver',
    {
      config: TOKEN,
      schema: {
        tags,
        operationId: 'redeliverWebhookDelivery',
        summary: "Send a delivery's event again, as a new delivery",
        description: `202 with the new delivery: the same event (the same body, \`Taskforge-Event-Id\` and event type; a new \`Taskforge-Delivery\` id and signature), with a schedule of attempts of its own, from the first; the original is left as it is. The event must still be retained (\`EVENTS_RETENTION\`), else 410 \`events_expired\`; a ping is sent again as it was. The owner must still be allowed to see the event when it is sent. An inactive webhook → 409 \`conflict\` (nothing is sent to it: set \`active\` first). The delivery must be one of this webhook's (else 404). Takes no body. ${ABOUT}`,
        security: TOKEN_ONLY,
        params: DeliveryIdParams,
        response: { 202: ACCEPTED, ...problemResponses(401, 403, 404, 409, 410, 429, 500) },
      },
    },
    async (request, reply) => {
      const { id, deliveryId } = request.params;
      const delivery = await webhookDeliveries.redeliver(callerOf(request).userId, id, deliveryId);
      return reply.code(202).send(delivery);
    },
  );

  app.post(
    '/webhooks/:id/ping',
    {
      config: TOKEN,
      schema: {
        tags,
        operationId: 'pingWebhook',
        summary: 'Send the webhook a ping event, to test its receiver',
        description: `202 with the new delivery of \`{ "type": "ping", "id": "ping-<uuid>", "occurredAt": "<now>", "webhookId": "<id>" }\`: signed and sent like an event (\`Taskforge-Event: ping\`, \`Taskforge-Event-Id\` the ping's id, which starts with \`ping-\` so it never equals an event's id), and retried the same way when it fails. An inactive webhook → 409 \`conflict\` (set \`active\` first). Takes no body. ${ABOUT}`,
        security: TOKEN_ONLY,
        params: WebhookIdParams,
        response: { 202: ACCEPTED, ...problemResponses(401, 403, 404, 409, 429, 500) },
      },
    },
    async (request, reply) => {
      const delivery = await webhookDeliveries.ping(callerOf(request).userId, request.params.id);
      return reply.code(202).send(delivery);
    },
  );
};
