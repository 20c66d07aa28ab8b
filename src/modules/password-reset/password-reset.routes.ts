import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../../lib/common-schemas.js';
import type { VersionOptions } from '../../lib/module.js';
import { CREDENTIAL_BODY_LIMIT, CREDENTIAL_ROUTE, CREDENTIAL_TOO_LARGE } from '../auth/index.js';
import { PasswordResetConfirmBody, PasswordResetRequestBody } from './password-reset.schemas.js';

/** POST /auth/password-reset and /confirm: credential routes, no credentials. */
export const passwordResetRoutes: FastifyPluginAsyncTypebox<VersionOptions> = async (app, { ctx }) => {
  const { passwordReset } = ctx.services;
  const tags = ['auth'];

  app.post(
    '/auth/password-reset',
    {
      bodyLimit: CREDENTIAL_BODY_LIMIT,
      config: CREDENTIAL_ROUTE,
      schema: {
        tags,
        operationId: 'requestPasswordReset',
        security: [], // a credential route: it takes none
        summary: 'Mail a password-reset link (202 whatever the email)',
        description:
          'Answers 202 to every body that passes validation, with the same reply and the same work for any email: it queues one job in the database and returns. After the reply, the job mails the account of that email (if it exists and is not disabled) a single-use link to `PASSWORD_RESET_URL`, valid 30 minutes; the new link invalidates the older ones; at most 3 mails per email per hour (further requests are accepted and send nothing). A mail server that is slow or down never slows or fails this request: the mail is retried with backoff for up to 24 hours, across restarts.',
        body: PasswordResetRequestBody,
        response: {
          202: { description: 'Accepted: a link is mailed if the account exists', type: 'null' },
          ...problemResponses(400, 415, 422, 429, 500),
          ...CREDENTIAL_TOO_LARGE,
        },
      },
    },
    async (request, reply) => {
      await passwordReset.request(request.body.email);
      return reply.code(202).send();
    },
  );

  app.post(
    '/auth/password-reset/confirm',
    {
      bodyLimit: CREDENTIAL_BODY_LIMIT,
      config: CREDENTIAL_ROUTE,
      schema: {
        tags,
        operationId: 'confirmPasswordReset',
        security: [], // a credential route: it takes none
        summary: "Set a new password with a mailed link's token; every session ends",
        description:
          "`token` is the one of the mailed link. The new password follows the password rules (422 `validation_failed` for its length, `weak_password` for a common one or one that contains the email's local part; the link stays usable). On success every session of the account ends and the login-failure counter of its email clears. A used, expired, replaced or unknown token → 400 `invalid_reset_token`, and so does the link of an account that has been disabled since (an administrator restores such an account).",
        body: PasswordResetConfirmBody,
        response: {
          204: { description: 'Password set; every session ended', type: 'null' },
          ...problemResponses(400, 415, 422, 429, 500),
          ...CREDENTIAL_TOO_LARGE,
        },
      },
    },
    async (request, reply) => {
      await passwordReset.confirm(request.body.token, request.body.newPassword);
      return reply.code(204).send();
    },
  );
};
