import { resolve } from 'node:path';
import { sql } from 'kysely';
import type { DatabaseTarget } from '../config.js';
import { type DatabaseHandle, openDatabase } from './database.js';

const PROBE_TABLE = 'taskforge_write_probe';

function reason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code)
    ? `${error.message} (${code})`
    : error.message;
}

/**
 * Why the database cannot be written, or null when it can. SQLite: BEGIN IMMEDIATE succeeds on a
 * read-only file, so the probe really writes (creates a table) and rolls back, leaving no trace.
 * PostgreSQL: a standby or `default_transaction_read_only` makes every transaction read-only;
 * the probe asks rather than writes, as a service role may lack CREATE on its schema.
 */
export async function writeProbe(handle: DatabaseHandle): Promise<string | null> {
  if (handle.dialect === 'postgres') {
    const { rows } = await sql<{ ro: string }>`select current_setting('transaction_read_only') as ro`.execute(
      handle.db,
    );
    return rows[0]?.ro === 'on' ? 'the server accepts only reads (transaction_read_only is on)' : null;
  }
  return handle.db.connection().execute(async (conn) => {
    try {
      await sql`begin immediate`.execute(conn);
      await sql`create table ${sql.table(PROBE_TABLE)} (x integer)`.execute(conn);
      return null;
    } catch (error) {
      return reason(error);
    } finally {
      await sql`rollback`.execute(conn).catch(() => {}); // none when BEGIN itself failed
    }
  });
}

/**
 * Start-up: one line naming DATABASE_URL when the database cannot be opened for writing (a
 * read-only SQLite file or folder, a read-only PostgreSQL), or null. A PostgreSQL that does not
 * answer is not this check's to report: null, and the next step names it.
 */
export async function writeProblem(target: DatabaseTarget): Promise<string | null> {
  const where =
    target.kind === 'sqlite'
      ? `DATABASE_URL sqlite:${resolve(target.filename)}`
      : 'DATABASE_URL (PostgreSQL)';
  const advice =
    target.kind === 'sqlite'
      ? 'the user running the service must be able to write the file and its folder'
      : 'point it at a primary that accepts writes';
  let handle: DatabaseHandle;
  try {
    handle = openDatabase(target, { poolSize: 1 });
  } catch (error) {
    return `${where} cannot be opened for writing: ${reason(error)}; ${advice}`;
  }
  try {
    const problem = await writeProbe(handle);
    return problem ? `${where} cannot be written: ${problem}; ${advice}` : null;
  } catch (error) {
    if (target.kind === 'postgres') return null;
    return `${where} cannot be written: ${reason(error)}; ${advice}`;
  } finally {
    await handle.close().catch(() => {});
  }
}
