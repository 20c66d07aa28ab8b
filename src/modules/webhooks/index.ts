import { defineModule } from '../../lib/module.js';
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
 * Webhooks (contract §8): a user's own HTTP receivers of the events it may see.
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
  schemas: [WebhookSchema, NewWebhookSchema, WebhookPageSchema, WebhookCursorPageSchema],
  services: (ctx) => ({ webhooks: new WebhooksService(ctx) }),
  subscribe: (ctx) => {
    // Contract §2: whoever held the account before a takeover keeps no webhook (in its transaction).
    // A deleted user's webhooks go with its row (foreign key).
    ctx.ports.users.on('takenOver', (trx, { userId }) => deleteUserWebhooks(trx, userId));
  },
  routes: webhooksRoutes,
});

declare module '../../lib/module.js' {
  interface Services {
    webhooks: WebhooksService;
  }
}
