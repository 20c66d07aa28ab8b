import { defineModule } from '../../lib/module.js';
import { deletePersonalProject } from './projects.repository.js';
import { ProjectsService } from './projects.service.js';

/** Projects: personal and shared, with members and their roles (contract §7). */
export const projectsModule = defineModule({
  name: 'projects',
  services: (ctx) => ({ projects: new ProjectsService(ctx) }),
  subscribe: (ctx) => {
    const { projects } = ctx.services;
    ctx.ports.users.on('created', (trx, { userId, at }) => projects.createPersonal(trx, userId, at));
    ctx.ports.users.on('deleted', (trx, { userId }) => deletePersonalProject(trx, userId));
  },
});

declare module '../../lib/module.js' {
  interface Services {
    projects: ProjectsService;
  }
}

export type { ProjectAccess } from './projects.service.js';
