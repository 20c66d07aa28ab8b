import { defineModule } from '../../lib/module.js';
import { passwordResetRoutes } from './password-reset.routes.js';
import { PasswordResetService } from './password-reset.service.js';

/**
 * Password reset by mail (contract §3): the request queues a job, the job issues a single-use
 * link and mails it, the confirmation sets the password through the users module (whose
 * `passwordReset` event ends every session). Its routes appear in the auth section of the docs.
 */
export const passwordResetModule = defineModule({
  name: 'password-reset',
  services: (ctx) => ({ passwordReset: new PasswordResetService(ctx) }),
  subscribe: (ctx) => ctx.jobs.define(ctx.services.passwordReset.mailJob()),
  routes: passwordResetRoutes,
});

declare module '../../lib/module.js' {
  interface Services {
    passwordReset: PasswordResetService;
  }
}

export {
  LINK_LIFETIME_MS,
  MAILS_PER_HOUR,
  RESET_MAIL_JOB,
  RESET_MAIL_RETRY,
} from './password-reset.service.js';
