import { type AppContext, defineModule } from '../../lib/module.js';
import { deliveriesRoutes } from './deliveries.routes.js';
import { DeliveryCursorPageSchema, DeliveryPageSchema, DeliverySchema } from './deliveries.schemas.js';
import { DeliveriesService } from './deliveries.service.js';
import { deliveryJob } from './delivery-job.js';
import { Dispatcher } from './dispatcher.js';
import { HttpTransport, type WebhookTransport } from './transport.js';

/**
 * Webhook deliveries (contract §8, "Deliveries"): the dispatcher that turns committed events into
 * deliveries, the signed attempts with their retries over 24 hours, the delivery log, redelivery
 * and ping. `transport` is the one seam to the network: the URL policy's transport (address checks
 * after DNS) replaces the plain one here.
 */
export function createWebhookDeliveriesModule(
  transport: (ctx: AppContext) => WebhookTransport = () => new HttpTransport(),
) {
  return defineModule({
    name: 'webhook-deliveries',
    tag: { name: 'webhooks', description: "The caller's webhooks: their deliveries, redelivery and ping" },
    schemas: [DeliverySchema, DeliveryPageSchema, DeliveryCursorPageSchema],
    services: (ctx) => ({ webhookDeliveries: new DeliveriesService(ctx) }),
    subscribe: (ctx) => ctx.jobs.define(deliveryJob(ctx, transport(ctx))),
    background: (ctx) => new Dispatcher(ctx),
    routes: deliveriesRoutes,
  });
}

export const webhookDeliveriesModule = createWebhookDeliveriesModule();

declare module '../../lib/module.js' {
  interface Services {
    webhookDeliveries: DeliveriesService;
  }
}
