import { defineModule } from '../../lib/module.js';
import { problemsRoutes } from './problems.routes.js';

/** What each problem type in an error body means: the pages its `type` URI points to. */
export const problemsModule = defineModule({
  name: 'problems',
  tag: { name: 'problems', description: 'Descriptions of the problem types named in error responses' },
  rootRoutes: problemsRoutes,
});
