import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createUser, login, signedIn } from '../helpers/factories.js';
import { type Instances, twoInstances } from '../helpers/instances.js';
import { createProject } from '../helpers/projects.js';
import { until } from '../helpers/wait.js';
import { baseUrlOf, headId, openStream, recordChange, type StreamClient } from './stream-client.js';

/**
 * Two instances of one service on one database: a change committed on one reaches a stream on
 * the other. With Redis (the PostgreSQL run) by pub/sub alone (b's polling is turned off); without
 * it (a SQLite file shared by two apps, or PostgreSQL without Redis) by b polling event_log.head.
 */

const withRedis = process.env.TEST_REDIS_URL !== undefined;
/** testEnv adds REDIS_URL from TEST_REDIS_URL; an explicit undefined takes it away again. */
const NO_REDIS = { REDIS_URL: undefined as unknown as string };

let instances: Instances | null = null;
const clients: StreamClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await instances?.close();
  instances = null;
});

async function setUp(env: Record<string, string>) {
  instances = await twoInstances(env);
  const { a, b } = instances;
  const user = await createUser(a);
  const tokens = await login(b, user.email);
  const headers = { authorization: `Bearer ${tokens.accessToken}` };
  const project = await createProject(a, user.id);
  return { a, b, user, headers, project, base: await baseUrlOf(b) };
}

async function stream(base: string, headers: Record<string, string>): Promise<StreamClient> {
  const client = await openStream(base, headers);
  clients.push(client);
  return client;
}

const CASES: [string, Record<string, string>, boolean][] = withRedis
  ? [
      ['with Redis (pub/sub only)', {}, true],
      ['without Redis (polling)', NO_REDIS, false],
    ]
  : [['on a shared SQLite file (polling)', {}, false]];

describe.each(CASES)('GET /events/stream across instances, %s', (_name, env, pubSub) => {
  it('delivers a change committed on one instance to a stream on the other', async () => {
    const { a, b, headers, project, base } = await setUp(env);
    // Only the messages can tell b when pub/sub is what is tested.
    if (pubSub) b.ctx.services.eventStream.configure({ pollMs: 600_000, safetyPollMs: 600_000 });
    const client = await stream(base, headers);
    expect(client.status).toBe(200);
    await recordChange(a, project);
    const first = await headId(a);
    await recordChange(a, project);
    const second = await headId(a);
    await client.waitFor((frames) => frames.some((f) => f.id === second));
    expect(client.frames().map((f) => f.id)).toEqual([first, second]);
  });

  it('ends a stream on one instance when its user is disabled on the other', async () => {
    const { a, user, headers, base, b } = await setUp(env);
    b.ctx.services.eventStream.configure({ recheckMs: 200 });
    const client = await stream(base, headers);
    expect(client.status).toBe(200);
    await a.ctx.services.users.update(user.id, { disabled: true });
    await client.waitEnded(20_000);
    expect(client.comments()).toContain('end account_disabled');
  });
});

describe.runIf(withRedis)('the 5 streams of a user, across instances (Redis)', () => {
  it('counts the streams of both instances, and a closed one frees its place', async () => {
    const { a, headers, base, b } = await setUp({});
    const baseA = await baseUrlOf(a);
    const opened = [
      await stream(baseA, headers),
      await stream(baseA, headers),
      await stream(base, headers),
      await stream(base, headers),
      await stream(base, headers),
    ];
    expect(opened.map((c) => c.status)).toEqual([200, 200, 200, 200, 200]);
    for (const where of [baseA, base]) {
      const refused = await stream(where, headers);
      await refused.waitEnded();
      expect(refused.status).toBe(429);
    }
    opened[0]?.close();
    await until(() => a.ctx.services.eventStream.size === 1);
    expect((await stream(base, headers)).status).toBe(200);
    expect(b.ctx.services.eventStream.size).toBe(4);
  });
});

describe.runIf(withRedis)('a Redis that does not answer', () => {
  it('holds no stream opening: the places are counted in this process instead', async () => {
    const t = await buildTestApp();
    try {
      const redis = t.app.ctx.redis;
      if (!redis) throw new Error('the Redis run has a client');
      // The script that takes a place never answers.
      vi.spyOn(redis, 'eval').mockImplementation(() => new Promise<never>(() => {}));
      const me = await signedIn(t.app);
      const client = await openStream(await baseUrlOf(t.app), me.headers);
      clients.push(client);
      expect(client.status).toBe(200);
      client.close();
      await until(() => t.app.ctx.services.eventStream.size === 0);
    } finally {
      vi.restoreAllMocks();
      await t.close();
    }
  }, 20_000);
});
