import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { closestName } from './lib/closest-name.js';
import { PASSWORD_MAX, PASSWORD_MIN, passwordLength, weakPasswordReason } from './lib/password-policy.js';

/**
 * Every environment variable the service reads, in one schema. Values arrive as strings; Ajv
 * coerces numbers and booleans and fills defaults, then `toConfig` derives the typed, frozen
 * Config (durations in milliseconds, URLs normalised, cross-field rules applied).
 * `x-accepts` says what a string variable accepts, for the start-up line that refuses it.
 */
const Duration = (def: string, example = def) =>
  Type.String({
    pattern: '^[0-9]{1,9}(ms|s|m|h|d)$',
    default: def,
    'x-accepts': `must be a duration such as ${example}`,
  });
const Flag = (def: boolean) => Type.Boolean({ default: def });
const HTTP_URL = 'must be an http:// or https:// URL';
const SUNSET_ACCEPTS = 'must be a calendar date such as 2030-06-30';

export const EnvSchema = Type.Object({
  NODE_ENV: Type.String({ enum: ['development', 'production', 'test'], default: 'development' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  PUBLIC_URL: Type.Optional(
    Type.String({
      pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$',
      'x-accepts': `${HTTP_URL} without a query or fragment, such as https://tasks.example.com`,
    }),
  ),
  TLS_CERT_FILE: Type.Optional(Type.String({ minLength: 1 })),
  TLS_KEY_FILE: Type.Optional(Type.String({ minLength: 1 })),
  DATABASE_URL: Type.String({
    pattern: '^(sqlite:.+|postgres(ql)?://.+)$',
    default: 'sqlite:./data/taskforge.db',
    'x-accepts':
      'must start with sqlite: or postgres:// (sqlite:./data/taskforge.db, sqlite::memory:, postgres://user@host:5432/db)',
  }),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
  DATABASE_STATEMENT_TIMEOUT: Duration('5s'),
  MIGRATE_ON_START: Flag(true),
  REDIS_URL: Type.Optional(
    Type.String({ pattern: '^rediss?://.+', 'x-accepts': 'must start with redis:// or rediss://' }),
  ),
  JWT_SECRET: Type.Optional(Type.String({ minLength: 1 })),
  ADMIN_EMAIL: Type.Optional(
    Type.String({
      minLength: 3,
      maxLength: 254,
      pattern: '^[^@\\s]+@[^@\\s]+$',
      'x-accepts': 'must be an email address of at most 254 characters, such as admin@example.com',
    }),
  ),
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
  API_V1_SUNSET: Type.Optional(
    Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', 'x-accepts': SUNSET_ACCEPTS }),
  ),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://.+', 'x-accepts': HTTP_URL })),
  SMTP_URL: Type.Optional(
    Type.String({ pattern: '^smtps?://.+', 'x-accepts': 'must start with smtp:// or smtps://' }),
  ),
  MAIL_FROM: Type.Optional(
    Type.String({ minLength: 3, 'x-accepts': 'must be an address such as Taskforge <no-reply@example.com>' }),
  ),
  PASSWORD_RESET_URL: Type.Optional(
    Type.String({ pattern: '^https?://.+\\{token\\}', 'x-accepts': `${HTTP_URL} that contains {token}` }),
  ),
  WEB_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
  WORKER: Type.String({
    enum: ['inline', 'off'],
    default: 'inline',
    'x-accepts': 'must be inline (background jobs run in this process) or off (npm run worker runs them)',
  }),
  EVENTS_RETENTION: Duration('30d'),
  WEBHOOK_ALLOW_HTTP: Flag(false),
  WEBHOOK_ALLOW_PRIVATE: Flag(false),
  // Not in the contract's table; documented in the README.
  REQUEST_TIMEOUT: Duration('30s'),
  SHUTDOWN_DRAIN_DELAY: Duration('0s', '5s'),
  SHUTDOWN_TIMEOUT: Duration('10s'),
});

export type Env = Static<typeof EnvSchema>;

export interface ConfigIssue {
  readonly variable: string;
  readonly problem: string;
}

/**
 * Configuration problems, reported at start-up all at once: one line per variable, each naming
 * the variable and what it accepts.
 */
export class ConfigError extends Error {
  readonly variable: string;
  readonly issues: readonly ConfigIssue[];

  constructor(variable: string, problem: string, ...more: ConfigIssue[]) {
    const issues = [{ variable, problem }, ...more];
    super(issues.map((issue) => `Invalid configuration: ${issue.variable} ${issue.problem}`).join('\n'));
    this.name = 'ConfigError';
    this.variable = variable;
    this.issues = issues;
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
      throw new ConfigError(
        'TRUST_PROXY',
        'must be true, false, a number of proxy hops, or a comma list of addresses/CIDRs such as 10.0.0.0/8',
      );
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
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {
      // Reported below, with what is accepted.
    }
    if (parsed === null || parsed.origin !== origin.replace(/\/$/, '') || origin === '*') {
      throw new ConfigError(
        'CORS_ORIGINS',
        `must be a comma list of origins such as https://app.example.com (no path, no *): "${origin}" is not one`,
      );
    }
  }
  return origins.map((o) => o.replace(/\/$/, ''));
}

function defaultPublicUrl(host: string, port: number): string {
  const shown = host.includes(':') ? `[${host}]` : host;
  return `http://${shown}:${port}`;
}

type Report = (variable: string, problem: string) => void;

/** A sub-parser's refusal becomes a reported issue, and its fallback stands in for the value. */
function orFallback<T>(report: Report, parse: () => T, fallback: T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const issue of error.issues) report(issue.variable, issue.problem);
    return fallback;
  }
}

/** Derives the Config; every broken rule between variables is reported, not only the first. */
function toConfig(env: Env, report: Report) {
  const production = env.NODE_ENV === 'production';
  const database = parseDatabaseUrl(env.DATABASE_URL);
  const inMemory = database.kind === 'sqlite' && database.filename === ':memory:';
  const dataDir =
    database.kind === 'sqlite' && !inMemory ? dirname(resolve(database.filename)) : resolve('data');

  if (production && !env.PUBLIC_URL) {
    report('PUBLIC_URL', 'is required in production: the public base URL, such as https://tasks.example.com');
  }
  if (env.JWT_SECRET !== undefined && Buffer.byteLength(env.JWT_SECRET, 'utf8') < 32) {
    report('JWT_SECRET', 'must be at least 32 bytes of UTF-8');
  }
  if (production && env.JWT_SECRET === undefined) {
    report('JWT_SECRET', 'is required in production: at least 32 bytes of UTF-8 (openssl rand -hex 32)');
  }
  if ((env.ADMIN_EMAIL === undefined) !== (env.ADMIN_PASSWORD === undefined)) {
    const missing = env.ADMIN_EMAIL === undefined ? 'ADMIN_EMAIL' : 'ADMIN_PASSWORD';
    report(missing, 'must be set together with the other of ADMIN_EMAIL/ADMIN_PASSWORD');
  }
  if (env.ADMIN_EMAIL && env.ADMIN_PASSWORD) {
    const length = passwordLength(env.ADMIN_PASSWORD);
    if (length < PASSWORD_MIN || length > PASSWORD_MAX) {
      report('ADMIN_PASSWORD', `must have ${PASSWORD_MIN}–${PASSWORD_MAX} characters`);
    }
    const weak = weakPasswordReason(env.ADMIN_PASSWORD, env.ADMIN_EMAIL);
    if (weak) report('ADMIN_PASSWORD', weak);
  }
  if ((env.TLS_CERT_FILE === undefined) !== (env.TLS_KEY_FILE === undefined)) {
    const missing = env.TLS_CERT_FILE === undefined ? 'TLS_CERT_FILE' : 'TLS_KEY_FILE';
    report(missing, 'must be set together with the other of TLS_CERT_FILE/TLS_KEY_FILE');
  }
  if (env.SMTP_URL !== undefined && env.MAIL_FROM === undefined) {
    report('MAIL_FROM', 'is required when SMTP_URL is set');
  }
  if (env.WEB_CONCURRENCY > 1 && env.REDIS_URL === undefined) {
    report('WEB_CONCURRENCY', 'above 1 requires REDIS_URL');
  }
  const sunset = env.API_V1_SUNSET === undefined ? null : Date.parse(`${env.API_V1_SUNSET}T00:00:00Z`);
  const sunsetOk =
    sunset === null ||
    (Number.isFinite(sunset) && new Date(sunset).toISOString().startsWith(env.API_V1_SUNSET ?? ''));
  if (!sunsetOk) report('API_V1_SUNSET', SUNSET_ACCEPTS);

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
    corsOrigins: orFallback(report, () => parseOrigins(env.CORS_ORIGINS), []),
    trustProxy: orFallback(report, () => parseTrustProxy(env.TRUST_PROXY), false),
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    logLevel: env.LOG_LEVEL,
    apiV1Sunset: env.API_V1_SUNSET ?? null,
    metricsPort: env.METRICS_PORT ?? null,
    otelEndpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT ?? null,
    smtp: env.SMTP_URL && env.MAIL_FROM ? { url: env.SMTP_URL, from: env.MAIL_FROM } : null,
    passwordResetUrl: env.PASSWORD_RESET_URL ?? `${publicUrl}/reset-password#token={token}`,
    webConcurrency: env.WEB_CONCURRENCY,
    worker: env.WORKER as 'inline' | 'off',
    eventsRetentionMs: parseDuration(env.EVENTS_RETENTION),
    webhookAllowHttp: env.WEBHOOK_ALLOW_HTTP,
    webhookAllowPrivate: env.WEBHOOK_ALLOW_PRIVATE,
    requestTimeoutMs: parseDuration(env.REQUEST_TIMEOUT),
    shutdownDrainDelayMs: parseDuration(env.SHUTDOWN_DRAIN_DELAY),
    shutdownTimeoutMs: parseDuration(env.SHUTDOWN_TIMEOUT),
  };
}

type Mutable = ReturnType<typeof toConfig>;
export type Config = Readonly<Mutable>;

const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: true, strict: true });
// An annotation for the refusal message; it validates nothing.
ajv.addKeyword('x-accepts');
const validateEnv = ajv.compile<Env>(EnvSchema);

interface DeclaredVariable {
  type?: string;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  'x-accepts'?: string;
}

function declared(variable: string): DeclaredVariable | undefined {
  return (EnvSchema.properties as Record<string, DeclaredVariable>)[variable];
}

/** What a variable accepts, as the rest of the sentence that starts with its name. */
function accepted(variable: string, error?: ErrorObject): string {
  const schema = declared(variable) ?? {};
  if (schema['x-accepts']) return schema['x-accepts'];
  if (schema.enum) return `must be one of ${schema.enum.join(', ')}`;
  if (schema.type === 'integer') {
    const { minimum: min, maximum: max } = schema;
    if (min !== undefined && max !== undefined) return `must be a whole number from ${min} to ${max}`;
    return min !== undefined ? `must be a whole number of at least ${min}` : 'must be a whole number';
  }
  if (schema.type === 'boolean') return 'must be true or false';
  return error?.message ?? 'is invalid';
}

/**
 * Parses the environment once. Empty strings count as unset, as in most twelve-factor tooling.
 * Throws one ConfigError naming every bad variable, each once; never echoes a value (it may be a
 * secret).
 */
export function loadConfig(source: Record<string, string | undefined>): Config {
  const issues = new Map<string, string>();
  const report: Report = (variable, problem) => {
    if (!issues.has(variable)) issues.set(variable, problem);
  };
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(EnvSchema.properties)) {
    const value = source[key];
    if (value === undefined || value === '') continue;
    // Ajv would coerce "1e6" or " 42" to numbers; configuration takes plain digits only.
    if (declared(key)?.type === 'integer' && !/^[0-9]+$/.test(value)) report(key, accepted(key));
    else raw[key] = value;
  }
  let valid = validateEnv(raw);
  if (!valid) {
    for (const error of validateEnv.errors ?? []) {
      const variable =
        (error.params as { missingProperty?: string }).missingProperty ?? error.instancePath.slice(1);
      report(variable || 'environment', accepted(variable, error));
      delete raw[variable];
    }
    // Without the refused variables (their defaults stand in), the rules between variables can
    // still run, so one start-up names every problem.
    valid = validateEnv(raw);
  }
  const config = valid ? toConfig(raw as Env, report) : null;
  const [first, ...rest] = [...issues].map(([variable, problem]) => ({ variable, problem }));
  if (first) throw new ConfigError(first.variable, first.problem, ...rest);
  if (!config) throw new ConfigError('environment', 'is invalid');
  return Object.freeze(config);
}

/** Names that libraries read from the environment themselves: never reported as unknown. */
const LIBRARY_PREFIXES = ['OTEL_', 'NODE_', 'UV_'];

/**
 * A warning for each name in the `.env` file that is not a Taskforge variable, with the closest
 * known name when one is close: a typo never passes in silence.
 */
export function unknownVariableWarnings(dotenvNames: readonly string[]): string[] {
  const known = Object.keys(EnvSchema.properties);
  const warnings: string[] = [];
  for (const name of dotenvNames) {
    if (known.includes(name) || LIBRARY_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    const suggestion = closestName(name, known);
    warnings.push(
      `${name} is not a Taskforge variable${suggestion ? `; did you mean ${suggestion}?` : ' (ignored)'}`,
    );
  }
  return warnings;
}
