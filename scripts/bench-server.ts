import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

/**
 * The service as the benchmarks start it: a production process on 127.0.0.1:`port` with a SQLite
 * file in `dataDir`, limits roomy enough for load, and a log of warnings only. Resolves once
 * `/health/ready` answers 200 (within 60 s; the process is killed otherwise).
 */
export async function startBenchServer(
  command: string,
  args: string[],
  port: number,
  dataDir: string,
): Promise<ChildProcess> {
  const child = spawn(command, args, {
    cwd: dataDir,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      DATABASE_URL: `sqlite:${join(dataDir, 'bench.db')}`,
      JWT_SECRET: 'bench-secret-of-at-least-32-bytes-0123456789',
      RATE_LIMIT_MAX: '100000000',
      AUTH_RATE_LIMIT_MAX: '100000000',
      LOGIN_FAILURES_MAX: '100000000',
      LOG_LEVEL: 'warn',
    },
  });
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200) return child;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('the service did not become ready within 60 s');
}
