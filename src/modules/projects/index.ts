import { defineModule } from '../../lib/module.js';
import { membersRoutes } from './members.routes.js';
import { MembersService } from './members.service.js';
import { projectsRoutes } from './projects.routes.js';
import {
  MemberCursorPageSchema,
  MemberPageSchema,
  MemberSchema,
  ProjectCursorPageSchema,
  ProjectPageSchema,
  ProjectSchema,
} from './projects.schemas.js';
import { ProjectsService } from './projects.service.js';

/** Projects: personal and shared, with members and their roles (contract §7). */
export const projectsModule = defineModule({
  name: 'projects',
  tag: {
    name: 'projects',
    description:
      "Projects and their members: every user's personal Inbox, shared projects with viewer · commenter · editor · owner roles, archiving; conditional requests with ETag / If-Match",
  },
  schemas: [
    ProjectSchema,
    ProjectPageSchema,
    ProjectCursorPageSchema,
    MemberSchema,
    MemberPageSchema,
    MemberCursorPageSchema,
  ],
  services: (ctx) => {
    const projects = new ProjectsService(ctx);
    return { projects, projectMembers: new MembersService(ctx, projects) };
  },
  subscribe: (ctx) => {
    const { projects } = ctx.services;
    ctx.ports.users.on('created', (trx, { userId, at }) => projects.createPersonal(trx, userId, at));
    // Before the row goes: last_owner rolls the deletion back; lone projects and the Inbox go.
    ctx.ports.users.on('deleted', (trx, { userId, at }) => projects.userDeleted(trx, userId, at));
  },
  routes: async (app, options) => {
    await app.register(projectsRoutes, options);
    await app.register(membersRoutes, options);
  },
});

declare module '../../lib/module.js' {
  interface Services {
    projects: ProjectsService;
    projectMembers: MembersService;
  }
}

export type { ProjectAccess } from './projects.service.js';
