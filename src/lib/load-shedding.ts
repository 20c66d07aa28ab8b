import type { FastifyContextConfig } from 'fastify';

/**
 * Whether a route is refused with 503 `overloaded` while the process is under pressure (a slow
 * event loop, a heap near its limit). Every route is, except those whose `config` says
 * `loadShedding: 'exempt'`: the health probes, which must answer what they check, not the load.
 */
export type LoadShedding = 'exempt';

declare module 'fastify' {
  interface FastifyContextConfig {
    loadShedding?: LoadShedding;
  }
}

export function shedsLoad(config: FastifyContextConfig | undefined): boolean {
  return config?.loadShedding !== 'exempt';
}
