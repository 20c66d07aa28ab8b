import { context, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import type {
  CompiledQuery,
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely';

/**
 * A span per SQL statement, around Kysely's driver (there is no OpenTelemetry instrumentation for
 * better-sqlite3 or Kysely; a Kysely plugin sees a query but not its failure or its end). The
 * span carries the statement's text with its placeholders (`?`, `$1`) and never its parameters.
 * Only statements that run inside a span (a request's, a delivery's) get one: the job queue's
 * polling and the other background statements would otherwise each be a trace of their own.
 */

const OPERATIONS: Record<string, string> = {
  SelectQueryNode: 'SELECT',
  InsertQueryNode: 'INSERT',
  UpdateQueryNode: 'UPDATE',
  DeleteQueryNode: 'DELETE',
  MergeQueryNode: 'MERGE',
};

/** The statement's operation: from the query tree, else the first keyword of the SQL (`BEGIN`). */
export function operationName(query: CompiledQuery): string {
  const fromTree = OPERATIONS[query.query.kind];
  if (fromTree) return fromTree;
  const keyword = /^\s*([A-Za-z]+)/.exec(query.sql)?.[1];
  return keyword ? keyword.toUpperCase() : 'SQL';
}

function tracedConnection(
  connection: DatabaseConnection,
  tracer: Tracer,
  system: string,
): DatabaseConnection {
  return {
    async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
      if (!trace.getSpan(context.active())) return connection.executeQuery(query);
      const operation = operationName(query);
      const span = tracer.startSpan(operation, {
        kind: SpanKind.CLIENT,
        attributes: {
          'db.system.name': system,
          'db.operation.name': operation,
          'db.query.text': query.sql,
        },
      });
      try {
        return await context.with(trace.setSpan(context.active(), span), () =>
          connection.executeQuery<R>(query),
        );
      } catch (error) {
        // The error's class and code only: a constraint message can quote the row's values.
        const code = (error as { code?: unknown }).code;
        span.setAttribute('error.type', typeof code === 'string' ? code : (error as Error).name);
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    },
    streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
  };
}

class TracedDriver implements Driver {
  /** Each raw connection's traced twin, so the driver's own calls (begin, commit) find theirs. */
  private readonly twins = new WeakMap<DatabaseConnection, DatabaseConnection>();
  private readonly raws = new WeakMap<DatabaseConnection, DatabaseConnection>();

  constructor(
    private readonly driver: Driver,
    private readonly tracer: Tracer,
    private readonly system: string,
  ) {}

  private raw(connection: DatabaseConnection): DatabaseConnection {
    return this.raws.get(connection) ?? connection;
  }

  init(): Promise<void> {
    return this.driver.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.driver.acquireConnection();
    let twin = this.twins.get(connection);
    if (!twin) {
      twin = tracedConnection(connection, this.tracer, this.system);
      this.twins.set(connection, twin);
      this.raws.set(twin, connection);
    }
    return twin;
  }

  // BEGIN, COMMIT and ROLLBACK go through the traced twin, so they are spans too.
  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.driver.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.driver.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.driver.rollbackTransaction(connection);
  }

  savepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    if (!this.driver.savepoint) throw new Error('this dialect has no savepoints');
    return this.driver.savepoint(connection, name, compile);
  }

  rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    if (!this.driver.rollbackToSavepoint) throw new Error('this dialect has no savepoints');
    return this.driver.rollbackToSavepoint(connection, name, compile);
  }

  releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compile: QueryCompiler['compileQuery'],
  ): Promise<void> {
    if (!this.driver.releaseSavepoint) throw new Error('this dialect has no savepoints');
    return this.driver.releaseSavepoint(connection, name, compile);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.driver.releaseConnection(this.raw(connection));
  }

  destroy(): Promise<void> {
    return this.driver.destroy();
  }
}

export function tracedDialect(dialect: Dialect, tracer: Tracer, system: 'sqlite' | 'postgresql'): Dialect {
  return {
    createAdapter: (): DialectAdapter => dialect.createAdapter(),
    createDriver: (): Driver => new TracedDriver(dialect.createDriver(), tracer, system),
    createQueryCompiler: (): QueryCompiler => dialect.createQueryCompiler(),
    // biome-ignore lint/suspicious/noExplicitAny: Kysely's own signature takes Kysely<any>
    createIntrospector: (db: Kysely<any>): DatabaseIntrospector => dialect.createIntrospector(db),
  };
}
