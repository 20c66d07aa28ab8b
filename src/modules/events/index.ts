import { defineModule } from '../../lib/module.js';
import { ActivityCursorPageSchema, ActivityPageSchema, activityRoutes } from './activity.routes.js';
import { ActivityService } from './activity.service.js';
import { EventSchema } from './events.schemas.js';
import { EventsService } from './events.service.js';
import { feedRoutes } from './feed.routes.js';
import { FeedHeadSchema, FeedPageSchema } from './feed.schemas.js';
import { retentionBackground, retentionJob } from './retention.js';

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
  schemas: [EventSchema, ActivityPageSchema, ActivityCursorPageSchema, FeedPageSchema, FeedHeadSchema],
  services: (ctx) => ({ events: new EventsService(ctx), activity: new ActivityService(ctx) }),
  subscribe: (ctx) => ctx.jobs.define(retentionJob(ctx)),
  routes: async (app, options) => {
    await app.register(activityRoutes, options);
    await app.register(feedRoutes, options);
  },
  background: retentionBackground,
});

declare module '../../lib/module.js' {
  interface Services {
    events: EventsService;
    activity: ActivityService;
  }
}

export type { Event } from './events.schemas.js';
