import { describe, expect, it } from 'vitest';
import { ConfigError, EnvSchema, loadConfig, parseDuration } from '../../src/config.js';

const SECRET = 'x'.repeat(32);

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected the configuration to be refused');
}

describe('configuration', () => {
  it('starts with zero configuration on the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      host: '127.0.0.1',
      port: 3000,
      publicUrl: 'http://127.0.0.1:3000',
      database: { kind: 'sqlite', filename: './data/taskforge.db' },
      databasePoolSize: 10,
      databaseStatementTimeoutMs: 5000,
      migrateOnStart: true,
      redisUrl: null,
      jwtSecret: null,
      registrationOpen: true,
      accessTokenTtlMs: 15 * 60_000,
      refreshTokenTtlMs: 30 * 86_400_000,
      rateLimit: { max: 600, windowMs: 60_000, authMax: 30, loginFailuresMax: 5 },
      corsOrigins: [],
      trustProxy: false,
      bodyLimitBytes: 1_048_576,
      logLevel: 'info',
      apiV1Sunset: null,
      metricsPort: null,
      smtp: null,
      passwordResetUrl: 'http://127.0.0.1:3000/reset-password#token={token}',
      webConcurrency: 1,
      worker: 'inline',
    });
    expect(config.dataDir).toMatch(/\/data$/);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every variable of the contract', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      HOST: '0.0.0.0',
      PORT: '8080',
      PUBLIC_URL: 'https://tasks.example.com/',
      DATABASE_URL: 'postgres://u@db:5432/tasks',
      DATABASE_POOL_SIZE: '20',
      DATABASE_STATEMENT_TIMEOUT: '2500ms',
      MIGRATE_ON_START: 'false',
      REDIS_URL: 'redis://cache:6379',
      JWT_SECRET: SECRET,
      ADMIN_EMAIL: 'root@example.com',
      ADMIN_PASSWORD: 'correct horse battery staple',
      REGISTRATION: 'closed',
      ACCESS_TOKEN_TTL: '5m',
      REFRESH_TOKEN_TTL: '12h',
      RATE_LIMIT_MAX: '100',
      RATE_LIMIT_WINDOW: '90s',
      AUTH_RATE_LIMIT_MAX: '10',
      LOGIN_FAILURES_MAX: '3',
      CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
      TRUST_PROXY: '10.0.0.0/8,192.168.1.1',
      BODY_LIMIT_BYTES: '2048',
      LOG_LEVEL: 'warn',
      API_V1_SUNSET: '2030-06-30',
      METRICS_PORT: '9100',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318',
      SMTP_URL: 'smtp://mail:25',
      MAIL_FROM: 'Taskforge <no-reply@example.com>',
      PASSWORD_RESET_URL: 'https://app.example.com/reset#token={token}',
      WEB_CONCURRENCY: '4',
    });
    expect(config).toMatchObject({
      production: true,
      host: '0.0.0.0',
      port: 8080,
      publicUrl: 'https://tasks.example.com',
      database: { kind: 'postgres', connectionString: 'postgres://u@db:5432/tasks' },
      databasePoolSize: 20,
      databaseStatementTimeoutMs: 2500,
      migrateOnStart: false,
      redisUrl: 'redis://cache:6379',
      jwtSecret: SECRET,
      admin: { email: 'root@example.com', password: 'correct horse battery staple' },
      registrationOpen: false,
      accessTokenTtlMs: 300_000,
      refreshTokenTtlMs: 43_200_000,
      rateLimit: { max: 100, windowMs: 90_000, authMax: 10, loginFailuresMax: 3 },
      corsOrigins: ['https://app.example.com', 'http://localhost:5173'],
      trustProxy: ['10.0.0.0/8', '192.168.1.1'],
      bodyLimitBytes: 2048,
      logLevel: 'warn',
      apiV1Sunset: '2030-06-30',
      metricsPort: 9100,
      otelEndpoint: 'http://otel:4318',
      smtp: { url: 'smtp://mail:25', from: 'Taskforge <no-reply@example.com>' },
      passwordResetUrl: 'https://app.example.com/reset#token={token}',
      webConcurrency: 4,
    });
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', JWT_SECRET: '' }).port).toBe(3000);
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ PORT: '3000.5' }, 'PORT'],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ DATABASE_POOL_SIZE: '0' }, 'DATABASE_POOL_SIZE'],
    [{ DATABASE_STATEMENT_TIMEOUT: '5' }, 'DATABASE_STATEMENT_TIMEOUT'],
    [{ MIGRATE_ON_START: 'yes' }, 'MIGRATE_ON_START'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ REGISTRATION: 'invite' }, 'REGISTRATION'],
    [{ ACCESS_TOKEN_TTL: '15 minutes' }, 'ACCESS_TOKEN_TTL'],
    [{ RATE_LIMIT_WINDOW: '-1s' }, 'RATE_LIMIT_WINDOW'],
    [{ RATE_LIMIT_MAX: '0' }, 'RATE_LIMIT_MAX'],
    [{ CORS_ORIGINS: '*' }, 'CORS_ORIGINS'],
    [{ CORS_ORIGINS: 'https://app.example.com/path' }, 'CORS_ORIGINS'],
    [{ TRUST_PROXY: 'everyone' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/99' }, 'TRUST_PROXY'],
    [{ BODY_LIMIT_BYTES: '1e6' }, 'BODY_LIMIT_BYTES'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL'],
    [{ API_V1_SUNSET: '2030-02-30' }, 'API_V1_SUNSET'],
    [{ API_V1_SUNSET: 'soon' }, 'API_V1_SUNSET'],
    [{ PUBLIC_URL: 'tasks.example.com' }, 'PUBLIC_URL'],
    [{ ADMIN_EMAIL: 'root@example.com' }, 'ADMIN_PASSWORD'],
    [{ ADMIN_PASSWORD: 'secret secret' }, 'ADMIN_EMAIL'],
    [{ ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'too short' }, 'ADMIN_PASSWORD'],
    [{ ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'qwerty123456' }, 'ADMIN_PASSWORD'],
    [{ ADMIN_EMAIL: 'rooty@example.com', ADMIN_PASSWORD: 'my-ROOTY-password' }, 'ADMIN_PASSWORD'],
    [{ TLS_CERT_FILE: '/tmp/cert.pem' }, 'TLS_KEY_FILE'],
    [{ SMTP_URL: 'smtp://mail:25' }, 'MAIL_FROM'],
    [{ WEB_CONCURRENCY: '2' }, 'WEB_CONCURRENCY'],
    [{ PASSWORD_RESET_URL: 'https://app.example.com/reset' }, 'PASSWORD_RESET_URL'],
  ])('refuses %j with one line naming %s', (env, variable) => {
    const error = refusal(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(new RegExp(`^Invalid configuration: ${variable} `));
    expect(error.message).not.toContain('\n');
  });

  it.each([
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL must start with sqlite: or postgres://'],
    [{ ACCESS_TOKEN_TTL: '15 minutes' }, 'ACCESS_TOKEN_TTL must be a duration such as 15m'],
    [{ REFRESH_TOKEN_TTL: '30' }, 'REFRESH_TOKEN_TTL must be a duration such as 30d'],
    [{ NODE_ENV: 'staging' }, 'NODE_ENV must be one of development, production, test'],
    [{ REGISTRATION: 'invite' }, 'REGISTRATION must be one of open, closed'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent'],
    [{ PORT: 'eighty' }, 'PORT must be a whole number from 0 to 65535'],
    [{ RATE_LIMIT_MAX: '1e6' }, 'RATE_LIMIT_MAX must be a whole number of at least 1'],
    [{ MIGRATE_ON_START: 'yes' }, 'MIGRATE_ON_START must be true or false'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL must start with redis:// or rediss://'],
    [{ PUBLIC_URL: 'tasks.example.com' }, 'PUBLIC_URL must be an http:// or https:// URL'],
    [{ SMTP_URL: 'mail:25', MAIL_FROM: 'a@b.c' }, 'SMTP_URL must start with smtp:// or smtps://'],
    [{ API_V1_SUNSET: 'soon' }, 'API_V1_SUNSET must be a calendar date such as 2030-06-30'],
    [{ TRUST_PROXY: 'everyone' }, 'TRUST_PROXY must be true, false, a number of proxy hops, or a comma list'],
    [{ CORS_ORIGINS: '*' }, 'CORS_ORIGINS must be a comma list of origins such as https://app.example.com'],
    [{ WORKER: 'external' }, 'WORKER must be inline (background jobs run in this process) or off'],
  ])('refuses %j saying what is accepted', (env, text) => {
    expect(refusal(env).message).toContain(`Invalid configuration: ${text}`);
  });

  it('says what every variable with a format accepts', () => {
    for (const [name, schema] of Object.entries(EnvSchema.properties)) {
      if ('pattern' in schema) expect(schema['x-accepts'], name).toMatch(/^must /);
    }
  });

  it('reports every bad or missing variable at once, one line each', () => {
    const error = refusal({
      NODE_ENV: 'production',
      PORT: 'eighty',
      ACCESS_TOKEN_TTL: '15 minutes',
      DATABASE_URL: 'mysql://db',
      LOG_LEVEL: 'loud',
      MIGRATE_ON_START: 'yes',
      TRUST_PROXY: 'everyone',
    });
    const expected = [
      'PORT',
      'ACCESS_TOKEN_TTL',
      'DATABASE_URL',
      'LOG_LEVEL',
      'MIGRATE_ON_START',
      'TRUST_PROXY',
      // production's required variables, in the same start-up
      'PUBLIC_URL',
      'JWT_SECRET',
    ];
    expect(error.issues.map((issue) => issue.variable).sort()).toEqual([...expected].sort());
    const lines = error.message.split('\n');
    expect(lines).toHaveLength(expected.length);
    for (const variable of expected) {
      expect(lines.filter((line) => line.startsWith(`Invalid configuration: ${variable} `))).toHaveLength(1);
    }
  });

  it('names a variable once, by its own problem, not by the rules it takes part in', () => {
    // The bad ADMIN_EMAIL does not also count as a missing one beside ADMIN_PASSWORD.
    const error = refusal({ ADMIN_EMAIL: 'nobody', ADMIN_PASSWORD: 'correct horse battery staple' });
    expect(error.issues).toEqual([
      { variable: 'ADMIN_EMAIL', problem: expect.stringMatching(/^must be an email/) },
    ]);
  });

  it('never echoes a secret value in its message', () => {
    const error = refusal({ JWT_SECRET: 'my-short-secret' });
    expect(error.message).not.toContain('my-short-secret');
  });

  it('refuses production without a strong JWT_SECRET or without PUBLIC_URL', () => {
    const base = { NODE_ENV: 'production', PUBLIC_URL: 'https://tasks.example.com', JWT_SECRET: SECRET };
    expect(loadConfig(base).production).toBe(true);
    expect(refusal({ ...base, JWT_SECRET: '' }).variable).toBe('JWT_SECRET');
    expect(refusal({ ...base, JWT_SECRET: 'x'.repeat(31) }).variable).toBe('JWT_SECRET');
    expect(refusal({ ...base, PUBLIC_URL: '' }).variable).toBe('PUBLIC_URL');
    // 32 bytes of UTF-8, not 32 characters: 11 three-byte characters are 33 bytes.
    expect(loadConfig({ ...base, JWT_SECRET: '€'.repeat(11) }).jwtSecret).toBe('€'.repeat(11));
  });

  it('derives the data folder from a SQLite file and PUBLIC_URL from HOST and PORT', () => {
    expect(loadConfig({ DATABASE_URL: 'sqlite:/var/lib/taskforge/db.sqlite' }).dataDir).toBe(
      '/var/lib/taskforge',
    );
    expect(loadConfig({ DATABASE_URL: 'sqlite::memory:' }).database).toEqual({
      kind: 'sqlite',
      filename: ':memory:',
    });
    expect(loadConfig({ HOST: '::1', PORT: '8000' }).publicUrl).toBe('http://[::1]:8000');
  });

  it('accepts a hop count and true/false for TRUST_PROXY', () => {
    expect(loadConfig({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBe(false);
  });

  it('parses durations in every unit', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('12h')).toBe(43_200_000);
    expect(parseDuration('30d')).toBe(2_592_000_000);
    expect(() => parseDuration('1w')).toThrow();
  });
});
