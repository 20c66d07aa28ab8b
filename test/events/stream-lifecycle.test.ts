import { describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { createProject } from '../helpers/projects.js';
import { until } from '../helpers/wait.js';
import { baseUrlOf, headId, openStream, recordChange } from './stream-client.js';

/** How a stream ends with its token, and what the server's own limits and close do to it. */

describe('GET /events/stream over its lifetime', () => {
  it('ends when its access token expires (the clock moved past it)', async () => {
    let offset = 0;
    const t = await buildTestApp({ clock: () => Date.now() + offset });
    try {
      t.app.ctx.services.eventStream.configure({ recheckMs: 100 });
      const me = await signedIn(t.app);
      const client = await openStream(await baseUrlOf(t.app), me.headers);
      expect(client.status).toBe(200);
      // Still valid a while: the stream goes on.
      offset = 60_000;
      await until(() => client.comments().length >= 1);
      expect(client.ended).toBe(false);
      offset = 16 * 60_000; // past ACCESS_TOKEN_TTL (15m)
      await client.waitEnded();
      expect(client.comments()).toContain('end token_expired');
    } finally {
      await t.close();
    }
  });

  it('ends when a short ACCESS_TOKEN_TTL runs out, by its own timer', async () => {
    const t = await buildTestApp({ env: { ACCESS_TOKEN_TTL: '2s' } });
    try {
      // No periodic check helps here: the expiry timer ends it.
      t.app.ctx.services.eventStream.configure({ recheckMs: 600_000 });
      const me = await signedIn(t.app);
      const client = await openStream(await baseUrlOf(t.app), me.headers);
      expect(client.status).toBe(200);
      await client.waitEnded();
      expect(client.comments()).toContain('end token_expired');
    } finally {
      await t.close();
    }
  });

  it('is not cut by REQUEST_TIMEOUT while healthy', async () => {
    const t = await buildTestApp({ env: { REQUEST_TIMEOUT: '1s' } });
    try {
      t.app.ctx.services.eventStream.configure({ heartbeatMs: 100 });
      const me = await signedIn(t.app);
      const project = await createProject(t.app, me.user.id);
      const client = await openStream(await baseUrlOf(t.app), me.headers);
      const opened = Date.now();
      // Heartbeats keep arriving well past the request timeout.
      await until(() => Date.now() - opened > 3000 && client.comments().length > 5);
      expect(client.ended).toBe(false);
      await recordChange(t.app, project);
      const id = await headId(t.app);
      await client.waitFor((frames) => frames.some((f) => f.id === id));
    } finally {
      await t.close();
    }
  });

  it('ends every stream when the app closes, and the close does not wait on them', async () => {
    const t = await buildTestApp();
    const me = await signedIn(t.app);
    const base = await baseUrlOf(t.app);
    const clients = [await openStream(base, me.headers), await openStream(base, me.headers)];
    expect(clients.map((c) => c.status)).toEqual([200, 200]);
    // Far below the heartbeat and the test's own timeout: a close that waited would not finish.
    let closed = false;
    const closing = t.close().then(() => {
      closed = true;
    });
    await until(() => closed, 8000);
    await closing;
    for (const client of clients) {
      await client.waitEnded();
      expect(client.comments()).toContain('end shutdown');
    }
  });
});
