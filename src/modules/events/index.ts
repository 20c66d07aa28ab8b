import { defineModule } from '../../lib/module.js';
import { EventSchema } from './events.schemas.js';
import { EventsService } from './events.service.js';
import { streamRoutes } from './stream.routes.js';
import { StreamHub } from './stream-hub.js';

/**
 * Events (contract §8): the change log's reads. Writes record their events through
 * `ctx.changes` (lib/change-log.ts); this module serves them as a task's activity, the change
 * feed and the live stream.
 */
export const eventsModule = defineModule({
  name: 'events',
  tag: {
    name: 'events',
    description: "The change log: a task's activity, the change feed and live updates",
  },
  schemas: [EventSchema],
  services: (ctx) => ({ events: new EventsService(ctx), eventStream: new StreamHub(ctx) }),
  // Every process that writes tells the other instances of its commits (Redis).
  subscribe: (ctx) => ctx.services.eventStream.publishCommits(),
  install: async (app, ctx) => {
    ctx.services.eventStream.listen();
    // Before the server's close, which would otherwise wait for every open stream.
    app.addHook('preClose', async () => ctx.services.eventStream.closeAll());
  },
  routes: async (app, options) => {
    await app.register(streamRoutes, options);
  },
  close: (ctx) => ctx.services.eventStream.stop(),
});

declare module '../../lib/module.js' {
  interface Services {
    events: EventsService;
    /** The live event stream's hub (GET /events/stream): one per app. */
    eventStream: StreamHub;
  }
}

export type { Event } from './events.schemas.js';
