import type { AppContext } from '../../lib/module.js';
import type { AuthStateLoaders } from './auth-state.js';
import { findSessionState } from './sessions.repository.js';

/**
 * Where the auth cache reads from on a miss: the users module for users, the api-keys module for
 * keys (through their services), our own table for sessions.
 */
export function authStateLoaders(ctx: AppContext): AuthStateLoaders {
  return {
    user: (id) => ctx.services.users.state(id),
    async session(id) {
      const row = await findSessionState(ctx.database.db, id);
      return row ? { userId: row.user_id, ended: row.ended_at !== null } : null;
    },
    apiKey: (prefix) => ctx.services.apiKeys.stateOf(prefix),
  };
}
