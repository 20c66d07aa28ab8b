import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createContext } from '../app.js';
import { ConfigError, loadConfig } from '../config.js';
import { readEnvironment } from '../lib/environment.js';
import { listenForMetrics } from '../plugins/metrics.js';

/**
 * `npm run worker`: runs the background jobs (lib/jobs.ts) without HTTP, on the app's own context
 * (the same modules define the same job types), beside API processes started with WORKER=off or
 * inline: every process that runs jobs shares them, each attempt made by one. SIGTERM or SIGINT
 * stops taking jobs; running ones finish within half of SHUTDOWN_TIMEOUT or go back to the queue.
 * With METRICS_PORT it serves GET /metrics there (on HOST): the attempts it made, the queue's depth.
 */

/**
 * The worker serves no HTTP: container probes (`node deploy/healthcheck.mjs worker`) read the age
 * of this file instead, touched every few seconds once jobs run, and removed on a clean stop.
 */
const HEARTBEAT_FILE = 'taskforge-worker.heartbeat';
const HEARTBEAT_MS = 5000;

function beat(file: string): void {
  try {
    writeFileSync(file, `${process.pid} ${new Date().toISOString()}\n`);
  } catch {
    // A read-only temporary folder only blinds the probe; the jobs still run.
  }
}

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(readEnvironment());
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  // Synchronous: the last lines before process.exit must not be lost.
  const log = pino({ level: config.logLevel, base: { process: 'worker' } }, pino.destination({ sync: true }));
  const { ctx, close, startBackground } = createContext(config, { log });
  // METRICS_PORT: the jobs' metrics are counted here, where the jobs run.
  const metrics =
    config.metricsPort === null
      ? null
      : await listenForMetrics(() => ctx.metrics.render(), {
          host: config.host,
          port: config.metricsPort,
          publicUrl: config.publicUrl,
        });
  const heartbeat = join(tmpdir(), HEARTBEAT_FILE);
  let running = false;
  // The engines' timers do not hold a process open (an API process has its server): this does.
  const keepAlive = setInterval(() => {
    if (running) beat(heartbeat);
  }, HEARTBEAT_MS);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'worker stopping');
    const timer = setTimeout(() => {
      log.error('worker shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs + 1000);
    timer.unref();
    await metrics?.close();
    running = false;
    rmSync(heartbeat, { force: true });
    await close();
    clearInterval(keepAlive);
    log.info('worker stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  await startBackground();
  if (stopping) return;
  running = true;
  beat(heartbeat);
  log.info({ database: config.database.kind }, 'worker started: running background jobs');
}

main().catch((error: unknown) => {
  process.stderr.write(`worker failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
