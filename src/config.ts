import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { PASSWORD_MAX, PASSWORD_MIN, passwordLength, weakPasswordReason } from './lib/password-policy.js';

/**
 * Every environment variable the service reads, in one schema. Values arrive as strings; Ajv
 * coerces numbers and booleans and fills defaults, then `toConfig` derives the typed, frozen
 * Config (durations in milliseconds, URLs normalised, cross-field rules applied).
 */
const Duration = (def: string) => Type.String({ pattern: '^[0-9]{1,9}(ms|s|m|h|d)$', default: def });
const Flag = (def: boolean) => Type.Boolean({ default: def });

export const EnvSchema = Type.Object({
  NODE_ENV: Type.String({ enum: ['development', 'production', 'test'], default: 'development' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  PUBLIC_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$' })),
  TLS_CERT_FILE: Type.Optional(Type.String({ minLength: 1 })),
  TLS_KEY_FILE: Type.Optional(Type.String({ minLength: 1 })),
  DATABASE_URL: Type.String({
    pattern: '^(sqlite:.+|postgres(ql)?://.+)$',
    default: 'sqlite:./data/taskforge.db',
  }),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  DATABASE_STATEMENT_TIMEOUT: Duration('5s'),
  MIGRATE_ON_START: Flag(true),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://.+' })),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 1 })),
  ADMIN_EMAIL: Type.Optional(Type.String({ minLength: 3, maxLength: 254, pattern: '^[^@\\s]+@[^@\\s]+$' })),
  ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: 1 })),
  REGISTRATION: Type.String({ enum: ['open', 'closed'], default: 'open' }),
  ACCESS_TOKEN_TTL: Duration('15m'),
  REFRESH_TOKEN_TTL: Duration('30d'),
  REFRESH_REUSE_GRACE: Duration('10s'),
  RATE_LIMIT_MAX: Type.Integer({ minimum: 1, default: 600 }),
  RATE_LIMIT_WINDOW: Duration('60s'),
  AUTH_RATE_LIMIT_MAX: Type.Integer({ minimum: 1, default: 30 }),
  LOGIN_FAILURES_MAX: Type.Integer({ minimum: 1, default: 5 }),
  CORS_ORIGINS: Type.String({ default: '' }),
  TRUST_PROXY: Type.String({ default: 'false' }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, maximum: 104_857_600, default: 1_048_576 }),
  LOG_LEVEL: Type.String({
    enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
  }),
  API_V1_SUNSET: Type.Optional(Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' })),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://.+' })),
  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://.+' })),
  MAIL_FROM: Type.Optional(Type.String({ minLength: 3 })),
  PASSWORD_RESET_URL: Type.Optional(Type.String({ pattern: '^https?://.+\\{token\\}' })),
  WEB_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
  // Not in the contract's table; documented in the README.
  REQUEST_TIMEOUT: Duration('30s'),
  SHUTDOWN_DRAIN_DELAY: Duration('0s'),
  SHUTDOWN_TIMEOUT: Duration('10s'),
});

export type Env = Static<typeof EnvSchema>;

/** A configuration problem, reported at start-up as one line naming the variable. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export function parseDuration(text: string): number {
  const match = /^([0-9]+)(ms|s|m|h|d)$/.exec(text);
  if (!match) throw new Error(`not a duration: ${text}`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

function atMost(variable: string, ms: number, maxMs: number): number {
  if (ms > maxMs) throw new ConfigError(variable, `must be a duration of at most ${maxMs / 1000}s`);
  return ms;
}

export type DatabaseTarget =
  | { kind: 'sqlite'; filename: string }
  | { kind: 'postgres'; connectionString: string };

function parseDatabaseUrl(url: string): DatabaseTarget {
  if (url.startsWith('sqlite:')) {
    const filename = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    return { kind: 'sqlite', filename };
  }
  return { kind: 'postgres', connectionString: url };
}

function parseTrustProxy(raw: string): boolean | number | string[] {
  const value = raw.trim();
  if (value === 'false' || value === '') return false;
  if (value === 'true') return true;
  if (/^[0-9]+$/.test(value)) return Number(value);
  const entries = value.split(',').map((e) => e.trim());
  for (const entry of entries) {
    const [address, bits, ...rest] = entry.split('/');
    const family = isIP(address ?? '');
    const maxBits = family === 4 ? 32 : 128;
    const bitsOk = bits === undefined || (/^[0-9]{1,3}$/.test(bits) && Number(bits) <= maxBits);
    if (family === 0 || !bitsOk || rest.length > 0) {
      throw new ConfigError('TRUST_PROXY', `must be false, a number of hops or a list of addresses/CIDRs`);
    }
  }
  return entries;
}

function parseOrigins(raw: string): string[] {
  const origins = raw
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o.length > 0);
  for (const origin of origins) {
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new ConfigError('CORS_ORIGINS', `has an entry that is not an origin: "${origin}"`);
    }
    if (parsed.origin !== origin.replace(/\/$/, '') || origin === '*') {
      throw new ConfigError('CORS_ORIGINS', `entries must be origins such as https://app.example.com`);
    }
  }
  return origins.map((o) => o.replace(/\/$/, ''));
}

function defaultPublicUrl(host: string, port: number): string {
  const shown = host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${port}`;
}

function toConfig(env: Env) {
  const production = env.NODE_ENV === 'production';
  const database = parseDatabaseUrl(env.DATABASE_URL);
  const inMemory = database.kind === 'sqlite' && database.filename === ':memory:';
  const dataDir =
    database.kind === 'sqlite' && !inMemory ? dirname(resolve(database.filename)) : resolve('data');

  if (production && !env.PUBLIC_URL) throw new ConfigError('PUBLIC_URL', 'is required in production');
  if (env.JWT_SECRET !== undefined && Buffer.byteLength(env.JWT_SECRET, 'utf8') < 32) {
    throw new ConfigError('JWT_SECRET', 'must be at least 32 bytes of UTF-8');
  }
  if (production && env.JWT_SECRET === undefined) {
    throw new ConfigError('JWT_SECRET', 'is required in production (at least 32 bytes)');
  }
  if ((env.ADMIN_EMAIL === undefined) !== (env.ADMIN_PASSWORD === undefined)) {
    const missing = env.ADMIN_EMAIL === undefined ? 'ADMIN_EMAIL' : 'ADMIN_PASSWORD';
    throw new ConfigError(missing, 'must be set together with the other of ADMIN_EMAIL/ADMIN_PASSWORD');
  }
  if (env.ADMIN_EMAIL && env.ADMIN_PASSWORD) {
    const length = passwordLength(env.ADMIN_PASSWORD);
    if (length < PASSWORD_MIN || length > PASSWORD_MAX) {
      throw new ConfigError('ADMIN_PASSWORD', `must have ${PASSWORD_MIN}–${PASSWORD_MAX} characters`);
    }
    const weak = weakPasswordReason(env.ADMIN_PASSWORD, env.ADMIN_EMAIL);
    if (weak) throw new ConfigError('ADMIN_PASSWORD', weak);
  }
  if ((env.TLS_CERT_FILE === undefined) !== (env.TLS_KEY_FILE === undefined)) {
    const missing = env.TLS_CERT_FILE === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE';
    throw new ConfigError(missing, 'must be set together with the other of TLS_CERT_FILE/TLS_KEY_FILE');
  }
  if (env.SMTP_URL !== undefined && env.MAIL_FROM === undefined) {
    throw new ConfigError('MAIL_FROM', 'is required when SMTP_URL is set');
  }
  if (env.WEB_CONCURRENCY > 1 && env.REDIS_URL === undefined) {
    throw new ConfigError('WEB_CONCURRENCY', 'above 1 requires REDIS_URL');
  }
  if (env.API_V1_SUNSET !== undefined && !Number.isFinite(Date.parse(`${env.API_V1_SUNSET}T00:00:00Z`))) {
    throw new ConfigError('API_V1_SUNSET', 'must be a calendar date such as 2030-06-30');
  }
  const sunsetOk =
    env.API_V1_SUNSET === undefined ||
    new Date(`${env.API_V1_SUNSET}T00:00:00Z`).toISOString().startsWith(env.API_V1_SUNSET);
  if (!sunsetOk) throw new ConfigError('API_V1_SUNSET', 'must be a calendar date such as 2030-06-30');

  const publicUrl = (env.PUBLIC_URL ?? defaultPublicUrl(env.HOST, env.PORT)).replace(/\/+$/, '');
  return {
    env: env.NODE_ENV as 'development' | 'production' | 'test',
    production,
    host: env.HOST,
    port: env.PORT,
    publicUrl,
    tls:
      env.TLS_CERT_FILE && env.TLS_KEY_FILE
        ? { certFile: env.TLS_CERT_FILE, keyFile: env.TLS_KEY_FILE }
        : null,
    database,
    dataDir,
    databasePoolSize: env.DATABASE_POOL_SIZE,
    databaseStatementTimeoutMs: parseDuration(env.DATABASE_STATEMENT_TIMEOUT),
    migrateOnStart: env.MIGRATE_ON_START,
    redisUrl: env.REDIS_URL ?? null,
    jwtSecret: env.JWT_SECRET ?? null,
    admin:
      env.ADMIN_EMAIL && env.ADMIN_PASSWORD ? { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD } : null,
    registrationOpen: env.REGISTRATION === 'open',
    accessTokenTtlMs: parseDuration(env.ACCESS_TOKEN_TTL),
    refreshTokenTtlMs: parseDuration(env.REFRESH_TOKEN_TTL),
    refreshReuseGraceMs: atMost('REFRESH_REUSE_GRACE', parseDuration(env.REFRESH_REUSE_GRACE), 60_000),
    rateLimit: {
      max: env.RATE_LIMIT_MAX,
      windowMs: parseDuration(env.RATE_LIMIT_WINDOW),
      authMax: env.AUTH_RATE_LIMIT_MAX,
      loginFailuresMax: env.LOGIN_FAILURES_MAX,
    },
    corsOrigins: parseOrigins(env.CORS_ORIGINS),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    logLevel: env.LOG_LEVEL,
    apiV1Sunset: env.API_V1_SUNSET ?? null,
    metricsPort: env.METRICS_PORT ?? null,
    otelEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT ?? null,
    smtp: env.SMTP_URL && env.MAIL_FROM ? { url: env.SMTP_URL, from: env.MAIL_FROM } : null,
    passwordResetUrl: env.PASSWORD_RESET_URL ?? `${publicUrl}/reset-password#token={token}`,
    webConcurrency: env.WEB_CONCURRENCY,
    requestTimeoutMs: parseDuration(env.REQUEST_TIMEOUT),
    shutdownDrainDelayMs: parseDuration(env.SHUTDOWN_DRAIN_DELAY),
    shutdownTimeoutMs: parseDuration(env.SHUTDOWN_TIMEOUT),
  };
}

type Mutable = ReturnType<typeof toConfig>;
export type Config = Readonly<Mutable>;

const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: false, strict: true });
const validateEnv = ajv.compile<Env>(EnvSchema);

function describe(error: ErrorObject): ConfigError {
  const variable = error.instancePath.replace(/^\//, '') || 'environment';
  const problems: Record<string, string> = {
    type: `must be ${String(error.params.type)}`,
    enum: `must be one of ${(error.params.allowedValues as string[] | undefined)?.join(', ')}`,
    pattern: 'has an invalid format',
    minimum: `must be at least ${String(error.params.limit)}`,
    maximum: `must be at most ${String(error.params.limit)}`,
    minLength: 'must not be empty',
    maxLength: `must be at most ${String(error.params.limit)} characters`,
  };
  return new ConfigError(variable, problems[error.keyword] ?? error.message ?? 'is invalid');
}

/**
 * Parses the environment once. Empty strings count as unset, as in most twelve-factor tooling.
 * Throws ConfigError naming the first bad variable; never echoes a value (it may be a secret).
 */
export function loadConfig(source: Record<string, string | undefined>): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = source[key];
    if (value === undefined || value === '') continue;
    // Ajv would coerce "1e6" or " 42" to numbers; configuration takes plain digits only.
    const declared = (EnvSchema.properties as Record<string, { type?: string }>)[key];
    if (declared?.type === 'integer' && !/^[0-9]+$/.test(value))
      throw new ConfigError(key, 'must be a whole number');
    raw[key] = value;
  }
  if (!validateEnv(raw)) {
    const first = validateEnv.errors?.[0];
    throw first ? describe(first) : new ConfigError('environment', 'is invalid');
  }
  return Object.freeze(toConfig(raw));
}
