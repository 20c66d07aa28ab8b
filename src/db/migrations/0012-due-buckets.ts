import { type Kysely, sql } from 'kysely';

/**
 * An admin's list filtered by a wide due range and sorted by another key: due dates follow creation
 * dates, so no single index serves it (the sort's index finds the range's first match only after
 * every task outside it; the due index gives the matches out of the sort's order). Bucketed by the
 * month of `due_at`, each month's dated tasks are read in the sort's order from `(month, key, id)`,
 * and a page is a merge over the range's months (tasks.repository.ts, `dueMonthsPage`).
 *
 * The month is an expression, `substr(due_at, 1, 7)` (`YYYY-MM` of the stored RFC 3339 text), not a
 * stored column: every writer of `due_at` (the service, the seed's bulk inserts) keeps it without a
 * line of code. `due_at` is text on both databases, so `substr` is IMMUTABLE on PostgreSQL (on a
 * timestamp column, `date_trunc`/`to_char` depend on the time zone and are not) and deterministic on
 * SQLite. A prefix of a text is ordered like the text, so a range of `due_at` lies within the range
 * of its bounds' months. Partial (dated tasks only: a due range never matches a null), so undated
 * tasks, a third of the seed's, cost these indexes nothing. `dueAt` itself needs none: its own
 * indexes serve a due range sorted by it.
 */
const INDEXES: [string, string][] = [
  ['tasks_due_month_created', 'created_at, id'],
  ['tasks_due_month_updated', 'updated_at, id'],
  ['tasks_due_month_priority', 'priority, id'],
  ['tasks_due_month_title', 'title, id'],
];

// biome-ignore lint/suspicious/noExplicitAny: a migration must not depend on today's schema types
export async function up(db: Kysely<any>): Promise<void> {
  for (const [name, columns] of INDEXES) {
    await sql`create index ${sql.raw(name)} on tasks (substr(due_at, 1, 7), ${sql.raw(columns)})
      where due_at is not null`.execute(db);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: as above
export async function down(db: Kysely<any>): Promise<void> {
  for (const [name] of INDEXES) await sql`drop index ${sql.raw(name)}`.execute(db);
}
