/**
 * A write that lost a race with a concurrent one, which the client may simply retry: a deadlock
 * or a serialization failure (PostgreSQL), or a row it refers to deleted meanwhile (a foreign
 * key, either dialect) — a project deleted while a task is being created in it.
 */
export function isConcurrentConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001' || code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/** Node's socket and name-resolution errors: the database host cannot be reached. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * PostgreSQL's SQLSTATEs for a server that is going away or cannot take the work now: class 08
 * (connection exception), 57014 (the statement timeout cancelled it), 57P01–57P05 (admin or
 * crash shutdown, cannot connect now, idle session timeout), 53300 (too many connections).
 */
function isUnavailableState(code: string): boolean {
  return code.startsWith('08') || code === '57014' || /^57P0[1-5]$/.test(code) || code === '53300';
}

/**
 * pg's own failures carry no code, only these messages (pg 8, pg-pool 3): a pool connection not
 * had in time, a connection that closed or timed out, a client that can no longer be used.
 */
const PG_CLIENT_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Query read timeout',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Connection ended unexpectedly',
];

function isUnavailableOne(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    // SQLITE_BUSY and its extended codes: another connection holds the lock past the busy timeout.
    if (code.startsWith('SQLITE_BUSY')) return true;
    if (/^[0-9A-Z]{5}$/.test(code) && isUnavailableState(code)) return true;
  }
  return typeof message === 'string' && PG_CLIENT_MESSAGES.some((text) => message.startsWith(text));
}

/**
 * A failure of the database rather than of the request: it does not answer (refused, reset,
 * silent past a timeout, shutting down) or it is locked by another connection (SQLite). The
 * client gets 503 not_ready with Retry-After; the request may be retried as it is. Causes are
 * followed a few levels (pg-pool wraps a connect timeout around the socket's error).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth += 1) {
    if (isUnavailableOne(current)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Retry-After of a 503 for a database that does not answer: a restart or a failover takes seconds. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;
