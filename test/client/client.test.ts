import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  PreconditionFailedError,
  ProblemError,
  TaskforgeClient,
  type TaskforgeEvent,
} from '../../clients/typescript/src/index.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { PASSWORD, uniqueEmail } from '../helpers/factories.js';
import { until } from '../helpers/wait.js';
import { Wire } from './wire.js';

/** The client's layer against a real, listening test app (one for the file; each test its own user). */

let t: TestApp;
let baseUrl = '';

beforeAll(async () => {
  // Read at each call, so that expireAccessTokens() moves the app's clock too (its default is the
  // real Date.now, taken once).
  t = await buildTestApp({ clock: () => Date.now() });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => t.close());

/** A new user, logged in through a client whose requests the returned wire records. */
async function signedInClient(): Promise<{ client: TaskforgeClient; wire: Wire; email: string }> {
  const wire = new Wire();
  const client = new TaskforgeClient({ baseUrl, fetch: wire.fetch, retryDelayMs: 0 });
  const email = uniqueEmail('client');
  await client.register({ email, password: PASSWORD, name: 'Client User' });
  await client.login(email, PASSWORD);
  return { client, wire, email };
}

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/**
 * Moves this process's clock past ACCESS_TOKEN_TTL (15m): the app's clock override alone would not
 * reach the JWT library's expiry check, which reads `Date`. Only `Date` is faked, and it keeps running.
 */
function expireAccessTokens(): void {
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  vi.setSystemTime(Date.now() + 16 * 60_000);
}

describe('TaskforgeClient: tokens', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refreshes an expired access token once for concurrent requests, and retries them', async () => {
    const { client, wire } = await signedInClient();
    const before = client.credentials;
    expireAccessTokens();
    const [me, task, sessions] = await Promise.all([
      client.me(),
      client.tasks.create({ title: 'after expiry' }),
      all(client.sessions.list()),
    ]);
    expect(me.email).toContain('client');
    expect(task.data.title).toBe('after expiry');
    expect(sessions).toHaveLength(1);
    expect(wire.count('POST', '/auth/refresh')).toBe(1);
    // Each request went out twice: with the expired token (401 token_expired), then with the new one.
    expect(wire.count('GET', '/users/me')).toBe(2);
    const after = client.credentials;
    expect(
      after.kind === 'tokens' && before.kind === 'tokens' && after.refreshToken !== before.refreshToken,
    ).toBe(true);
  });

  it('keeps its session when a refresh reply is lost (the retry falls in the refresh grace)', async () => {
    const { client, wire } = await signedInClient();
    expireAccessTokens();
    wire.loseNextReply((sent) => sent.path.endsWith('/auth/refresh'));
    await expect(client.me()).resolves.toMatchObject({ name: 'Client User' });
    expect(wire.count('POST', '/auth/refresh')).toBe(2);
    // The token pair it kept works: the session did not end as a reuse.
    expireAccessTokens();
    await expect(client.me()).resolves.toMatchObject({ name: 'Client User' });
    expect(wire.count('POST', '/auth/refresh')).toBe(3);
  });

  it('forgets the tokens on logout: the old refresh token no longer works', async () => {
    const { client } = await signedInClient();
    const held = client.credentials;
    await client.logout();
    expect(client.credentials.kind).toBe('none');
    const again = new TaskforgeClient({
      baseUrl,
      refreshToken: held.kind === 'tokens' ? held.refreshToken : '',
    });
    const error = await again.me().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProblemError);
    expect((error as ProblemError).code).toBe('token_revoked');
    expect(again.credentials.kind).toBe('none');
  });

  it('logs in whatever refresh token it holds (the credential routes take none)', async () => {
    const { client, email } = await signedInClient();
    const held = client.credentials;
    await client.logout();
    const restored = new TaskforgeClient({
      baseUrl,
      refreshToken: held.kind === 'tokens' ? held.refreshToken : '',
    });
    await restored.login(email, PASSWORD);
    await expect(restored.me()).resolves.toMatchObject({ email });
  });

  it('works in API-key mode', async () => {
    const { client } = await signedInClient();
    await client.tasks.create({ title: 'seen by the key' });
    const key = await client.apiKeys.create({ name: 'ci', scopes: ['tasks:read'] });
    const byKey = client.withApiKey(key.key);
    expect((await all(byKey.tasks.list())).map((x) => x.title)).toEqual(['seen by the key']);
    // Keys may not manage keys: a typed 403.
    await expect(all(byKey.apiKeys.list())).rejects.toMatchObject({ status: 403, code: 'forbidden' });
    expect((await all(client.apiKeys.list())).map((k) => k.id)).toEqual([key.id]);
  });
});

describe('TaskforgeClient: writes', () => {
  it('sends one Idempotency-Key per create and the same one on its retry (one task made)', async () => {
    const { client, wire } = await signedInClient();
    wire.loseNextReply((sent) => sent.method === 'POST' && sent.path === '/api/v2/tasks');
    const created = await client.tasks.create({ title: 'once' });
    await client.tasks.create({ title: 'twice' });
    const posts = wire.matching('POST', '/api/v2/tasks');
    expect(posts).toHaveLength(3);
    const keys = posts.map((p) => p.headers.get('idempotency-key'));
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).not.toBe(keys[0]);
    const titles = (await all(client.tasks.list())).map((x) => x.title).sort();
    expect(titles).toEqual(['once', 'twice']);
    expect(created.data.title).toBe('once');
  });

  it('updates with the ETag it read, and surfaces a lost race as a typed 412', async () => {
    const { client } = await signedInClient();
    const created = await client.tasks.create({ title: 'draft' });
    expect(created.etag).toBe('"1"');
    const read = await client.tasks.get(created.data.id);
    const updated = await client.tasks.updateIfMatch(read, { status: 'in_progress' });
    expect(updated).toMatchObject({ etag: '"2"', data: { status: 'in_progress', version: 2 } });
    const error = await client.tasks.updateIfMatch(read, { title: 'stale' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreconditionFailedError);
    expect(error).toMatchObject({ status: 412, code: 'precondition_failed', currentETag: '"2"' });
    expect((await client.tasks.get(created.data.id)).data.title).toBe('draft');
  });

  it('creates, lists, renames with If-Match and deletes a project', async () => {
    const { client } = await signedInClient();
    const project = await client.projects.create({ name: 'Garden' });
    expect(project).toMatchObject({ etag: '"1"', data: { name: 'Garden', role: 'owner', personal: false } });
    const task = await client.tasks.create({ title: 'Dig', projectId: project.data.id });
    expect((await all(client.tasks.list({ projectId: [project.data.id] }))).map((x) => x.id)).toEqual([
      task.data.id,
    ]);
    const renamed = await client.projects.updateIfMatch(await client.projects.get(project.data.id), {
      name: 'Allotment',
    });
    expect(renamed.data).toMatchObject({ name: 'Allotment', version: 2 });
    expect((await all(client.projects.list())).map((p) => p.name).sort()).toEqual(['Allotment', 'Inbox']);
    await expect(client.projects.delete(project.data.id, { ifMatch: project.etag })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    await client.projects.delete(project.data.id, { ifMatch: renamed.etag });
    await expect(client.tasks.get(task.data.id)).rejects.toMatchObject({ status: 404, code: 'not_found' });
  });

  it('throws problem details as a ProblemError with every invalid field', async () => {
    const { client } = await signedInClient();
    const error = await client.tasks
      .create({ title: '', priority: 'urgent' as 'high' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProblemError);
    const problem = error as ProblemError;
    expect(problem).toMatchObject({ status: 422, code: 'validation_failed' });
    expect(problem.requestId).toBeTruthy();
    expect(problem.errors.map((e) => e.pointer).sort()).toEqual(['/priority', '/title']);
  });
});

describe('TaskforgeClient: lists and the change feed', () => {
  it('iterates v1 pages, v2 cursors and the feed', async () => {
    const { client } = await signedInClient();
    const head = await client.events.head();
    const made: string[] = [];
    for (const title of ['a', 'b', 'c', 'd', 'e']) made.push((await client.tasks.create({ title })).data.id);
    const newestFirst = [...made].reverse();

    expect((await all(client.tasks.pages({ size: 2 }))).map((x) => x.id)).toEqual(newestFirst);
    expect((await all(client.tasks.list({ limit: 2 }))).map((x) => x.id)).toEqual(newestFirst);
    expect((await all(client.projects.pages({ size: 1 }))).map((p) => p.name)).toEqual(['Inbox']);
    expect((await all(client.sessions.list())).filter((s) => s.current)).toHaveLength(1);

    const feed = client.events.feed({ after: head, limit: 2 });
    const events: TaskforgeEvent[] = await all(feed);
    expect(events.map((e) => [e.type, e.subject.id])).toEqual(made.map((id) => ['task.created', id]));
    // From where it stopped, the feed gives only what came after.
    expect(await all(client.events.feed({ after: feed.position }))).toEqual([]);
    const later = await client.tasks.create({ title: 'f' });
    expect((await all(client.events.feed({ after: feed.position }))).map((e) => e.subject.id)).toEqual([
      later.data.id,
    ]);
  });

  it('reads the event stream over fetch and resumes with Last-Event-ID after a cut', async () => {
    const { client, wire } = await signedInClient();
    wire.cutNextStreamAfterFirstEvent();
    const controller = new AbortController();
    let opened = 0;
    let onFirstOpen: () => void = () => undefined;
    const firstOpen = new Promise<void>((resolve) => {
      onFirstOpen = resolve;
    });
    const stream = client.events.stream({
      signal: controller.signal,
      reconnectDelayMs: 10,
      onOpen: () => {
        opened += 1;
        onFirstOpen();
      },
    });
    const received: TaskforgeEvent[] = [];
    const reading = (async () => {
      for await (const event of stream) {
        received.push(event);
        if (received.length === 3) controller.abort();
      }
    })();
    await firstOpen;
    // One transaction each; the cut loses whatever arrived after the first of them.
    const made: string[] = [];
    for (const title of ['x', 'y', 'z']) made.push((await client.tasks.create({ title })).data.id);
    await reading;
    expect(received.map((e) => e.subject.id)).toEqual(made);
    expect(opened).toBe(2);
    const streams = wire.matching('GET', '/events/stream');
    expect(streams).toHaveLength(2);
    expect(streams[0]?.headers.get('last-event-id')).toBeNull();
    expect(streams[1]?.headers.get('last-event-id')).toBe(received[0]?.id);
    expect(stream.lastEventId).toBe(received[2]?.id);
  });

  it('reconnects with a refreshed token when the stream ends with its access token', async () => {
    const { client, wire } = await signedInClient();
    const { eventStream } = t.app.ctx.services;
    eventStream.configure({ recheckMs: 100 });
    const controller = new AbortController();
    let opened = 0;
    const received: TaskforgeEvent[] = [];
    const stream = client.events.stream({
      signal: controller.signal,
      reconnectDelayMs: 10,
      onOpen: () => {
        opened += 1;
      },
    });
    const reading = (async () => {
      for await (const event of stream) received.push(event);
    })();
    try {
      await until(() => opened === 1);
      const first = await client.tasks.create({ title: 'before expiry' });
      await until(() => received.length === 1);
      expireAccessTokens();
      // The server ends the stream (token_expired); the reader reconnects, refreshing on the 401.
      await until(() => opened === 2);
      const second = await client.tasks.create({ title: 'after expiry' });
      await until(() => received.length === 2);
      expect(received.map((e) => e.subject.id)).toEqual([first.data.id, second.data.id]);
      expect(wire.count('POST', '/auth/refresh')).toBe(1);
      const streams = wire.matching('GET', '/events/stream');
      expect(streams.map((s) => s.headers.get('last-event-id'))).toEqual([
        null,
        received[0]?.id,
        received[0]?.id,
      ]);
    } finally {
      controller.abort();
      await reading;
      vi.useRealTimers();
      eventStream.configure({ recheckMs: 2000 });
    }
  });
});
