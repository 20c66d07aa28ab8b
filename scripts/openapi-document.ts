import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { OpenApiDocument } from './collection.js';

/**
 * Documents as a local development service serves them (`PUBLIC_URL` left to its default), built
 * in process on an in-memory database, so they depend on the code alone: what the request
 * collection and the typed client are made from. One app answers every path asked for.
 */
export async function localDocuments<T>(paths: readonly string[]): Promise<T[]> {
  const config = loadConfig({
    DATABASE_URL: 'sqlite::memory:',
    JWT_SECRET: 'collection-generator-secret-of-at-least-32-bytes',
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
  });
  const app = await buildApp(config);
  try {
    const documents: T[] = [];
    for (const path of paths) {
      const res = await app.inject({ method: 'GET', url: path });
      if (res.statusCode !== 200) throw new Error(`GET ${path} answered ${res.statusCode}`);
      documents.push(res.json() as T);
    }
    return documents;
  } finally {
    await app.close();
  }
}

/** The whole document (/openapi.json). */
export async function localOpenApiDocument(): Promise<OpenApiDocument> {
  const [document] = await localDocuments<OpenApiDocument>(['/openapi.json']);
  if (!document) throw new Error('no document');
  return document;
}
