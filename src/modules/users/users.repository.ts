import { type Kysely, type Selectable, type SqlBool, sql } from 'kysely';
import type { Dialect } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import { likeContains, toCount } from '../../db/sql.js';
import type { UsersTable } from '../../db/tables/users.table.js';
import type { Role } from '../../lib/principal.js';

/** All SQL about users. Every function takes the executor, so the service decides transactions. */
export type Db = Kysely<Database>;

/** A user as the service reads it: every column but the search text, which only SQL reads. */
export type UserRow = Omit<Selectable<UsersTable>, 'search_text'>;

const COLUMNS = [
  'id',
  'email',
  'name',
  'role',
  'disabled',
  'password_hash',
  'created_at',
  'updated_at',
] as const satisfies readonly (keyof UserRow)[];
// A column added to UsersTable but not read here fails to compile, naming the column.
type Unread = Exclude<keyof UserRow, (typeof COLUMNS)[number]>;
const everyColumnRead: [Unread] extends [never] ? true : Unread = true;
void everyColumnRead;

export function searchText(name: string, email: string): string {
  return `${name} ${email}`.toLowerCase();
}

export async function insertUser(
  db: Db,
  row: Omit<UserRow, 'disabled'> & { disabled?: number },
): Promise<void> {
  await db
    .insertInto('users')
    .values({ ...row, disabled: row.disabled ?? 0, search_text: searchText(row.name, row.email) })
    .execute();
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').select(COLUMNS).where('id', '=', id).executeTakeFirst();
}

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').select(COLUMNS).where('email', '=', email).executeTakeFirst();
}

export interface UserFilter {
  q?: string;
  role?: Role;
  /** Only disabled users (the command-line tool's list). */
  disabled?: true;
}

function filtered(db: Db, filter: UserFilter) {
  let query = db.selectFrom('users');
  if (filter.q)
    query = query.where(sql<boolean>`search_text like ${likeContains(filter.q.toLowerCase())} escape '\\'`);
  if (filter.role) query = query.where('role', '=', filter.role);
  if (filter.disabled) query = query.where('disabled', '=', 1);
  return query;
}

export async function listUsers(
  db: Db,
  filter: UserFilter,
  limit: number,
  offset: number,
  /** Version 2: only users after this one, newest first (keyset on the created_at, id index). */
  after: { createdAt: string; id: string } | null = null,
): Promise<UserRow[]> {
  let query = filtered(db, filter);
  if (after) query = query.where(sql<SqlBool>`(created_at, id) < (${after.createdAt}, ${after.id})`);
  return query
    .select(COLUMNS)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .offset(offset)
    .execute();
}

export async function countUsers(db: Db, filter: UserFilter): Promise<number> {
  const row = await filtered(db, filter)
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirst();
  return toCount(row?.n);
}

/** Some enabled admin other than `id`: the condition that keeps the last admin. */
function anotherEnabledAdmin(db: Db, id: string) {
  return db
    .selectFrom('users as other')
    .select('other.id')
    .where('other.role', '=', 'admin')
    .where('other.disabled', '=', 0)
    .where('other.id', '!=', id);
}

export interface UserChanges {
  name?: string;
  role?: Role;
  disabled?: number;
  password_hash?: string;
  updated_at: string;
}

/**
 * Applies the changes in one statement. When the change would leave no enabled admin, the
 * statement's own condition refuses it (0 rows), so two admins demoting each other at once
 * cannot both win.
 */
export async function updateUser(
  db: Db,
  id: string,
  changes: UserChanges,
  keepAnAdmin: boolean,
): Promise<UserRow | undefined> {
  const current = await findUserById(db, id);
  if (!current) return undefined;
  const set: Record<string, unknown> = { ...changes };
  if (changes.name !== undefined) set.search_text = searchText(changes.name, current.email);
  let query = db.updateTable('users').set(set).where('id', '=', id);
  if (keepAnAdmin) {
    query = query.where((eb) => eb.exists(anotherEnabledAdmin(db, id)));
  }
  return query.returning(COLUMNS).executeTakeFirst();
}

export async function deleteUserRow(db: Db, id: string, keepAnAdmin: boolean): Promise<boolean> {
  let query = db.deleteFrom('users').where('id', '=', id);
  if (keepAnAdmin) {
    query = query.where((eb) => eb.exists(anotherEnabledAdmin(db, id)));
  }
  const result = await query.executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/**
 * PostgreSQL, READ COMMITTED: two admins demoting each other would each see the other still
 * enabled (write skew). Locking every enabled admin row first serialises such changes. SQLite
 * runs one writer at a time, so it needs no lock.
 */
export async function lockEnabledAdmins(db: Db, dialect: Dialect): Promise<void> {
  if (dialect !== 'postgres') return;
  await db
    .selectFrom('users')
    .select('id')
    .where('role', '=', 'admin')
    .where('disabled', '=', 0)
    .forUpdate()
    .execute();
}

export async function enabledAdminExists(db: Db): Promise<boolean> {
  const row = await db
    .selectFrom('users')
    .select('id')
    .where('role', '=', 'admin')
    .where('disabled', '=', 0)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
