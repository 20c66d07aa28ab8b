import { describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createUser, login, PASSWORD, uniqueEmail } from '../helpers/factories.js';

/**
 * The fingerprint of a request is an HMAC keyed by JWT_SECRET (so a body's password cannot be
 * guessed from it): after the secret changes, a retry of a stored key no longer matches it and
 * is 422 idempotency_key_reused, never a second create. The README says so.
 */

const dialect = process.env.TEST_DATABASE_URL ? 'postgres' : 'sqlite';
const ROTATED = 'a-rotated-secret-that-is-long-enough-9876543210';

describe(`Idempotency-Key and a rotated JWT_SECRET (${dialect})`, () => {
  it('a retry after the rotation is 422 idempotency_key_reused and creates nothing', async () => {
    const before = await buildTestApp();
    try {
      const user = await createUser(before.app);
      const tokens = await login(before.app, user.email);
      const h = { authorization: `Bearer ${tokens.accessToken}`, 'idempotency-key': 'rotated' };
      const registration = {
        email: uniqueEmail('rotated'),
        password: PASSWORD,
        name: 'Rotated',
      };
      const created = await before.app.inject({
        method: 'POST',
        url: '/api/v1/tasks',
        headers: h,
        payload: { title: 'before the rotation' },
      });
      expect(created.statusCode).toBe(201);
      const registered = await before.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        headers: { 'idempotency-key': 'rotated' },
        payload: registration,
      });
      expect(registered.statusCode).toBe(201);

      const after = await buildTestApp({ database: before.db, env: { JWT_SECRET: ROTATED } });
      try {
        // The old access token is not valid any more: the user signs in again.
        const relogged = await login(after.app, user.email);
        const retried = await after.app.inject({
          method: 'POST',
          url: '/api/v1/tasks',
          headers: { ...h, authorization: `Bearer ${relogged.accessToken}` },
          payload: { title: 'before the rotation' },
        });
        expect(retried.statusCode).toBe(422);
        expect(retried.json().code).toBe('idempotency_key_reused');
        const reregistered = await after.app.inject({
          method: 'POST',
          url: '/api/v1/auth/register',
          headers: { 'idempotency-key': 'rotated' },
          payload: registration,
        });
        expect(reregistered.statusCode).toBe(422);
        expect(reregistered.json().code).toBe('idempotency_key_reused');
        const tasks = await before.db.handle.db
          .selectFrom('tasks')
          .select('id')
          .where('owner_id', '=', user.id)
          .execute();
        expect(tasks.map((task) => task.id)).toEqual([created.json().id]);
      } finally {
        await after.close();
      }
    } finally {
      await before.close();
    }
  });
});
