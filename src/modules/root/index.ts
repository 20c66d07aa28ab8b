import { defineModule } from '../../lib/module.js';
import { rootRoutes } from './root.routes.js';

/** GET /: what answers at the base URL, and where its docs are. */
export const rootModule = defineModule({
  name: 'root',
  tag: { name: 'about', description: 'What answers at the base URL, and where the docs are' },
  rootRoutes,
});
