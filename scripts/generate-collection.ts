/**
 * Writes requests/taskforge.postman_collection.json (Postman Collection v2.1, which Postman and
 * Insomnia import) from the OpenAPI document. The suite fails when the committed file is stale.
 *
 *   npm run generate:collection
 */
import { writeFileSync } from 'node:fs';
import { COLLECTION_FILE, collectionOf, collectionText } from './collection.js';
import { localOpenApiDocument } from './openapi-document.js';

const text = collectionText(collectionOf(await localOpenApiDocument()));
writeFileSync(COLLECTION_FILE, text);
console.log(`wrote ${COLLECTION_FILE}`);
