import type { UsersTable } from './tables/users.table.js';

/** The whole database as Kysely sees it: one entry per table file in ./tables. */
export interface Database {
  users: UsersTable;
}
