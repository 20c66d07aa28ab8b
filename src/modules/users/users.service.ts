import { uuidv7 } from 'uuidv7';
import { isUniqueViolation } from '../../db/sql.js';
import { ApiError } from '../../errors.js';
import { isEmail, normalizeEmail } from '../../lib/email.js';
import type { ReplyRecorder } from '../../lib/idempotency.js';
import { type CursorPage, type CursorRequest, type Page, type PageRequest, pageOf } from '../../lib/lists.js';
import type { AppContext } from '../../lib/module.js';
import { weakPasswordReason } from '../../lib/password-policy.js';
import type { Role } from '../../lib/principal.js';
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

/** What logging in needs to know of an account. */
export interface Credentials {
  id: string;
  passwordHash: string;
  disabled: boolean;
}

/** What every authenticated request needs to know of its user. */
export interface UserState {
  role: Role;
  disabled: boolean;
}

/**
 * The rules about users: registration, roles, the last admin, disabling, deletion, passwords.
 * What other modules keep per user (sessions, assignments) follows through the users port
 * (lib/ports.ts): this module knows none of them.
 */
export class UsersService {
  constructor(private readonly ctx: AppContext) {}

  private get db(): repo.Db {
    return this.ctx.database.db;
  }

  private get hasher() {
    return this.ctx.passwordHasher;
  }

  private get events() {
    return this.ctx.ports.users;
  }

  async create(input: NewUser, recorder?: ReplyRecorder<User>): Promise<User> {
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
    const user = toUser({ ...row, disabled: 0 });
    try {
      // Listeners of `created` add what every user has (its personal project) in the same transaction.
      await this.events.transaction(this.db, async (trx, emit) => {
        await repo.insertUser(trx, row);
        await emit('created', { userId: row.id, at: now, role: row.role });
        await recorder?.(trx, user);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ApiError('email_taken');
      throw error;
    }
    return user;
  }

  async get(id: string): Promise<User> {
    const row = await repo.findUserById(this.db, id);
    if (!row) throw new ApiError('not_found');
    return toUser(row);
  }

  /** Whether a user with this id exists (in `db`, a transaction of the caller's, when given). */
  async exists(id: string, db: repo.Db = this.db): Promise<boolean> {
    return (await repo.findUserById(db, id)) !== undefined;
  }

  async state(id: string): Promise<UserState | null> {
    const row = await repo.findUserById(this.db, id);
    return row ? { role: row.role, disabled: row.disabled === 1 } : null;
  }

  /** The account of an email address, as login checks it; undefined when none has it. */
  async credentials(email: string): Promise<Credentials | undefined> {
    const row = await repo.findUserByEmail(this.db, normalizeEmail(email));
    return row && { id: row.id, passwordHash: row.password_hash, disabled: row.disabled === 1 };
  }

  enabledAdminExists(): Promise<boolean> {
    return repo.enabledAdminExists(this.db);
  }

  async list(filter: repo.UserFilter, request: PageRequest): Promise<Page<User>> {
    const [rows, total] = await Promise.all([
      repo.listUsers(this.db, filter, request.size, (request.page - 1) * request.size),
      repo.countUsers(this.db, filter),
    ]);
    return pageOf(rows.map(toUser), total, request);
  }

  /** Version 2: newest first, a cursor page at a time. */
  async listAfter(
    callerId: string,
    filter: repo.UserFilter,
    request: CursorRequest,
  ): Promise<CursorPage<User>> {
    const { cursors } = this.ctx;
    const { limit, cursor } = request;
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
    const updated = await this.events.transaction(this.db, async (trx, emit) => {
      if (guard) await repo.lockEnabledAdmins(trx, this.ctx.database.dialect);
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
      if (row) await emit('changed', { userId: id });
      if (row && disabling && current.disabled === 0) await emit('disabled', { userId: id, at: now });
      return row;
    });
    if (!updated) {
      if (!(await repo.findUserById(this.db, id))) throw new ApiError('not_found');
      throw new ApiError('last_admin', { detail: 'This change would leave no enabled admin' });
    }
    return toUser(updated);
  }

  /**
   * Deletes a user. Listeners of `deleted` run first, in the same transaction, while its row still
   * exists (tasks assigned to it lose the assignee with a new version); what it owns goes with it
   * by foreign keys.
   */
  async delete(id: string, callerId: string): Promise<void> {
    if (id === callerId) throw new ApiError('conflict', { detail: 'An admin cannot delete itself' });
    const current = await repo.findUserById(this.db, id);
    if (!current) throw new ApiError('not_found');
    const wasEnabledAdmin = current.role === 'admin' && current.disabled === 0;
    const deleted = await this.events
      .transaction(this.db, async (trx, emit) => {
        if (wasEnabledAdmin) await repo.lockEnabledAdmins(trx, this.ctx.database.dialect);
        await emit('deleted', { userId: id, at: new Date().toISOString() });
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
   * with every credential of its previous holder ended in the same transaction (the listeners of
   * `takenOver`: today the auth module's sessions; a module that adds credentials listens too).
   */
  async takeOverAccount(id: string, password: string): Promise<User> {
    const passwordHash = await this.hasher.hash(password);
    const now = new Date().toISOString();
    const row = await this.events.transaction(this.db, async (trx, emit) => {
      const updated = await repo.updateUser(
        trx,
        id,
        { role: 'admin', disabled: 0, password_hash: passwordHash, updated_at: now },
        false,
      );
      if (updated) await emit('takenOver', { userId: id, at: now });
      return updated;
    });
    if (!row) throw new ApiError('not_found');
    return toUser(row);
  }

  /** The caller changes its own password; every other session ends (the listeners of `passwordChanged`). */
  async changePassword(userId: string, keepSessionId: string | null, current: string, next: string) {
    const user = await repo.findUserById(this.db, userId);
    if (!user) throw new ApiError('not_found');
    if (!(await this.hasher.verify(user.password_hash, current)))
      throw new ApiError('current_password_incorrect');
    const weak = weakPasswordReason(next, user.email);
    if (weak) {
      throw new ApiError('weak_password', {
        detail: `The password ${weak}`,
        errors: [{ pointer: '/newPassword', code: 'weak_password', detail: weak }],
      });
    }
    const now = new Date().toISOString();
    const passwordHash = await this.hasher.hash(next);
    await this.events.transaction(this.db, async (trx, emit) => {
      await repo.updateUser(trx, userId, { password_hash: passwordHash, updated_at: now }, false);
      await emit('passwordChanged', { userId, at: now, keepSessionId });
    });
  }

  /**
   * A password reset through a mailed link (contract §3): `claim` spends the link in the same
   * transaction as the write (false: it was no longer open, and nothing changes). Every session
   * ends (the listeners of `passwordReset`). False as well for an unknown or disabled account: a
   * disabled account's password is the administrator's to restore with the account.
   */
  async resetPassword(
    userId: string,
    next: string,
    claim: (trx: repo.Db) => Promise<boolean>,
  ): Promise<boolean> {
    const user = await repo.findUserById(this.db, userId);
    if (!user || user.disabled === 1) return false;
    const weak = weakPasswordReason(next, user.email);
    if (weak) {
      throw new ApiError('weak_password', {
        detail: `The password ${weak}`,
        errors: [{ pointer: '/newPassword', code: 'weak_password', detail: weak }],
      });
    }
    const passwordHash = await this.hasher.hash(next);
    const now = new Date().toISOString();
    return this.events.transaction(this.db, async (trx, emit) => {
      if (!(await claim(trx))) return false;
      const row = await repo.updateUser(trx, userId, { password_hash: passwordHash, updated_at: now }, false);
      if (!row) return false;
      await emit('passwordReset', { userId, at: now, email: row.email });
      return true;
    });
  }
}

export type AdminOutcome = 'created' | 'promoted' | 'enabled' | 'password_updated';

export interface AdminInstall {
  outcome: AdminOutcome;
  user: User;
}

/** What installAdmin did, in words an operator reads. */
export function describeAdminInstall(outcome: AdminOutcome, email: string): string {
  const ended = 'its sessions and API keys ended';
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
