import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { findUserById } from '../users/users.repository.js';
import type { AuthStateLoaders } from './auth-state.js';
import { findSessionState } from './sessions.repository.js';

/** Where the auth cache reads from on a miss. */
export function authStateLoaders(db: Kysely<Database>): AuthStateLoaders {
  return {
    async user(id) {
      const row = await findUserById(db, id);
      return row ? { role: row.role, disabled: row.disabled === 1 } : null;
    },
    async session(id) {
      const row = await findSessionState(db, id);
      return row ? { userId: row.user_id, ended: row.ended_at !== null } : null;
    },
  };
}
