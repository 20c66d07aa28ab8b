import { defineModule } from '../../lib/module.js';
import { healthRoutes } from './health.routes.js';
import { HealthService } from './health.service.js';

/** Liveness and readiness probes, outside the API versions. */
export const healthModule = defineModule({
  name: 'health',
  tag: { name: 'health', description: 'Liveness and readiness probes for orchestrators and load balancers' },
  services: (ctx) => ({ health: new HealthService(ctx) }),
  rootRoutes: healthRoutes,
});

declare module '../../lib/module.js' {
  interface Services {
    health: HealthService;
  }
}
