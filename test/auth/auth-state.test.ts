import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';
import { buildTestApp, testEnv } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import { signedIn } from '../helpers/factories.js';

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
      await demoteBehindTheCache(t.app.database.db, user.id);
      expect((await t.app.authState.user(user.id))?.role).toBe('user');
      // ...and an invalidation makes the next read go to the database.
      t.app.authState.userChanged(user.id);
      expect((await t.app.authState.user(user.id))?.role).toBe('guest');
    } finally {
      await t.close();
    }
  });

  it('fails closed: while the Redis link is down, every request reads the database', async () => {
    const t = await buildTestApp({ env: { REDIS_URL: 'redis://127.0.0.1:1' } });
    try {
      const { user } = await signedIn(t.app);
      expect((await t.app.authState.user(user.id))?.role).toBe('user');
      await demoteBehindTheCache(t.app.database.db, user.id);
      expect((await t.app.authState.user(user.id))?.role).toBe('guest');
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
      const a = await buildApp(config, { database: shared.handle, hashCost });
      const b = await buildApp(config, { database: second, hashCost });
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
});
