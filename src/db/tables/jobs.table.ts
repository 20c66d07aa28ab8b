/**
 * SQLite's job queue (src/jobs/sqlite-queue.ts); PostgreSQL keeps its jobs in pg-boss's tables.
 * A finished job is deleted; a dead one (its last attempt failed) is kept with its last error.
 */
export interface JobsTable {
  id: string;
  name: string;
  /** JSON */
  payload: string;
  state: 'queued' | 'running' | 'dead';
  attempts: number;
  max_attempts: number;
  /** Milliseconds since the epoch. */
  run_at: number;
  locked_by: string | null;
  locked_until: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}
