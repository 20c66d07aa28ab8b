import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/** The variables of the `.env` file, or none when there is no such file. */
export function readDotenv(dotenvPath = '.env'): Record<string, string> {
  try {
    return parseEnv(readFileSync(dotenvPath, 'utf8')) as Record<string, string>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return {};
  }
}

/** The process environment over the `.env` file's values (the real environment wins). */
export function readEnvironment(dotenvPath = '.env'): Record<string, string | undefined> {
  return { ...readDotenv(dotenvPath), ...process.env };
}
