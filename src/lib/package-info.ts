import { readFileSync } from 'node:fs';

let version: string | null = null;

/** The service's version: package.json's, the one place it is written (read once, when first asked). */
export function serviceVersion(): string {
  // ../../package.json from src/lib and from dist/lib alike.
  version ??= (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  return version;
}
