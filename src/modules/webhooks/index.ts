import { defineModule } from '../../lib/module.js';
import { deliveriesRoutes } from './deliveries.routes.js';
import { DeliveryCursorPageSchema, DeliveryPageSchema, DeliverySchema } from './deliveries.schemas.js';
import { DeliveriesService } from './deliveries.service.js';
import { deliveryJob } from './delivery-job.js';
import { Dispatcher } from './dispatcher.js';
import { deleteUserWebhooks } from './webhooks.repository.js';
import { webhooksRoutes } from './webhooks.routes.js';
import {
  NewWebhookSchema,
  WebhookCursorPageSchema,
  WebhookPageSchema,
  WebhookSchema,
} from './webhooks.schemas.js';
import { WebhooksService } from './webhooks.service.js';

/**
 * Webhooks (contract §8): a user's own HTTP receivers of the events it may see, and their
 * deliveries: the dispatcher (background work) turns committed events into deliveries, the
 * `webhook-delivery` job makes each signed attempt with its retries over 24 hours, and the routes
 * show the delivery log, redeliver and ping.
 *
 * For the delivery code (deliveries.*, dispatcher.ts, delivery-job.ts):
 * - `ctx.services.webhooks.transport` is the `WebhookTransport` to send every attempt with: a
 *   SafeTransport (transport.ts) that checks the URL and every address of its host again (url-policy.ts)
 *   and connects to the checked address; a refused one is `{ ok: false, status: null, error:
 *   'address not allowed: …' }` without any connection. No redirects, 10 s in all, ≤ 64 KiB read.
 *   Tests may assign another transport there, or build one with `createWebhookTransport(policy,
 *   { timeoutMs })`.
 * - `ctx.services.webhooks.deliveryTarget(id)` is the stored row, its `secret` included (sign with
 *   signature.ts); `toWebhook(row)` (webhooks.service.ts) is its API shape.
 */
export const webhooksModule = defineModule({
  name: 'webhooks',
  tag: {
    name: 'webhooks',
    description:
      "The caller's webhooks: HTTPS receivers of the events it may see, signed with a secret shown once; access tokens only",
  },
  schemas: [
    WebhookSchema,
    NewWebhookSchema,
    WebhookPageSchema,
    WebhookCursorPageSchema,
    DeliverySchema,
    DeliveryPageSchema,
    DeliveryCursorPageSchema,
  ],
  services: (ctx) => ({ webhooks: new WebhooksService(ctx), webhookDeliveries: new DeliveriesService(ctx) }),
  subscribe: (ctx) => {
    // Every attempt goes through the webhooks service's transport, read when it is made (tests swap it).
    ctx.jobs.define(deliveryJob(ctx, { send: (delivery) => ctx.services.webhooks.transport.send(delivery) }));
    // Contract §2: whoever held the account before a takeover keeps no webhook (in its transaction).
    // A deleted user's webhooks go with its row (foreign key).
    ctx.ports.users.on('takenOver', (trx, { userId }) => deleteUserWebhooks(trx, userId));
  },
  background: (ctx) => new Dispatcher(ctx),
  routes: async (app, options) => {
    await app.register(webhooksRoutes, options);
    await app.register(deliveriesRoutes, options);
  },
});

declare module '../../lib/module.js' {
  interface Services {
    webhooks: WebhooksService;
    webhookDeliveries: DeliveriesService;
  }
}
