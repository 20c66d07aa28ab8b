/**
 * A write that lost a race with a concurrent one, which the client may simply retry: a deadlock
 * or a serialization failure (PostgreSQL), or a row it refers to deleted meanwhile (a foreign
 * key, either dialect) — a project deleted while a task is being created in it.
 */
export function isConcurrentConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001' || code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}
