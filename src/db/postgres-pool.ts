import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import pg from 'pg';

/**
 * PostgreSQL's pool for Kysely, bounded everywhere a database that is slow or gone could hold a
 * request: the server cancels a statement after the statement timeout (57014); a connection that
 * stops answering altogether (a network partition: nothing comes back, not even the cancel) fails
 * its query on the client `QUERY_TIMEOUT_MARGIN_MS` later; a request waits at most
 * `connectionTimeoutMs` for a pool connection, a new one's handshake included; TCP keepalive
 * notices a silent peer of an idle connection.
 *
 * A connection whose query failed on the client side (a timeout, a reset, a closed socket) is
 * thrown away instead of going back to the pool: pg keeps a timed-out query as the connection's
 * active one, so every later query on it would queue behind an answer that never comes, and the
 * pool would never heal. Kysely releases its connections itself, so the pool it gets hands out
 * guarded clients that remember such a failure and release with it (pg-pool then destroys the
 * socket).
 *
 * A session that switches its statement timeout off (the migrator: a long migration, a wait for
 * another process's advisory lock) is not cut by the client either, until it resets it; one
 * released without resetting it is closed rather than pooled.
 */

/** How much later than the server's statement timeout the client gives up on a silent connection. */
export const QUERY_TIMEOUT_MARGIN_MS = 1000;
/** After this long idle, TCP keepalive probes the server of a pooled connection. */
const KEEPALIVE_DELAY_MS = 10_000;

export interface PostgresPoolOptions {
  connectionString: string;
  max: number;
  statementTimeoutMs: number;
  connectionTimeoutMs: number;
  /** libpq's `options` startup parameter (the search path). */
  startupOptions?: string;
}

/**
 * Whether the connection a query failed on is still good: only an error the server itself
 * reported about the statement (severity ERROR) leaves it usable, such as 57014 after the
 * statement timeout or a constraint violation. Anything else (a client-side timeout, a socket
 * error, the server ending the session with FATAL) leaves it in an unknown state.
 */
export function breaksConnection(error: unknown): boolean {
  if (!(error instanceof pg.DatabaseError)) return true;
  return error.severity === 'FATAL' || error.severity === 'PANIC';
}

/**
 * The session switched its statement timeout off (the migrator does, for a long migration and for
 * its wait on another process's advisory lock) or back on: the client-side bound follows it.
 */
const STATEMENT_TIMEOUT_OFF = /^\s*set\s+(?:session\s+)?statement_timeout\s*(?:=|to)\s*'?0'?\s*;?\s*$/i;
const STATEMENT_TIMEOUT_RESET = /^\s*reset\s+statement_timeout\s*;?\s*$/i;
/** setTimeout's longest delay: in effect no client-side bound (TCP keepalive still notices a dead peer). */
const UNBOUNDED_MS = 2_147_483_647;

class GuardedClient implements PostgresPoolClient {
  /** The failure that broke this connection in its current checkout, if one did. */
  private broken: Error | null = null;
  /** Whether the session runs without a statement timeout (and so without the client's bound). */
  private unbounded = false;

  constructor(private readonly client: pg.PoolClient) {}

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(
    sqlOrCursor: string | PostgresCursor<R>,
    parameters?: ReadonlyArray<unknown>,
  ): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    // Kysely streams only with a cursor class in its dialect config, which ours has none of.
    if (typeof sqlOrCursor !== 'string') throw new Error('cursors are not supported');
    return this.run<R>(sqlOrCursor, parameters ?? []);
  }

  private async run<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
    // A broken connection answers nothing more: a transaction's ROLLBACK fails at once (the
    // server rolls the transaction back when the socket closes) instead of waiting out a timeout.
    if (this.broken) throw this.broken;
    try {
      const result = await this.client.query({
        text: sql,
        values: [...parameters],
        // Without it pg applies the pool's query_timeout (statement timeout + margin).
        ...(this.unbounded ? { query_timeout: UNBOUNDED_MS } : {}),
      });
      if (STATEMENT_TIMEOUT_OFF.test(sql)) this.unbounded = true;
      else if (STATEMENT_TIMEOUT_RESET.test(sql)) this.unbounded = false;
      return result as unknown as PostgresQueryResult<R>;
    } catch (error) {
      if (breaksConnection(error)) this.broken = error as Error;
      throw error;
    }
  }

  /**
   * The socket failed while the connection was checked out between queries (pg-pool listens only
   * while it is idle): without a listener the client's 'error' would end the process.
   */
  readonly onError = (error: Error): void => {
    this.broken ??= error;
  };

  release(): void {
    // A session left without its statement timeout must not serve requests: it is closed.
    const broken = this.broken ?? (this.unbounded ? new Error('statement timeout left off') : null);
    this.broken = null;
    this.unbounded = false;
    // With an error, pg-pool removes the client and ends it (destroying a socket still busy).
    this.client.release(broken ?? undefined);
  }
}

/** A pg Pool behind Kysely's pool interface, handing out guarded clients. */
export class GuardedPool implements PostgresPool {
  readonly pool: pg.Pool;
  /** One guard per pg client: Kysely keys its connection objects by the client it is given. */
  private readonly guards = new WeakMap<pg.PoolClient, GuardedClient>();

  constructor(options: PostgresPoolOptions) {
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.max,
      statement_timeout: options.statementTimeoutMs,
      // No statement timeout (0: the seed, the benchmark) is no client-side bound either.
      query_timeout:
        options.statementTimeoutMs > 0 ? options.statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS : UNBOUNDED_MS,
      connectionTimeoutMillis: options.connectionTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_DELAY_MS,
      ...(options.startupOptions ? { options: options.startupOptions } : {}),
    });
    // An idle client that loses its server must not crash the process: pg-pool has already
    // removed it, and the next query opens a new connection (or reports that it cannot).
    this.pool.on('error', () => {});
  }

  async connect(): Promise<PostgresPoolClient> {
    const client = await this.pool.connect();
    let guard = this.guards.get(client);
    if (!guard) {
      guard = new GuardedClient(client);
      client.on('error', guard.onError);
      this.guards.set(client, guard);
    }
    return guard;
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}
