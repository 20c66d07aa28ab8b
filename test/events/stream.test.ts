import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatEventId } from '../../src/lib/change-log.js';
import { issueKey } from '../api-keys/helpers.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { createProject } from '../helpers/projects.js';
import { until } from '../helpers/wait.js';
import { baseUrlOf, headId, openStream, recordChange, type StreamClient } from './stream-client.js';

/** GET /events/stream on a listening server, read by a raw HTTP client. */

let t: TestApp;
let base: string;
const open: StreamClient[] = [];

async function stream(headers: Record<string, string>, path?: string): Promise<StreamClient> {
  const client = await openStream(base, headers, path);
  open.push(client);
  return client;
}

beforeAll(async () => {
  t = await buildTestApp();
  t.app.ctx.services.eventStream.configure({ recheckMs: 100, pollMs: 100 });
  base = await baseUrlOf(t.app);
});
afterEach(async () => {
  for (const client of open.splice(0)) client.close();
  await until(() => t.app.ctx.services.eventStream.size === 0);
});
afterAll(async () => t?.close());

describe('GET /events/stream', () => {
  it('sends the headers and a first comment at once, then each visible event with its id', async () => {
    const me = await signedIn(t.app);
    const project = await createProject(t.app, me.user.id);
    const start = await headId(t.app);
    const client = await stream({ ...me.headers, 'x-request-id': 'stream-1' });
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(client.headers['cache-control']).toBe('no-store');
    expect(client.headers['x-accel-buffering']).toBe('no');
    expect(client.headers['x-request-id']).toBe('stream-1');
    expect(client.headers['x-content-type-options']).toBe('nosniff');
    expect(client.headers['ratelimit-limit']).toBeDefined();
    expect(client.headers['content-encoding']).toBeUndefined();
    expect(client.headers['content-length']).toBeUndefined();
    // The first comment is there before any event was recorded.
    expect(client.text).toBe(`: events after ${start}\n\n`);

    const other = await signedIn(t.app);
    const hidden = await createProject(t.app, other.user.id);
    await recordChange(t.app, hidden);
    await recordChange(t.app, project, { type: 'task.updated', changes: { title: { from: 'a', to: 'b' } } });
    const id = await headId(t.app);
    await client.waitFor((frames) => frames.some((f) => f.id === id));
    const frames = client.frames();
    // The event of a project the caller is not in never arrived (it was recorded first).
    expect(frames).toHaveLength(1);
    expect(frames[0]).toMatchObject({
      id,
      event: 'task.updated',
      data: { id, type: 'task.updated', projectId: project },
    });
    expect(client.text).toContain(`id: ${id}\nevent: task.updated\ndata: {"id":"${id}"`);
  });

  it('sends an event naming the caller as viewer, whatever its memberships', async () => {
    const me = await signedIn(t.app);
    const other = await signedIn(t.app);
    const theirs = await createProject(t.app, other.user.id);
    const client = await stream(me.headers);
    await recordChange(t.app, theirs, { viewers: [me.user.id] });
    const id = await headId(t.app);
    await client.waitFor((frames) => frames.some((f) => f.id === id));
  });

  it('resumes after Last-Event-ID with exactly what followed it, then goes on live', async () => {
    const me = await signedIn(t.app);
    const project = await createProject(t.app, me.user.id);
    await recordChange(t.app, project);
    const first = await headId(t.app);
    await recordChange(t.app, project);
    const second = await headId(t.app);
    await recordChange(t.app, project);
    const third = await headId(t.app);
    const client = await stream({ ...me.headers, 'last-event-id': first });
    expect(client.status).toBe(200);
    await client.waitFor((frames) => frames.some((f) => f.id === third));
    await recordChange(t.app, project);
    const fourth = await headId(t.app);
    await client.waitFor((frames) => frames.some((f) => f.id === fourth));
    expect(client.frames().map((f) => f.id)).toEqual([second, third, fourth]);
  });

  it('answers a malformed Last-Event-ID with 400 and an unknown one with 410, before any stream', async () => {
    const me = await signedIn(t.app);
    const { tag, head } = await t.app.ctx.services.events.state();
    const cases: [string, number, string][] = [
      ['not-an-id', 400, 'invalid_cursor'],
      ['0a1b2e3f-00000000000000x2', 400, 'invalid_cursor'],
      [formatEventId(tag === 'ffffffff' ? 'eeeeeeee' : 'ffffffff', 1), 410, 'events_expired'],
      [formatEventId(tag, head + 1000), 410, 'events_expired'],
      // Well-formed, past every safe integer: newer than the head, as GET /events answers it.
      [`${tag}-9999999999999999`, 410, 'events_expired'],
    ];
    for (const [value, status, code] of cases) {
      const client = await stream({ ...me.headers, 'last-event-id': value });
      await client.waitEnded();
      expect(client.status, value).toBe(status);
      expect(client.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(client.text).code, value).toBe(code);
    }
    // Older than the retention: what followed it is gone.
    const project = await createProject(t.app, me.user.id);
    await recordChange(t.app, project);
    await recordChange(t.app, project);
    const state = await t.app.ctx.services.events.state();
    await t.app.ctx.database.db
      .updateTable('event_log')
      .set({ pruned_through: state.head - 1 })
      .where('id', '=', 1)
      .execute();
    try {
      const expired = await stream({ ...me.headers, 'last-event-id': formatEventId(tag, state.head - 2) });
      await expired.waitEnded();
      expect(expired.status).toBe(410);
      const kept = await stream({ ...me.headers, 'last-event-id': formatEventId(tag, state.head - 1) });
      expect(kept.status).toBe(200);
      await kept.waitFor((frames) => frames.length === 1);
      expect(kept.frames()[0]?.id).toBe(formatEventId(tag, state.head));
    } finally {
      await t.app.ctx.database.db
        .updateTable('event_log')
        .set({ pruned_through: 0 })
        .where('id', '=', 1)
        .execute();
    }
  });

  it('needs credentials, and of a key the tasks:read scope', async () => {
    const none = await stream({});
    await none.waitEnded();
    expect(none.status).toBe(401);
    const me = await signedIn(t.app);
    const key = await issueKey(t.app, me.headers, ['tasks:write']);
    const refused = await stream({ 'x-api-key': key.key });
    await refused.waitEnded();
    expect(refused.status).toBe(403);
  });

  it('takes no query parameters (422), opening no stream', async () => {
    const me = await signedIn(t.app);
    const client = await stream(me.headers, '/api/v1/events/stream?after=1');
    await client.waitEnded();
    expect(client.status).toBe(422);
    expect(JSON.parse(client.text).code).toBe('validation_failed');
    expect(t.app.ctx.services.eventStream.size).toBe(0);
  });

  it('sends a comment line at every heartbeat', async () => {
    const me = await signedIn(t.app);
    t.app.ctx.services.eventStream.configure({ heartbeatMs: 50 });
    try {
      const client = await stream(me.headers);
      await until(() => client.comments().filter((c) => c === 'heartbeat').length >= 3);
    } finally {
      t.app.ctx.services.eventStream.configure({ heartbeatMs: 15_000 });
    }
  });

  it('ends when its session ends (logout)', async () => {
    const me = await signedIn(t.app);
    const client = await stream(me.headers);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: me.headers });
    expect(res.statusCode).toBe(204);
    await client.waitEnded();
    expect(client.comments()).toContain('end session_ended');
  });

  it('ends when its user is disabled', async () => {
    const me = await signedIn(t.app);
    const client = await stream(me.headers);
    await t.app.ctx.services.users.update(me.user.id, { disabled: true });
    await client.waitEnded();
    expect(client.comments()).toContain('end account_disabled');
  });

  it('ends when its API key is revoked, and goes on while it is valid', async () => {
    const me = await signedIn(t.app);
    const project = await createProject(t.app, me.user.id);
    const key = await issueKey(t.app, me.headers, ['tasks:read']);
    const client = await stream({ authorization: `Bearer ${key.key}` });
    expect(client.status).toBe(200);
    await recordChange(t.app, project);
    const id = await headId(t.app);
    await client.waitFor((frames) => frames.some((f) => f.id === id));
    expect(client.ended).toBe(false);
    const res = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/api-keys/${key.id}`,
      headers: me.headers,
    });
    expect(res.statusCode).toBe(204);
    await client.waitEnded();
    expect(client.comments()).toContain('end api_key_revoked');
  });

  it('refuses a 6th open stream of one user with 429, and a closed one frees its place', async () => {
    const me = await signedIn(t.app);
    const five: StreamClient[] = [];
    for (let i = 0; i < 5; i += 1) five.push(await stream(me.headers));
    expect(five.map((c) => c.status)).toEqual([200, 200, 200, 200, 200]);
    const sixth = await stream(me.headers);
    await sixth.waitEnded();
    expect(sixth.status).toBe(429);
    expect(JSON.parse(sixth.text).code).toBe('rate_limited');
    expect(Number(sixth.headers['retry-after'])).toBeGreaterThan(0);
    // Another user is not counted with this one.
    const other = await signedIn(t.app);
    expect((await stream(other.headers)).status).toBe(200);

    const hub = t.app.ctx.services.eventStream;
    const before = hub.size;
    five[0]?.close();
    await until(() => hub.size === before - 1);
    const again = await stream(me.headers);
    expect(again.status).toBe(200);
  });

  it('answers HEAD with the headers, opening no stream', async () => {
    const me = await signedIn(t.app);
    const res = await t.app.inject({ method: 'HEAD', url: '/api/v1/events/stream', headers: me.headers });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(t.app.ctx.services.eventStream.size).toBe(0);
  });

  it('is the same route in version 2', async () => {
    const me = await signedIn(t.app);
    const project = await createProject(t.app, me.user.id);
    const client = await stream(me.headers, '/api/v2/events/stream');
    expect(client.status).toBe(200);
    await recordChange(t.app, project);
    const id = await headId(t.app);
    await client.waitFor((frames) => frames.some((f) => f.id === id));
  });

  it('allows Last-Event-ID in a CORS preflight', async () => {
    const cors = await buildTestApp({ env: { CORS_ORIGINS: 'https://app.example.com' } });
    try {
      const res = await cors.app.inject({
        method: 'OPTIONS',
        url: '/api/v1/events/stream',
        headers: {
          origin: 'https://app.example.com',
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization, last-event-id',
        },
      });
      expect(res.statusCode).toBe(204);
      expect(String(res.headers['access-control-allow-headers'])).toContain('Last-Event-ID');
    } finally {
      await cors.close();
    }
  });
});
