import { type MigrationStatus, migrationStatus, type SchemaState, schemaState } from '../../db/migrator.js';
import type { AppContext } from '../../lib/module.js';
import { withTimeout } from '../../lib/rate-limited-log.js';
import { bounded } from '../../lib/redis.js';

const CHECK_TIMEOUT_MS = 2000;

/** The check's result, or null when it failed or took too long. */
async function attempt<T>(check: () => Promise<T>): Promise<T | null> {
  try {
    // Stryker disable next-line StringLiteral: the label only names the timeout's error, which this catch drops
    return await withTimeout(check(), CHECK_TIMEOUT_MS, 'health check');
  } catch {
    return null;
  }
}

async function probe(check: () => Promise<unknown>): Promise<'ok' | 'down'> {
  const answered = await attempt(async () => {
    await check();
    return true;
  });
  return answered ? 'ok' : 'down';
}

export interface Readiness {
  /** Why the service is not ready, or null when it is. */
  failing: string | null;
  body: {
    status: 'ok' | 'degraded';
    checks: { database: 'ok' | 'down'; schema: 'ok' | 'ahead'; redis: 'ok' | 'down' | 'absent' };
  };
}

function describeSchema(state: SchemaState, status: MigrationStatus): string {
  if (state === 'behind') {
    return `the database schema is behind this version (pending: ${status.pending.join(', ')}): readiness answers 503 until npm run migrate applies them`;
  }
  if (state === 'ahead') {
    return `the database schema is ahead of this version (applied by a newer one: ${status.unknown.join(', ')}): serving it, as beside a newer version during a rolling deploy`;
  }
  return 'the database schema is the one this version expects';
}

/** Readiness, and the schema against the code. */
export class HealthService {
  /** The last schema state logged, so a probe every few seconds logs only changes. */
  private logged: SchemaState | undefined;
  /** Whether the last probe found the database answering, so only changes are logged. */
  private databaseAnswered = true;

  constructor(private readonly ctx: AppContext) {}

  private note(state: SchemaState, status: MigrationStatus): void {
    const previous = this.logged;
    if (previous === state) return;
    this.logged = state;
    // At start-up an expected schema goes without saying; a change back to it is worth a line.
    if (state === 'ok' && previous === undefined) return;
    const fields = { schema: state, pending: status.pending, unknown: status.unknown };
    if (state === 'ok') this.ctx.log.info(fields, describeSchema(state, status));
    else this.ctx.log.warn(fields, describeSchema(state, status));
  }

  private noteDatabase(answered: boolean): void {
    if (answered === this.databaseAnswered) return;
    this.databaseAnswered = answered;
    if (answered) this.ctx.log.info('readiness: the database answers again');
    else
      this.ctx.log.warn(`readiness: the database does not answer within ${CHECK_TIMEOUT_MS} ms: not ready`);
  }

  /**
   * Start-up: reads the schema's migrations against the code's and logs when they differ. Null
   * when they cannot be read (the database does not answer: readiness reports it).
   */
  async checkSchemaAtStartup(): Promise<SchemaState | null> {
    try {
      const status = await migrationStatus(this.ctx.database);
      const state = schemaState(status);
      this.note(state, status);
      return state;
    } catch (error) {
      this.ctx.log.warn(
        { err: { message: (error as Error).message } },
        'cannot read the database schema version',
      );
      return null;
    }
  }

  /**
   * The database must answer and hold the schema this version expects, or a newer one; Redis
   * being down only degrades the service. A newer schema (`ahead`) is served with status ok: it
   * is what the previous version sees during every rolling deploy, not a fault (it is logged).
   */
  async readiness(): Promise<Readiness> {
    const { database, redis, lifecycle } = this.ctx;
    if (lifecycle.draining) {
      return {
        failing: 'The service is shutting down',
        body: { status: 'degraded', checks: { database: 'ok', schema: 'ok', redis: 'absent' } },
      };
    }
    const [databaseState, status, redisState] = await Promise.all([
      probe(() => database.ping()),
      attempt(() => migrationStatus(database)),
      redis
        ? // Stryker disable next-line StringLiteral: the label only names the timeout's error, which probe drops
          probe(() => bounded(redis, redis.ping(), CHECK_TIMEOUT_MS, 'redis'))
        : Promise.resolve('absent' as const),
    ]);
    this.noteDatabase(databaseState === 'ok');
    const unready = {
      status: 'degraded',
      checks: { database: databaseState, schema: 'ok', redis: redisState },
    } as const;
    if (databaseState === 'down') return { failing: 'check database is down', body: unready };
    if (status === null) return { failing: 'check schema cannot be read from the database', body: unready };
    const state = schemaState(status);
    this.note(state, status);
    if (state === 'behind') {
      const pending = status.pending.join(', ');
      return {
        failing: `check schema is behind the code (pending: ${pending}): run npm run migrate`,
        body: unready,
      };
    }
    const checks = { database: databaseState, schema: state, redis: redisState };
    return { failing: null, body: { status: redisState === 'down' ? 'degraded' : 'ok', checks } };
  }
}
