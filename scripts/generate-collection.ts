/**
 * Writes requests/taskforge.postman_collection.json (Postman Collection v2.1, which Postman and
 * Insomnia import) from the OpenAPI document. The suite fails when the committed file is stale.
 *
 *   npm run generate:collection
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectionOf } from './collection.js';
import { localOpenApiDocument } from './openapi-document.js';

export const COLLECTION_FILE = join(
  import.meta.dirname,
  '..',
  'requests',
  'taskforge.postman_collection.json',
);

export function collectionText(collection: unknown): string {
  return `${JSON.stringify(collection, null, 2)}\n`;
}

const text = collectionText(collectionOf(await localOpenApiDocument()));
writeFileSync(COLLECTION_FILE, text);
console.log(`wrote ${COLLECTION_FILE}`);
