import { defineModule } from '../../lib/module.js';
import { installCallerRateLimit } from '../../plugins/rate-limit.js';
import { installAuthentication, installAuthorization } from './auth.hooks.js';
import { authRoutes } from './auth.routes.js';
import {
  OAuthTokenSchema,
  SessionCursorPageSchema,
  SessionPageSchema,
  SessionSchema,
  TokenPairSchema,
} from './auth.schemas.js';
import { AuthService } from './auth.service.js';
import { AuthStateCache } from './auth-state.js';
import { authStateLoaders } from './auth-state.loaders.js';
import { LoginFailures } from './login-failures.js';
import { endUserSessions } from './sessions.repository.js';
import { sessionsRoutes } from './sessions.routes.js';
import { tokenRoutes } from './token.routes.js';

/** Contract §3: a process that cannot learn of a change at once trusts its cache this long. */
const AUTH_CACHE_MAX_AGE_MS = 5000;

/**
 * Auth: registration, logins, sessions and tokens, and the hooks that tell every route who is
 * calling (lib/principal.ts is what the routes see of it).
 */
export const authModule = defineModule({
  name: 'auth',
  tag: {
    name: 'auth',
    description:
      "Registration, login, token refresh and logout; the caller's sessions; the OAuth2 token endpoint",
  },
  schemas: [TokenPairSchema, OAuthTokenSchema, SessionSchema, SessionPageSchema, SessionCursorPageSchema],
  services: (ctx) => {
    const { database, redis } = ctx;
    const authState = new AuthStateCache(authStateLoaders(ctx), redis, ctx.log, {
      // SQLite tells us when another process committed; PostgreSQL cannot, and Redis cannot
      // promise to (a writer whose link was down could not publish): entries age out there.
      dataVersion: database.dataVersion,
      maxAgeMs: database.dataVersion === null ? AUTH_CACHE_MAX_AGE_MS : null,
      now: ctx.clock,
    });
    const loginFailures = new LoginFailures(ctx, ctx.config.rateLimit.loginFailuresMax);
    return { authState, loginFailures, auth: new AuthService(ctx, authState, loginFailures) };
  },
  subscribe: (ctx) => {
    const { authState } = ctx.services;
    const users = ctx.ports.users;
    // A user's sessions end in the transaction of the change that ends them...
    users.on('disabled', (trx, { userId, at }) => endUserSessions(trx, userId, 'disabled', at));
    users.on('takenOver', (trx, { userId, at }) => endUserSessions(trx, userId, 'admin_takeover', at));
    users.on('passwordChanged', (trx, { userId, at, keepSessionId }) =>
      endUserSessions(trx, userId, 'password_change', at, keepSessionId ?? undefined),
    );
    // A reset through a mailed link keeps no session: whoever held the account is out.
    users.on('passwordReset', (trx, { userId, at }) => endUserSessions(trx, userId, 'password_reset', at));
    // ...(a deleted user's go with its row, by foreign key) and this process's cache, and the
    // other processes' over Redis, forget them once it has committed.
    users.afterCommit('changed', ({ userId }) => authState.userChanged(userId));
    users.afterCommit('disabled', ({ userId }) => authState.userSessionsChanged(userId));
    for (const event of ['deleted', 'takenOver'] as const) {
      users.afterCommit(event, ({ userId }) => {
        authState.userChanged(userId);
        authState.userSessionsChanged(userId);
      });
    }
    // A reset password starts its email's failed logins again (contract §3); clear() never throws.
    users.afterCommit('passwordReset', ({ email }) => void ctx.services.loginFailures.clear(email));
    for (const event of ['passwordChanged', 'passwordReset'] as const) {
      users.afterCommit(event, ({ userId }) => authState.userSessionsChanged(userId));
    }
  },
  install: async (app, ctx) => {
    ctx.services.authState.start();
    installAuthentication(app, ctx.services.auth);
    // The general rate limit, keyed by the caller just authenticated: a 429 before any 401/403.
    installCallerRateLimit(app);
    installAuthorization(app);
  },
  routes: async (app, options) => {
    await app.register(authRoutes, options);
    await app.register(tokenRoutes, options);
    await app.register(sessionsRoutes, options);
  },
  close: (ctx) => ctx.services.authState.stop(),
});

export { CREDENTIAL_BODY_LIMIT, CREDENTIAL_ROUTE, CREDENTIAL_TOO_LARGE } from './auth.schemas.js';

declare module '../../lib/module.js' {
  interface Services {
    auth: AuthService;
    /** What each request needs of its user and session, cached (see auth-state.ts). */
    authState: AuthStateCache;
    /** Failed logins per email (contract §4), cleared by a password reset. */
    loginFailures: LoginFailures;
  }
}
