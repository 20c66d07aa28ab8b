import cluster, { type Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { pino } from 'pino';
import { type Config, ConfigError, loadConfig, unknownVariableWarnings } from './config.js';
import { openDatabase } from './db/database.js';
import { MigrationError, migrateToLatest } from './db/migrator.js';
import { postgresUnreachable } from './db/target.js';
import { writeProblem } from './db/write-probe.js';
import { aggregateWorkerMetrics, answerPrimaryScrapes, askPrimaryForMetrics } from './lib/cluster-metrics.js';
import { loadOrCreateDevSecret } from './lib/dev-secret.js';
import { readDotenv } from './lib/environment.js';
import { RestartBackoff } from './lib/restart-backoff.js';
import { shutDown } from './lib/shutdown.js';
import { listenForMetrics } from './plugins/metrics.js';
import { logStartup } from './startup.js';

/** The only module that reads the environment, listens, and handles signals. */

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** The configuration, the environment it came from, and the warnings to log once the service is up. */
function configure(): { config: Config; env: Record<string, string | undefined>; warnings: string[] } {
  const dotenv = readDotenv();
  // The real environment wins over the .env file.
  const env = { ...dotenv, ...process.env };
  const typos = unknownVariableWarnings(Object.keys(dotenv));
  try {
    const config = loadConfig(env);
    checkTls(config);
    const warnings = typos;
    if (config.jwtSecret !== null) return { config, env, warnings };
    return {
      config: Object.freeze({ ...config, jwtSecret: loadOrCreateDevSecret(config.dataDir) }),
      env,
      warnings,
    };
  } catch (error) {
    // Every bad variable, one line each; a mistyped name in .env is often the reason.
    if (error instanceof ConfigError) fail([error.message, ...typos.map((w) => `Warning: ${w}`)].join('\n'));
    throw error;
  }
}

/**
 * The key pair read and matched now, so a wrong path or a certificate without its key stops
 * start-up with one line naming the variable, not a stack trace from the HTTPS server.
 */
function checkTls(config: Config): void {
  if (!config.tls) return;
  const read = (variable: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      return fail(`Invalid configuration: ${variable} cannot be read: ${path} (${code})`);
    }
  };
  const cert = read('TLS_CERT_FILE', config.tls.certFile);
  const key = read('TLS_KEY_FILE', config.tls.keyFile);
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    fail(
      `Invalid configuration: TLS_CERT_FILE and TLS_KEY_FILE must be a PEM certificate and its key (${reason})`,
    );
  }
}

/**
 * A database that cannot be reached or written stops start-up here with one line naming
 * DATABASE_URL, rather than as a 500 on every write.
 */
async function checkDatabase(config: Config): Promise<void> {
  const unreachable =
    config.database.kind === 'postgres' ? await postgresUnreachable(config.database.connectionString) : null;
  if (unreachable) fail(unreachable);
  const problem = await writeProblem(config.database);
  if (problem) fail(problem);
}

async function migrate(config: Config): Promise<void> {
  const database = openDatabase(config.database, { busyTimeoutMs: 60_000 });
  try {
    await migrateToLatest(database);
  } catch (error) {
    if (error instanceof MigrationError) fail(error.message);
    throw error;
  } finally {
    await database.close();
  }
}

/**
 * Tracing, when OTEL_EXPORTER_OTLP_ENDPOINT is set: the SDK starts before the app's modules are
 * imported, so its instrumentations patch what they load (ESM). Unset, no OpenTelemetry module is
 * ever loaded. The SDK reads its other OTEL_* variables itself: those of `.env` reach it too.
 */
async function startTracing(config: Config, env: Record<string, string | undefined>) {
  if (!config.otelEndpoint) return null;
  for (const [name, value] of Object.entries(env)) if (name.startsWith('OTEL_')) process.env[name] ??= value;
  const { startTelemetry } = await import('./telemetry.js');
  return startTelemetry(config.otelEndpoint, process.env);
}

async function serve(
  config: Config,
  env: Record<string, string | undefined>,
  warnings: string[],
): Promise<void> {
  // A worker answers the primary's metrics scrapes from the start, so one still booting holds none up.
  const clusterMetrics = cluster.isWorker
    ? { ...answerPrimaryScrapes(), scrape: askPrimaryForMetrics() }
    : undefined;
  const telemetry = await startTracing(config, env);
  const { buildApp } = await import('./app.js');
  const app = await buildApp(config, {
    ...(telemetry ? { tracing: telemetry } : {}),
    ...(clusterMetrics ? { clusterMetrics } : {}),
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    await shutDown(app, {
      drainDelayMs: config.shutdownDrainDelayMs,
      timeoutMs: config.shutdownTimeoutMs,
      ...(telemetry ? { afterClose: () => telemetry.shutdown() } : {}),
      onTimeout: () => {
        app.log.error('shutdown took too long; exiting');
        process.exit(1);
      },
    });
    app.log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  await app.listen({ host: config.host, port: config.port });
  // With several workers, the first one speaks for all.
  if (cluster.isPrimary || cluster.worker?.id === 1) await logStartup(app, warnings);
}

/**
 * WEB_CONCURRENCY > 1: this process forks the workers (each one runs `serve`), replaces one that
 * exits (at once when it had run a while, with a growing delay when it keeps dying young), and on
 * SIGTERM or SIGINT passes the signal on, waits for every worker to finish its own graceful
 * shutdown, and exits (1 if a worker did not stop cleanly, or in time).
 */
async function supervise(config: Config): Promise<void> {
  const log = pino({ level: config.logLevel }).child({ role: 'primary' });
  // Every worker's metrics, aggregated: on METRICS_PORT here, and for the workers' GET /metrics.
  const scrape = aggregateWorkerMetrics();
  const metricsListener =
    config.metricsPort === null
      ? null
      : await listenForMetrics(scrape, {
          host: config.host,
          port: config.metricsPort,
          publicUrl: config.publicUrl,
        }).catch((error: unknown) =>
          fail(
            `METRICS_PORT ${config.metricsPort} cannot be listened on: ${error instanceof Error ? error.message : String(error)}`,
          ),
        );
  const backoff = new RestartBackoff();
  const startedAt = new Map<Worker, number>();
  let stopping = false;
  let exitCode = 0;
  const fork = () => {
    if (!stopping) startedAt.set(cluster.fork(), Date.now());
  };
  const running = () => Object.keys(cluster.workers ?? {}).length;

  cluster.on('listening', (worker) => log.info({ workerPid: worker.process.pid }, 'worker listening'));
  cluster.on('exit', (worker, code, signal) => {
    const livedMs = Date.now() - (startedAt.get(worker) ?? Date.now());
    startedAt.delete(worker);
    const workerPid = worker.process.pid;
    if (stopping) {
      if (code !== 0) exitCode = 1;
      if (running() === 0) {
        log.info('stopped');
        void (metricsListener?.close() ?? Promise.resolve()).finally(() => process.exit(exitCode));
      }
      return;
    }
    const delayMs = backoff.next(livedMs);
    log.error({ workerPid, code, signal, livedMs, delayMs }, 'worker exited; starting another');
    setTimeout(fork, delayMs).unref();
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, workers: running() }, 'shutting down');
    if (running() === 0) void (metricsListener?.close() ?? Promise.resolve()).finally(() => process.exit(0));
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    // Each worker has its own deadline (drain delay + SHUTDOWN_TIMEOUT); this is the backstop.
    const deadline = config.shutdownDrainDelayMs + config.shutdownTimeoutMs + 5000;
    setTimeout(() => {
      log.error('workers took too long to stop; killing them');
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      process.exit(1);
    }, deadline).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  for (let i = 0; i < config.webConcurrency; i += 1) fork();
}

async function main(): Promise<void> {
  const { config, env, warnings } = configure();
  if (cluster.isPrimary) {
    await checkDatabase(config);
    // The primary migrates before any worker starts, so workers never race on the schema.
    if (config.migrateOnStart) await migrate(config);
    if (config.webConcurrency > 1) {
      await supervise(config);
      return;
    }
  }
  await serve(config, env, warnings);
}

main().catch((error: unknown) => {
  process.stderr.write(`start-up failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
