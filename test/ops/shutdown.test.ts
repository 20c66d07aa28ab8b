import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { shutDown } from '../../src/lib/shutdown.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
afterAll(async () => {
  await t.db.drop();
});

async function slowRoutes(app: FastifyInstance): Promise<void> {
  app.get('/slow', async () => {
    await new Promise((r) => setTimeout(r, 400));
    return { done: true };
  });
}

describe('graceful shutdown', () => {
  it('turns readiness to 503 first, lets in-flight requests finish, then refuses connections', async () => {
    t = await buildTestApp({ apiRoutes: [slowRoutes] });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as AddressInfo;
    const inFlight = fetch(`http://127.0.0.1:${port}/api/v1/slow`);
    await new Promise((r) => setTimeout(r, 100));

    let timedOut = false;
    // What runs after the close (tracing's last spans) runs once the server has closed.
    let afterClose: { listening: boolean } | null = null;
    const closing = shutDown(t.app, {
      drainDelayMs: 200,
      timeoutMs: 5000,
      onTimeout: () => {
        timedOut = true;
      },
      afterClose: async () => {
        afterClose = { listening: t.app.server.listening };
      },
    });
    expect(t.app.ctx.lifecycle.draining).toBe(true);
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { code: string }).code).toBe('not_ready');

    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    await closing;
    expect(afterClose).toEqual({ listening: false });
    expect(timedOut).toBe(false);
    await expect(fetch(`http://127.0.0.1:${port}/health/live`)).rejects.toThrow();
  });
});
