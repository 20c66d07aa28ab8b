import cluster from 'node:cluster';
import { buildApp } from './app.js';
import { type Config, ConfigError, loadConfig, noEffectWarnings, unknownVariableWarnings } from './config.js';
import { openDatabase } from './db/database.js';
import { MigrationError, migrateToLatest } from './db/migrator.js';
import { postgresUnreachable } from './db/target.js';
import { writeProblem } from './db/write-probe.js';
import { loadOrCreateDevSecret } from './lib/dev-secret.js';
import { readDotenv } from './lib/environment.js';
import { shutDown } from './lib/shutdown.js';
import { logStartup } from './startup.js';

/** The only module that reads the environment, listens, and handles signals. */

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** The configuration, and the warnings to log once the service is up. */
function configure(): { config: Config; warnings: string[] } {
  const dotenv = readDotenv();
  // The real environment wins over the .env file.
  const env = { ...dotenv, ...process.env };
  const typos = unknownVariableWarnings(Object.keys(dotenv));
  try {
    const config = loadConfig(env);
    const warnings = [...typos, ...noEffectWarnings(env)];
    if (config.jwtSecret !== null) return { config, warnings };
    return {
      config: Object.freeze({ ...config, jwtSecret: loadOrCreateDevSecret(config.dataDir) }),
      warnings,
    };
  } catch (error) {
    // Every bad variable, one line each; a mistyped name in .env is often the reason.
    if (error instanceof ConfigError) fail([error.message, ...typos.map((w) => `Warning: ${w}`)].join('\n'));
    throw error;
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

async function serve(config: Config, warnings: string[]): Promise<void> {
  const app = await buildApp(config);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    await shutDown(app, {
      drainDelayMs: config.shutdownDrainDelayMs,
      timeoutMs: config.shutdownTimeoutMs,
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

async function main(): Promise<void> {
  const { config, warnings } = configure();
  if (cluster.isPrimary) {
    await checkDatabase(config);
    // The primary migrates before any worker starts, so workers never race on the schema.
    if (config.migrateOnStart) await migrate(config);
    if (config.webConcurrency > 1) {
      for (let i = 0; i < config.webConcurrency; i += 1) cluster.fork();
      cluster.on('exit', (worker, code) => {
        if (code !== 0) process.stderr.write(`worker ${worker.process.pid} exited with ${code}\n`);
      });
      return;
    }
  }
  await serve(config, warnings);
}

main().catch((error: unknown) => {
  process.stderr.write(`start-up failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
