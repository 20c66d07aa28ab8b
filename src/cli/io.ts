import type { HashCost } from '../lib/passwords.js';
import { readSecret } from './prompt.js';

/**
 * What a command reads and writes: the environment, two output streams and, on a terminal, a
 * prompt for secrets. The entry passes the process's own; tests pass strings and an environment.
 */
export interface CliIo {
  env: Record<string, string | undefined>;
  stdout(text: string): void;
  stderr(text: string): void;
  /** Asks for a secret without echoing it; null when stdin is no terminal. */
  prompt: ((question: string) => Promise<string>) | null;
  /** Cheaper password hashing for tests; the tool itself hashes at the service's cost. */
  hashCost?: HashCost;
}

export function processIo(env: Record<string, string | undefined>): CliIo {
  return {
    env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    prompt: process.stdin.isTTY ? readSecret : null,
  };
}

/** A command that cannot do what it was asked: one line on stderr, exit 1. */
export class CliError extends Error {}

/** Arguments the command does not take: the message and the command's usage on stderr, exit 2. */
export class UsageError extends Error {}
