import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

/**
 * Every test app records which status each route answered (test/helpers/app.ts). After the whole
 * run, each recorded (route, method, status) must be documented in the OpenAPI document: the
 * document lists what the tests observed.
 */
let dir = '';

export function setup({ provide }: TestProject): void {
  dir = mkdtempSync(join(tmpdir(), 'taskforge-observed-'));
  provide('observedDir', dir);
}

declare module 'vitest' {
  export interface ProvidedContext {
    observedDir: string;
  }
}

interface Observed {
  method: string;
  route: string;
  status: number;
}

type Document = { paths?: Record<string, Record<string, { responses?: Record<string, unknown> }>> };

/** The document as the service serves it (built here without test/helpers, which need a worker). */
async function openApiDocument(): Promise<Document> {
  const { buildApp } = await import('../src/app.js');
  // The fixture modules' routes are held to the same rule as the service's own.
  const { notesModule } = await import('./fixtures/notes-module/index.js');
  const { widgetsModule } = await import('./fixtures/widgets-module.js');
  const { loadConfig } = await import('../src/config.js');
  const { openDatabase } = await import('../src/db/database.js');
  const database = openDatabase({ kind: 'sqlite', filename: ':memory:' });
  const app = await buildApp(loadConfig({ JWT_SECRET: 'x'.repeat(32), LOG_LEVEL: 'silent' }), {
    database,
    modules: [widgetsModule, notesModule],
  });
  try {
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    if (res.statusCode !== 200) throw new Error(`GET /openapi.json answered ${res.statusCode}: ${res.body}`);
    return res.json() as Document;
  } finally {
    await app.close();
    await database.close();
  }
}

export async function teardown(): Promise<void> {
  try {
    const observed = new Map<string, Observed>();
    for (const file of readdirSync(dir)) {
      for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
        if (!line) continue;
        const entry = JSON.parse(line) as Observed;
        observed.set(`${entry.method} ${entry.route} ${entry.status}`, entry);
      }
    }
    if (observed.size === 0) return;
    const document = await openApiDocument();
    const missing: string[] = [];
    for (const { method, route, status } of observed.values()) {
      const operations = document.paths?.[route.replace(/:(\w+)/g, '{$1}')];
      const operation = operations?.[method.toLowerCase()];
      // The tests' sample routes (no module of their own) and hidden ones (docs) are not in the document.
      if (!operation) continue;
      if (!operation.responses?.[String(status)] && !operation.responses?.default) {
        missing.push(`${method} ${route} → ${status}`);
      }
    }
    if (missing.length > 0) {
      throw new Error(
        `statuses the tests observed but the OpenAPI document does not list:\n${missing.sort().join('\n')}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
