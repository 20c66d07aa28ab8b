import { defineModule } from '../../lib/module.js';
import { StatsCache } from './stats-cache.js';
import { tasksRoutes } from './tasks.routes.js';
import { TaskCursorPageSchema, TaskPageSchema, TaskSchema, TaskStatsSchema } from './tasks.schemas.js';
import { TasksService } from './tasks.service.js';

/** Tasks in projects, with subtasks, conditional requests, filtered and sorted lists, and stats. */
export const tasksModule = defineModule({
  name: 'tasks',
  tag: {
    name: 'tasks',
    description:
      'Tasks in projects (the project role decides writes), with subtasks; conditional requests with ETag / If-Match',
  },
  schemas: [TaskSchema, TaskPageSchema, TaskStatsSchema, TaskCursorPageSchema],
  services: (ctx) => ({ tasks: new TasksService(ctx), statsCache: new StatsCache(ctx) }),
  subscribe: (ctx) => {
    // Tasks assigned to a deleted user lose the assignee with a new version (before the foreign
    // key's ON DELETE SET NULL could do it without one); the tasks it owns stay, with ownerId
    // null. After the projects module's listener: its lone projects' tasks are gone by then.
    ctx.ports.users.on('deleted', (trx, { userId, at }) => ctx.services.tasks.userDeleted(trx, userId, at));
  },
  routes: tasksRoutes,
});

declare module '../../lib/module.js' {
  interface Services {
    tasks: TasksService;
    /** GET /tasks/stats per caller; `counts()` is its hit ratio. */
    statsCache: StatsCache;
  }
}

export type { Task } from './tasks.schemas.js';
export type { TaskAccess } from './tasks.service.js';
