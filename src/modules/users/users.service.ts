import { uuidv7 } from 'uuidv7';
import type { DatabaseHandle } from '../../db/database.js';
import { isUniqueViolation } from '../../db/sql.js';
import { ApiError } from '../../errors.js';
import type { CursorSigner } from '../../lib/cursor.js';
import { isEmail, normalizeEmail } from '../../lib/email.js';
import { weakPasswordReason } from '../../lib/password-policy.js';
import type { PasswordHasher } from '../../lib/passwords.js';
import type { Role } from '../../lib/principal.js';
import type { AuthStateCache } from '../auth/auth-state.js';
import { endUserSessions } from '../auth/sessions.repository.js';
import { unassignAll } from '../tasks/tasks.repository.js';
import * as repo from './users.repository.js';
import type { User } from './users.schemas.js';

export function toUser(row: repo.UserRow): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    disabled: row.disabled === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Rolls back a deletion that the last-admin rule refused. */
class KeptUser extends Error {}

export interface NewUser {
  email: string;
  password: string;
  name: string;
  role?: Role;
}

export interface UserUpdate {
  name?: string;
  role?: Role;
  disabled?: boolean;
}

export interface CursorPage<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  size: number;
  pages: number;
}

/** The rules about users: registration, roles, the last admin, disabling, deletion. */
export class UsersService {
  private readonly db: repo.Db;

  constructor(
    private readonly database: DatabaseHandle,
    private readonly hasher: PasswordHasher,
    private readonly authState: AuthStateCache,
  ) {
    this.db = database.db;
  }

  async create(input: NewUser): Promise<User> {
    // Routes check the format in their schema; the bootstrap and the command-line tool arrive here unchecked.
    if (!isEmail(input.email)) {
      throw new ApiError('validation_failed', {
        detail: 'The email is not a valid address (ASCII only)',
        errors: [{ pointer: '/email', code: 'format', detail: 'must be a valid email' }],
      });
    }
    const email = normalizeEmail(input.email);
    const weak = weakPasswordReason(input.password, email);
    if (weak) {
      throw new ApiError('weak_password', {
        detail: `The password ${weak}`,
        errors: [{ pointer: '/password', code: 'weak_password', detail: weak }],
      });
    }
    const now = new Date().toISOString();
    const row = {
      id: uuidv7(),
      email,
      name: input.name,
      role: input.role ?? 'user',
      password_hash: await this.hasher.hash(input.password),
      created_at: now,
      updated_at: now,
    } as const;
    try {
      await repo.insertUser(this.db, row);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ApiError('email_taken');
      throw error;
    }
    return toUser({ ...row, disabled: 0 });
  }

  async get(id: string): Promise<User> {
    const row = await repo.findUserById(this.db, id);
    if (!row) throw new ApiError('not_found');
    return toUser(row);
  }

  async list(filter: repo.UserFilter, page: number, size: number): Promise<Page<User>> {
    const [rows, total] = await Promise.all([
      repo.listUsers(this.db, filter, size, (page - 1) * size),
      repo.countUsers(this.db, filter),
    ]);
    return { items: rows.map(toUser), total, page, size, pages: Math.ceil(total / size) };
  }

  /** Version 2: newest first, a cursor page at a time. */
  async listAfter(
    cursors: CursorSigner,
    callerId: string,
    filter: repo.UserFilter,
    limit: number,
    cursor: string | undefined,
  ): Promise<CursorPage<User>> {
    const binding = { list: 'users', caller: callerId, filter };
    let after: { createdAt: string; id: string } | null = null;
    if (cursor !== undefined) {
      const p = cursors.open(binding, cursor) as { v?: unknown; id?: unknown } | null;
      if (typeof p?.v !== 'string' || typeof p.id !== 'string') throw new ApiError('invalid_cursor');
      after = { createdAt: p.v, id: p.id };
    }
    const rows = await repo.listUsers(this.db, filter, limit + 1, 0, after);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > limit && last ? cursors.sign(binding, { v: last.created_at, id: last.id }) : null;
    return { items: page.map(toUser), nextCursor };
  }

  async update(id: string, changes: UserUpdate): Promise<User> {
    const current = await repo.findUserById(this.db, id);
    if (!current) throw new ApiError('not_found');
    const demoting = changes.role !== undefined && changes.role !== 'admin';
    const disabling = changes.disabled === true;
    const wasEnabledAdmin = current.role === 'admin' && current.disabled === 0;
    const nothingChanges =
      (changes.name === undefined || changes.name === current.name) &&
      (changes.role === undefined || changes.role === current.role) &&
      (changes.disabled === undefined || changes.disabled === (current.disabled === 1));
    if (nothingChanges) return toUser(current);

    const now = new Date().toISOString();
    const guard = wasEnabledAdmin && (demoting || disabling);
    const updated = await this.db.transaction().execute(async (trx) => {
      if (guard) await repo.lockEnabledAdmins(trx, this.database.dialect);
      const row = await repo.updateUser(
        trx,
        id,
        {
          ...(changes.name !== undefined ? { name: changes.name } : {}),
          ...(changes.role !== undefined ? { role: changes.role } : {}),
          ...(changes.disabled !== undefined ? { disabled: changes.disabled ? 1 : 0 } : {}),
          updated_at: now,
        },
        guard,
      );
      if (row && disabling && current.disabled === 0) await endUserSessions(trx, id, 'disabled', now);
      return row;
    });
    if (!updated) {
      if (!(await repo.findUserById(this.db, id))) throw new ApiError('not_found');
      throw new ApiError('last_admin', { detail: 'This change would leave no enabled admin' });
    }
    this.authState.userChanged(id);
    if (disabling) this.authState.userSessionsChanged(id);
    return toUser(updated);
  }

  /** Deletes a user with its sessions (and, by foreign keys, what it owns). */
  async delete(id: string, callerId: string): Promise<void> {
    if (id === callerId) throw new ApiError('conflict', { detail: 'An admin cannot delete itself' });
    const current = await repo.findUserById(this.db, id);
    if (!current) throw new ApiError('not_found');
    const wasEnabledAdmin = current.role === 'admin' && current.disabled === 0;
    const deleted = await this.db
      .transaction()
      .execute(async (trx) => {
        if (wasEnabledAdmin) await repo.lockEnabledAdmins(trx, this.database.dialect);
        // Tasks assigned to it lose the assignee with a new version (before the foreign key's
        // ON DELETE SET NULL could do it without one); its own tasks go with it.
        await unassignAll(trx, id, new Date().toISOString());
        const gone = await repo.deleteUserRow(trx, id, wasEnabledAdmin);
        if (!gone) throw new KeptUser();
        return gone;
      })
      .catch((error: unknown) => {
        if (error instanceof KeptUser) return false;
        throw error;
      });
    if (!deleted) {
      if (!(await repo.findUserById(this.db, id))) throw new ApiError('not_found');
      throw new ApiError('last_admin', { detail: 'Deleting this user would leave no enabled admin' });
    }
    this.authState.userChanged(id);
    this.authState.userSessionsChanged(id);
  }

  /**
   * Start-up: when no enabled admin exists, the ADMIN_EMAIL account is created, or taken over
   * with ADMIN_PASSWORD (contract §2: whoever registered that email first keeps no access).
   */
  async ensureAdmin(email: string, password: string, log: (message: string) => void): Promise<void> {
    if (await repo.enabledAdminExists(this.db)) return;
    const { outcome, user } = await this.installAdmin(email, password, 'Administrator');
    log(`${describeAdminInstall(outcome, user.email)} (ADMIN_EMAIL)`);
  }

  /**
   * Makes `email` an enabled admin with `password` (checked by the caller against the password
   * rules): creates the account, or takes the existing one over.
   */
  async installAdmin(givenEmail: string, password: string, name: string): Promise<AdminInstall> {
    const email = normalizeEmail(givenEmail);
    let existing = await repo.findUserByEmail(this.db, email);
    if (!existing) {
      try {
        return { outcome: 'created', user: await this.create({ email, password, name, role: 'admin' }) };
      } catch (error) {
        // Someone registered it (or another instance created it) in between: take that one over.
        if (!(error instanceof ApiError && error.code === 'email_taken')) throw error;
      }
      existing = await repo.findUserByEmail(this.db, email);
      if (!existing) throw new ApiError('not_found');
    }
    const outcome: AdminOutcome =
      existing.role !== 'admin' ? 'promoted' : existing.disabled === 1 ? 'enabled' : 'password_updated';
    return { outcome, user: await this.takeOverAccount(existing.id, password) };
  }

  /**
   * Hands an existing account to the operator: an enabled admin whose password is `password`,
   * with every credential of its previous holder ended in the same transaction (today its
   * sessions; a module that adds credentials ends them here too).
   */
  async takeOverAccount(id: string, password: string): Promise<User> {
    const passwordHash = await this.hasher.hash(password);
    const now = new Date().toISOString();
    const row = await this.db.transaction().execute(async (trx) => {
      const updated = await repo.updateUser(
        trx,
        id,
        { role: 'admin', disabled: 0, password_hash: passwordHash, updated_at: now },
        false,
      );
      if (updated) await endUserSessions(trx, id, 'admin_takeover', now);
      return updated;
    });
    if (!row) throw new ApiError('not_found');
    this.authState.userChanged(id);
    this.authState.userSessionsChanged(id);
    return toUser(row);
  }
}

export type AdminOutcome = 'created' | 'promoted' | 'enabled' | 'password_updated';

export interface AdminInstall {
  outcome: AdminOutcome;
  user: User;
}

/** What installAdmin did, in words an operator reads. */
export function describeAdminInstall(outcome: AdminOutcome, email: string): string {
  const ended = 'its sessions ended';
  switch (outcome) {
    case 'created':
      return `created admin ${email}`;
    case 'promoted':
      return `promoted ${email} to admin: password set, ${ended}`;
    case 'enabled':
      return `enabled the disabled admin ${email}: password updated, ${ended}`;
    case 'password_updated':
      return `${email} is already an admin: password updated, ${ended}`;
  }
}
