import { defineModule } from '../../lib/module.js';
import { EventSchema } from './events.schemas.js';
import { EventsService } from './events.service.js';
import { feedRoutes } from './feed.routes.js';
import { FeedHeadSchema, FeedPageSchema } from './feed.schemas.js';

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
  schemas: [EventSchema, FeedPageSchema, FeedHeadSchema],
  services: (ctx) => ({ events: new EventsService(ctx) }),
  routes: async (app, options) => {
    await app.register(feedRoutes, options);
  },
});

declare module '../../lib/module.js' {
  interface Services {
    events: EventsService;
  }
}

export type { Event } from './events.schemas.js';
