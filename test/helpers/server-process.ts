import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll } from 'vitest';
import { TEST_SECRET } from './app.js';
import { until } from './wait.js';

/** A server started as the real entry point, in a child process of its own. */
export interface ServerProcess {
  child: ChildProcess;
  /** Settles when the process has exited, however it ended. */
  exited: Promise<void>;
}

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

export interface ServerProcessOptions {
  /** Node flags before the entry point (another `--import`). */
  nodeArgs?: string[];
  /** Pipe stdout (the log) and stderr to the test (`child.stdout`, `child.stderr`). */
  pipe?: boolean;
}

/**
 * `src/server.ts` in one process (`node --import tsx`, no npm or tsx wrapper, so a SIGKILL reaches
 * the server itself) on `127.0.0.1:port`, with the test secret and `env` on top; killed when the
 * test file ends if it is still running. Its log goes nowhere, its stderr to the test's, unless
 * `pipe` hands both to the test.
 */
export function startServerProcess(
  databaseUrl: string,
  port: number,
  env: Record<string, string> = {},
  options: ServerProcessOptions = {},
): ServerProcess {
  const args = ['--import', 'tsx', ...(options.nodeArgs ?? []), 'src/server.ts'];
  const child = spawn(process.execPath, args, {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      DATABASE_URL: databaseUrl,
      JWT_SECRET: TEST_SECRET,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: options.pipe ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'ignore', 'inherit'],
  });
  children.add(child);
  const exited = new Promise<void>((resolve) =>
    child.on('exit', () => {
      children.delete(child);
      resolve();
    }),
  );
  return { child, exited };
}

/** Waits until `path` on the local port answers 2xx. */
export async function serverAnswers(port: number, path: string, timeoutMs: number): Promise<void> {
  await until(async () => {
    try {
      return (await fetch(`http://127.0.0.1:${port}${path}`)).ok;
    } catch {
      return false;
    }
  }, timeoutMs);
}
