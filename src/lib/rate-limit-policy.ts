/**
 * Which rate-limit policy of the contract (§4) a route falls under, declared in its `config`:
 * `credentials` for the credential routes (register, login, token, refresh, password-reset*),
 * limited per client IP by AUTH_RATE_LIMIT_MAX instead of the general policy. A route without it
 * falls under the general policy (or is unlimited, for the paths the contract lists).
 */
export type RateLimitPolicy = 'credentials';

declare module 'fastify' {
  interface FastifyContextConfig {
    rateLimitPolicy?: RateLimitPolicy;
  }
}
