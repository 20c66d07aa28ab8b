// Container probes, with node itself (the slim image has no curl):
//   node deploy/healthcheck.mjs          GET /health/live on this container's PORT (the API)
//   node deploy/healthcheck.mjs worker   the worker's heartbeat file is fresh (it serves no HTTP)
// Exit 0 when healthy, 1 otherwise. HTTPS when TLS_CERT_FILE is set, without checking the
// certificate: the probe asks the process beside it on loopback, not by the certificate's name.
import { statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** src/cli/worker.ts touches it every 5 s while jobs run. */
const HEARTBEAT = join(tmpdir(), 'taskforge-worker.heartbeat');
const HEARTBEAT_MAX_AGE_MS = 30_000;

function worker() {
  try {
    process.exit(Date.now() - statSync(HEARTBEAT).mtimeMs < HEARTBEAT_MAX_AGE_MS ? 0 : 1);
  } catch {
    process.exit(1);
  }
}

function api() {
  const client = process.env.TLS_CERT_FILE ? https : http;
  const request = client.get(
    {
      host: '127.0.0.1',
      port: Number(process.env.PORT || 3000),
      path: '/health/live',
      timeout: 2000,
      rejectUnauthorized: false,
    },
    (response) => {
      response.resume();
      process.exit(response.statusCode === 200 ? 0 : 1);
    },
  );
  request.on('timeout', () => request.destroy(new Error('timed out')));
  request.on('error', () => process.exit(1));
}

if (process.argv[2] === 'worker') worker();
else api();
