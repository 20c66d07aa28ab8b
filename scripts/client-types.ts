import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from 'openapi-typescript';
import { API_VERSIONS } from '../src/lib/api-version.js';
import { localDocuments } from './openapi-document.js';

/**
 * The typed client's generated half (clients/typescript/src/generated/<version>.ts): the types
 * openapi-typescript makes of each version's document, as the app serves it. The app is built in
 * this process on an empty in-memory database with a fixed configuration, so the output depends on
 * the code alone; `npm run generate:client` writes it and test/client/generated.test.ts checks
 * that the committed files are what it writes.
 */

const ROOT = join(import.meta.dirname, '..');

export const GENERATED_DIR = join(ROOT, 'clients', 'typescript', 'src', 'generated');

export const GENERATE_COMMAND = 'npm run generate:client';

const header = (version: string) =>
  `${COMMENT_HEADER.trimEnd()}\n// Made by \`${GENERATE_COMMAND}\` from /openapi/${version}.json (scripts/client-types.ts).\n\n`;

async function versionDocuments(): Promise<Map<string, OpenAPI3>> {
  const documents = await localDocuments<OpenAPI3>(API_VERSIONS.map((version) => `/openapi/${version}.json`));
  return new Map(API_VERSIONS.map((version, i) => [version, documents[i] as OpenAPI3]));
}

function format(name: string, source: string): string {
  const biome = join(ROOT, 'node_modules', '.bin', 'biome');
  return execFileSync(biome, ['format', `--stdin-file-path=${join(GENERATED_DIR, name)}`], {
    cwd: ROOT,
    input: source,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** File name → contents, for every API version. */
export async function generateClientTypes(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const [version, document] of await versionDocuments()) {
    const nodes = await openapiTS(document, { silent: true });
    const name = `${version}.ts`;
    files.set(name, format(name, header(version) + astToString(nodes)));
  }
  return files;
}
