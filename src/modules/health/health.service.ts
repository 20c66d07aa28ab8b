import type { FastifyInstance } from 'fastify';

const CHECK_TIMEOUT_MS = 2000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function probe(check: () => Promise<unknown>): Promise<'ok' | 'down'> {
  try {
    await withTimeout(check(), CHECK_TIMEOUT_MS);
    return 'ok';
  } catch {
    return 'down';
  }
}

export interface Readiness {
  /** Why the service is not ready, or null when it is. */
  failing: string | null;
  body: { status: 'ok' | 'degraded'; checks: { database: 'ok' | 'down'; redis: 'ok' | 'down' | 'absent' } };
}

/** The database must answer; Redis being down only degrades the service. */
export async function checkReadiness(app: FastifyInstance): Promise<Readiness> {
  if (app.lifecycle.draining) {
    return {
      failing: 'The service is shutting down',
      body: { status: 'degraded', checks: { database: 'ok', redis: 'absent' } },
    };
  }
  const redis = app.redis;
  const [database, redisState] = await Promise.all([
    probe(() => app.database.ping()),
    redis ? probe(() => redis.ping()) : Promise.resolve('absent' as const),
  ]);
  const checks = { database, redis: redisState };
  if (database === 'down') return { failing: 'check database is down', body: { status: 'degraded', checks } };
  return { failing: null, body: { status: redisState === 'down' ? 'degraded' : 'ok', checks } };
}
