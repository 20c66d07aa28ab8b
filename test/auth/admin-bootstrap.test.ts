import { describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createUser, login } from '../helpers/factories.js';

const ADMIN_PASSWORD = 'bootstrap passphrase 2031';

describe('admin bootstrap from ADMIN_EMAIL / ADMIN_PASSWORD', () => {
  it('creates the admin at start-up when no admin exists', async () => {
    const t = await buildTestApp({ env: { ADMIN_EMAIL: 'Root@Example.com', ADMIN_PASSWORD } });
    try {
      const tokens = await login(t.app, 'root@example.com', ADMIN_PASSWORD);
      const me = await t.app.inject({
        method: 'GET',
        url: '/api/v1/users/me',
        headers: { authorization: `Bearer ${tokens.accessToken}` },
      });
      expect(me.json()).toMatchObject({ email: 'root@example.com', role: 'admin', disabled: false });
    } finally {
      await t.close();
    }
  });

  it('creates nothing when an enabled admin exists', async () => {
    const t = await buildTestApp();
    try {
      await createUser(t.app, { role: 'admin' });
      const { UsersService } = await import('../../src/modules/users/users.service.js');
      const service = new UsersService(t.app.database, t.app.passwordHasher, t.app.authState);
      await service.ensureAdmin('second@example.com', ADMIN_PASSWORD, () => {});
      const row = await t.app.database.db
        .selectFrom('users')
        .select('id')
        .where('email', '=', 'second@example.com')
        .executeTakeFirst();
      expect(row).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  it('promotes an existing account with that email', async () => {
    const t = await buildTestApp();
    try {
      const user = await createUser(t.app, { email: 'boss@example.com' });
      const { UsersService } = await import('../../src/modules/users/users.service.js');
      const service = new UsersService(t.app.database, t.app.passwordHasher, t.app.authState);
      await service.ensureAdmin('BOSS@example.com', ADMIN_PASSWORD, () => {});
      const row = await t.app.database.db
        .selectFrom('users')
        .select(['role', 'disabled'])
        .where('id', '=', user.id)
        .executeTakeFirstOrThrow();
      expect(row).toEqual({ role: 'admin', disabled: 0 });
    } finally {
      await t.close();
    }
  });
});
