import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { OpenApiDocument } from './collection.js';

/**
 * The OpenAPI document as a local development service serves it (`PUBLIC_URL` left to its
 * default), built in process on an in-memory database: what the request collection is made from.
 */
export async function localOpenApiDocument(): Promise<OpenApiDocument> {
  const config = loadConfig({
    DATABASE_URL: 'sqlite::memory:',
    JWT_SECRET: 'collection-generator-secret-of-at-least-32-bytes',
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
  });
  const app = await buildApp(config);
  try {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    if (res.statusCode !== 200) throw new Error(`GET /openapi.json answered ${res.statusCode}`);
    return res.json() as OpenApiDocument;
  } finally {
    await app.close();
  }
}
