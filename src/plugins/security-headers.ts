import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/** The API's CSP: nothing may load, nothing may frame it. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * The docs pages load their own scripts and styles from this origin only. ReDoc needs inline
 * styles and a blob: worker; Swagger UI needs inline styles and data: images.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

function isDocsPath(url: string): boolean {
  return url === '/docs' || url.startsWith('/docs/') || url === '/redoc' || url.startsWith('/redoc/');
}

export const EXPOSED_HEADERS = [
  'ETag',
  'Location',
  'Link',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'Retry-After',
  'X-Request-Id',
  'Idempotent-Replayed',
  'Deprecation',
  'Sunset',
];

export const ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'If-Match',
  'If-None-Match',
  'Idempotency-Key',
  'X-API-Key',
  'X-Request-Id',
];

/** Helmet first, so every reply (401, 429 and 405 included) carries nosniff and the CSP. */
export async function registerHelmet(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    global: true,
    // Helmet's defaults include upgrade-insecure-requests, which blanks the docs over plain HTTP.
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    hsts: app.config.tls !== null || app.config.publicUrl.startsWith('https:'),
    crossOriginEmbedderPolicy: false,
  });
  app.addHook('onSend', async (request, reply) => {
    if (isDocsPath(request.url.split('?')[0] ?? '')) reply.header('content-security-policy', DOCS_CSP);
  });
}

/** CORS only for the configured origins: never `*`, never credentials. */
export async function registerCors(app: FastifyInstance): Promise<void> {
  const allowed = new Set(app.config.corsOrigins);
  await app.register(cors, {
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    credentials: false,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600,
    strictPreflight: false,
  });
}
