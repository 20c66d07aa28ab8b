import { resolve } from 'node:path';
import pg from 'pg';
import type { DatabaseTarget } from '../config.js';

/** Where a PostgreSQL URL points, never with its password. */
interface PostgresAddress {
  /** host:port (or the socket folder), as an operator would check it. */
  address: string;
  database: string | null;
  user: string | null;
}

function postgresAddress(connectionString: string): PostgresAddress {
  try {
    const url = new URL(connectionString);
    const socket = url.searchParams.get('host');
    const host = socket ?? (url.hostname || 'localhost');
    const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || null;
    return {
      address: socket ? host : `${host}:${url.port || '5432'}`,
      database,
      user: url.username ? decodeURIComponent(url.username) : null,
    };
  } catch {
    return { address: 'an address that is not a valid URL', database: null, user: null };
  }
}

/** The database in words for the start-up log and errors: the SQLite path, or PostgreSQL's host and database. */
export function describeDatabase(target: DatabaseTarget): string {
  if (target.kind === 'sqlite') {
    return target.filename === ':memory:'
      ? 'SQLite in memory (nothing is kept when the process stops)'
      : `SQLite file ${resolve(target.filename)}`;
  }
  const { address, database, user } = postgresAddress(target.connectionString);
  return `PostgreSQL${database ? ` database "${database}"` : ''} on ${address}${user ? ` as ${user}` : ''}`;
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

function reasonOf(error: unknown, password: string): string {
  const { code, message, errors } = error as { code?: string; message?: string; errors?: unknown[] };
  // Node reports a refused connection to a name with several addresses as an AggregateError.
  const inner = (errors?.[0] as { code?: string } | undefined)?.code;
  const known = REASONS[code ?? inner ?? ''];
  const text = known ? `${known} (${code ?? inner})` : message || code || 'unknown error';
  return password ? text.replaceAll(password, '***') : text;
}

/**
 * Connects once to PostgreSQL and runs `select 1`; answers null when it works, else the line that
 * stops start-up: it names DATABASE_URL and where it points, never the password.
 */
export async function postgresUnreachable(
  connectionString: string,
  timeoutMs = 10_000,
): Promise<string | null> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: timeoutMs });
  // A server that drops the connection later must not crash the check.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (error) {
    let password = '';
    try {
      password = decodeURIComponent(new URL(connectionString).password);
    } catch {
      // Not a URL: pg could not have read a password from it either.
    }
    const where = describeDatabase({ kind: 'postgres', connectionString });
    return `Cannot reach the database: DATABASE_URL names ${where}: ${reasonOf(error, password)}`;
  } finally {
    await client.end().catch(() => {});
  }
}
