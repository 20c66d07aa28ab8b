import cluster from 'node:cluster';
import { buildApp } from './app.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { openDatabase } from './db/database.js';
import { MigrationError, migrateToLatest } from './db/migrator.js';
import { writeProblem } from './db/write-probe.js';
import { loadOrCreateDevSecret } from './lib/dev-secret.js';
import { readEnvironment } from './lib/environment.js';
import { shutDown } from './lib/shutdown.js';

/** The only module that reads the environment, listens, and handles signals. */

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function configure(): Config {
  try {
    const config = loadConfig(readEnvironment());
    if (config.jwtSecret !== null) return config;
    return Object.freeze({ ...config, jwtSecret: loadOrCreateDevSecret(config.dataDir) });
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
}

/** A database that cannot be written stops start-up here, rather than as a 500 on every write. */
async function checkWritable(config: Config): Promise<void> {
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

async function serve(config: Config): Promise<void> {
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
}

async function main(): Promise<void> {
  const config = configure();
  if (cluster.isPrimary) {
    await checkWritable(config);
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
  await serve(config);
}

main().catch((error: unknown) => {
  process.stderr.write(`start-up failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
