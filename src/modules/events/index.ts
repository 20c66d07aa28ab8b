import { defineModule } from '../../lib/module.js';
import { ActivityCursorPageSchema, ActivityPageSchema, activityRoutes } from './activity.routes.js';
import { ActivityService } from './activity.service.js';
import { EventSchema } from './events.schemas.js';
import { EventsService } from './events.service.js';
import { feedRoutes } from './feed.routes.js';
import { FeedHeadSchema, FeedPageSchema } from './feed.schemas.js';
import { retentionBackground, retentionJob } from './retention.js';
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
  schemas: [EventSchema, ActivityPageSchema, ActivityCursorPageSchema, FeedPageSchema, FeedHeadSchema],
  services: (ctx) => ({
    events: new EventsService(ctx),
    activity: new ActivityService(ctx),
    eventStream: new StreamHub(ctx),
  }),
  subscribe: (ctx) => {
    ctx.jobs.define(retentionJob(ctx));
    // Every process that writes tells the other instances of its commits (Redis).
    ctx.services.eventStream.publishCommits();
  },
  install: async (app, ctx) => {
    ctx.services.eventStream.listen();
    // Before the server's close, which would otherwise wait for every open stream.
    app.addHook('preClose', async () => ctx.services.eventStream.closeAll());
  },
  routes: async (app, options) => {
    await app.register(activityRoutes, options);
    await app.register(feedRoutes, options);
    await app.register(streamRoutes, options);
  },
  background: retentionBackground,
  close: (ctx) => ctx.services.eventStream.stop(),
});

declare module '../../lib/module.js' {
  interface Services {
    events: EventsService;
    activity: ActivityService;
    /** The live event stream's hub (GET /events/stream): one per app. */
    eventStream: StreamHub;
  }
}

export type { Event } from './events.schemas.js';
