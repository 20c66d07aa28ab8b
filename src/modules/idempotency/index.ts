import { defineModule } from '../../lib/module.js';
import { cleanupBackground, cleanupJob } from './cleanup.js';
import { installIdempotency } from './idempotency.hooks.js';
import { IdempotencyService } from './idempotency.service.js';

/**
 * Idempotency keys (contract §4) on the create routes that declare `config.idempotency`: the
 * hooks claim and replay (lib/idempotency.ts is what the routes see of it), the hourly job
 * deletes expired records.
 */
export const idempotencyModule = defineModule({
  name: 'idempotency',
  services: (ctx) => ({ idempotency: new IdempotencyService(ctx) }),
  subscribe: (ctx) => ctx.jobs.define(cleanupJob(ctx)),
  install: async (app, ctx) => installIdempotency(app, ctx.services.idempotency),
  background: cleanupBackground,
});

declare module '../../lib/module.js' {
  interface Services {
    idempotency: IdempotencyService;
  }
}
