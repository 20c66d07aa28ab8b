import { defineModule } from '../../lib/module.js';
import { commentsRoutes } from './comments.routes.js';
import { CommentCursorPageSchema, CommentPageSchema, CommentSchema } from './comments.schemas.js';
import { CommentsService } from './comments.service.js';

/**
 * Comments on tasks (contract §7). They follow their task: deleted with it (foreign key), as
 * visible as it, and kept with `authorId: null` when their author's account goes (foreign key).
 */
export const commentsModule = defineModule({
  name: 'comments',
  tag: {
    name: 'comments',
    description: 'Comments on tasks: as visible as their task; commenters and up write',
  },
  schemas: [CommentSchema, CommentPageSchema, CommentCursorPageSchema],
  services: (ctx) => ({ comments: new CommentsService(ctx) }),
  subscribe: (ctx) => {
    // After the projects and tasks modules' listeners: the comments of its lone projects are gone.
    ctx.ports.users.on('deleted', (trx, { userId, at }) =>
      ctx.services.comments.userDeleted(trx, userId, at),
    );
  },
  routes: commentsRoutes,
});

declare module '../../lib/module.js' {
  interface Services {
    comments: CommentsService;
  }
}

export type { Comment } from './comments.schemas.js';
