import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/** The process environment over the `.env` file's values (the real environment wins). */
export function readEnvironment(dotenvPath = '.env'): Record<string, string | undefined> {
  let fromFile: Record<string, string | undefined> = {};
  try {
    fromFile = parseEnv(readFileSync(dotenvPath, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return { ...fromFile, ...process.env };
}
