import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { buildTestApp, NO_LAG_SHEDDING, testEnv } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import { signedIn } from '../helpers/factories.js';
import { type Instances, twoInstances } from '../helpers/instances.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function demoteBehindTheCache(db: ReturnType<typeof openDatabase>['db'], id: string) {
  await db.updateTable('users').set({ role: 'guest' }).where('id', '=', id).execute();
}

describe('auth state cache', () => {
  it('serves role changes made through the service on the next request', async () => {
    const t = await buildTestApp({ env: { REDIS_URL: '' } });
    try {
      const { user, headers } = await signedIn(t.app);
      const me = () => t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers });
      expect((await me()).statusCode).toBe(200);
      // A write that bypasses the service is not seen: the cache is doing its job...
      await demoteBehindTheCache(t.app.ctx.database.db, user.id);
      expect((await t.app.ctx.services.authState.user(user.id))?.role).toBe('user');
      // ...and an invalidation makes the next read go to the database.
      t.app.ctx.services.authState.userChanged(user.id);
      expect((await t.app.ctx.services.authState.user(user.id))?.role).toBe('guest');
    } finally {
      await t.close();
    }
  });

  it('fails closed: while the Redis link is down, every request reads the database', async () => {
    const t = await buildTestApp({ env: { REDIS_URL: 'redis://127.0.0.1:1' } });
    try {
      const { user } = await signedIn(t.app);
      expect((await t.app.ctx.services.authState.user(user.id))?.role).toBe('user');
      await demoteBehindTheCache(t.app.ctx.database.db, user.id);
      expect((await t.app.ctx.services.authState.user(user.id))?.role).toBe('guest');
    } finally {
      await t.close();
    }
  });

  describe.runIf(process.env.TEST_REDIS_URL)('across instances (Redis pub/sub)', () => {
    it('a demotion on one instance is seen by the other on its next request', async () => {
      // Two app instances sharing one database (a SQLite file, or one PostgreSQL schema) and Redis.
      const dir = mkdtempSync(join(tmpdir(), 'taskforge-instances-'));
      dirs.push(dir);
      const shared = process.env.TEST_DATABASE_URL
        ? await createTestDatabase()
        : await createTestDatabase({ sqliteFile: join(dir, 'shared.db') });
      await migrateToLatest(shared.handle);
      const second = shared.schema
        ? openDatabase(
            { kind: 'postgres', connectionString: shared.url ?? '' },
            { searchPath: shared.schema },
          )
        : openDatabase({ kind: 'sqlite', filename: join(dir, 'shared.db') });
      const config = loadConfig(testEnv());
      const hashCost = { memoryCost: 1024, timeCost: 1 };
      const a = await buildApp(config, { database: shared.handle, hashCost, overload: NO_LAG_SHEDDING });
      const b = await buildApp(config, { database: second, hashCost, overload: NO_LAG_SHEDDING });
      try {
        await new Promise((r) => setTimeout(r, 300)); // let both subscribers connect
        const admin = await signedIn(a, 'admin');
        const target = await signedIn(a, 'admin');
        const onB = () => b.inject({ method: 'GET', url: '/api/v1/users', headers: target.headers });
        expect((await onB()).statusCode).toBe(200); // b has now cached target as admin
        const demote = await a.inject({
          method: 'PATCH',
          url: `/api/v1/users/${target.user.id}`,
          headers: admin.headers,
          payload: { role: 'user' },
        });
        expect(demote.statusCode).toBe(200);
        let status = 0;
        for (let i = 0; i < 50 && status !== 403; i += 1) {
          status = (await onB()).statusCode;
          if (status !== 403) await new Promise((r) => setTimeout(r, 20));
        }
        expect(status).toBe(403);
      } finally {
        await a.close();
        await b.close();
        await second.close();
        await shared.drop();
      }
    });
  });

  describe('changes made by another process', () => {
    type Headers = Record<string, string>;
    interface Scenario {
      name: string;
      role: 'admin' | 'user';
      /** The request the running instance answers before and after. */
      probe: { method: 'GET'; url: string };
      before: number;
      /** The probe presents an API key with these scopes (issued on a) instead of the access token. */
      key?: string[];
      change(
        a: FastifyInstance,
        target: { id: string; headers: Headers; keyId: string | null },
        admin: Headers,
      ): Promise<unknown>;
      after: { status: number; code?: string };
    }

    const patch = (a: FastifyInstance, id: string, admin: Headers, payload: object) =>
      a.inject({ method: 'PATCH', url: `/api/v1/users/${id}`, headers: admin, payload });

    const scenarios: Scenario[] = [
      {
        name: 'a promotion (what create-admin does)',
        role: 'user',
        probe: { method: 'GET', url: '/api/v1/users' },
        before: 403,
        change: (a, target, admin) => patch(a, target.id, admin, { role: 'admin' }),
        after: { status: 200 },
      },
      {
        name: 'a demotion',
        role: 'admin',
        probe: { method: 'GET', url: '/api/v1/users' },
        before: 200,
        change: (a, target, admin) => patch(a, target.id, admin, { role: 'user' }),
        after: { status: 403, code: 'forbidden' },
      },
      {
        name: 'disabling',
        role: 'user',
        probe: { method: 'GET', url: '/api/v1/users/me' },
        before: 200,
        change: (a, target, admin) => patch(a, target.id, admin, { disabled: true }),
        after: { status: 401, code: 'account_disabled' },
      },
      {
        name: 'logout-all',
        role: 'user',
        probe: { method: 'GET', url: '/api/v1/users/me' },
        before: 200,
        change: (a, target) =>
          a.inject({ method: 'POST', url: '/api/v1/auth/logout-all', headers: target.headers }),
        after: { status: 401, code: 'token_revoked' },
      },
      {
        name: 'deleting the user',
        role: 'user',
        probe: { method: 'GET', url: '/api/v1/users/me' },
        before: 200,
        change: (a, target, admin) =>
          a.inject({ method: 'DELETE', url: `/api/v1/users/${target.id}`, headers: admin }),
        after: { status: 401, code: 'invalid_token' },
      },
      {
        name: 'revoking an API key',
        role: 'user',
        key: ['tasks:read'],
        probe: { method: 'GET', url: '/api/v1/users/me' },
        before: 200,
        change: (a, target) =>
          a.inject({ method: 'DELETE', url: `/api/v1/api-keys/${target.keyId}`, headers: target.headers }),
        after: { status: 401, code: 'invalid_token' },
      },
      {
        name: "disabling a key's owner",
        role: 'user',
        key: ['tasks:read'],
        probe: { method: 'GET', url: '/api/v1/users/me' },
        before: 200,
        change: (a, target, admin) => patch(a, target.id, admin, { disabled: true }),
        after: { status: 401, code: 'account_disabled' },
      },
      {
        name: "lowering a key's owner's role",
        role: 'admin',
        key: ['users:read'],
        probe: { method: 'GET', url: '/api/v1/users' },
        before: 200,
        change: (a, target, admin) => patch(a, target.id, admin, { role: 'user' }),
        after: { status: 403, code: 'forbidden' },
      },
      {
        name: "deleting a key's owner",
        role: 'user',
        key: ['tasks:read'],
        probe: { method: 'GET', url: '/api/v1/tasks' },
        before: 200,
        change: (a, target, admin) =>
          a.inject({ method: 'DELETE', url: `/api/v1/users/${target.id}`, headers: admin }),
        after: { status: 401, code: 'invalid_token' },
      },
    ];

    /** A pair of instances built before a describe block's scenarios and closed after them. */
    function sharedInstances(make: () => Promise<Instances>): () => Instances {
      let pair: Instances | undefined;
      beforeAll(async () => {
        pair = await make();
      });
      afterAll(async () => pair?.close());
      return () => {
        if (!pair) throw new Error('the instances are not built yet');
        return pair;
      };
    }

    /** Sets the scenario up, warms b's cache, makes the change on a; returns b's probe. */
    async function arrange(instances: Instances, scenario: Scenario) {
      const { a, b } = instances;
      const admin = await signedIn(a, 'admin');
      const target = await signedIn(a, scenario.role);
      let keyId: string | null = null;
      let probeHeaders: Headers = target.headers;
      if (scenario.key) {
        const issued = await a.inject({
          method: 'POST',
          url: '/api/v1/api-keys',
          headers: target.headers,
          payload: { name: 'probe', scopes: scenario.key },
        });
        expect(issued.statusCode).toBe(201);
        keyId = issued.json().id;
        probeHeaders = { 'x-api-key': issued.json().key };
      }
      const probe = () => b.inject({ ...scenario.probe, headers: probeHeaders });
      expect((await probe()).statusCode).toBe(scenario.before); // b has cached the old state
      const changed = (await scenario.change(
        a,
        { id: target.user.id, headers: target.headers, keyId },
        admin.headers,
      )) as LightMyRequestResponse | undefined;
      expect(changed?.statusCode).toBeLessThan(300);
      return probe;
    }

    function expectAfter(res: LightMyRequestResponse, scenario: Scenario): void {
      expect(res.statusCode).toBe(scenario.after.status);
      if (scenario.after.code) expect(res.json().code).toBe(scenario.after.code);
    }

    describe.skipIf(process.env.TEST_DATABASE_URL)(
      'SQLite file without Redis: at once (data_version)',
      () => {
        // One pair of instances for every scenario (each makes its own users): building a pair
        // per scenario cost most of this file's time.
        const instances = sharedInstances(() => twoInstances({ REDIS_URL: '' }));

        it.each(scenarios.map((s) => [s.name, s] as const))(
          '%s reaches the running instance on its next request',
          async (_name, scenario) => {
            const probe = await arrange(instances(), scenario);
            expectAfter(await probe(), scenario);
          },
        );
      },
    );

    describe.runIf(process.env.TEST_DATABASE_URL)('PostgreSQL without Redis: within 5 s', () => {
      // One pair for every scenario; the clock only moves forward, and each scenario's entries are
      // cached at the time its arrange() reads them.
      let now = 1_000_000;
      const instances = sharedInstances(() => twoInstances({ REDIS_URL: '' }, () => now));

      it.each(scenarios.map((s) => [s.name, s] as const))(
        '%s reaches the running instance once its entries are 5 s old',
        async (_name, scenario) => {
          const probe = await arrange(instances(), scenario);
          now += 4999;
          // Still trusted: nothing tells this instance, and 5 s is the contract's bound.
          expect((await probe()).statusCode).not.toBe(scenario.after.status);
          now += 1;
          expectAfter(await probe(), scenario);
        },
      );
    });

    describe.runIf(process.env.TEST_REDIS_URL)('with Redis: at once (pub/sub)', () => {
      // One pair for every scenario, with a clock that never moves: only an invalidation can
      // refresh b's entries.
      const instances = sharedInstances(async () => {
        const pair = await twoInstances({}, () => 0);
        await new Promise((r) => setTimeout(r, 300)); // let both subscribers connect
        return pair;
      });

      it.each(scenarios.map((s) => [s.name, s] as const))(
        '%s reaches the running instance',
        async (_name, scenario) => {
          const probe = await arrange(instances(), scenario);
          let res = await probe();
          // Pub/sub delivery is asynchronous: give the message a moment, never a TTL's worth.
          for (let i = 0; i < 50 && res.statusCode !== scenario.after.status; i += 1) {
            await new Promise((r) => setTimeout(r, 20));
            res = await probe();
          }
          expectAfter(res, scenario);
        },
      );
    });
  });
});
