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
      const service = t.app.ctx.services.users;
      await service.ensureAdmin('second@example.com', ADMIN_PASSWORD, () => {});
      const row = await t.app.ctx.database.db
        .selectFrom('users')
        .select('id')
        .where('email', '=', 'second@example.com')
        .executeTakeFirst();
      expect(row).toBeUndefined();
    } finally {
      await t.close();
    }
  });

  it('takes over an account registered with ADMIN_EMAIL: ADMIN_PASSWORD, and the registrant is out', async () => {
    const t = await buildTestApp();
    try {
      const registrantPassword = 'the squatter knew this one';
      const registered = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        payload: { email: 'boss@example.com', password: registrantPassword, name: 'Squatter' },
      });
      expect(registered.statusCode).toBe(201);
      const old = await login(t.app, 'boss@example.com', registrantPassword);
      const oldHeaders = { authorization: `Bearer ${old.accessToken}` };
      const me = () => t.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: oldHeaders });
      expect((await me()).statusCode).toBe(200); // the running server has cached this session
      const service = t.app.ctx.services.users;
      const logged: string[] = [];
      await service.ensureAdmin('BOSS@example.com', ADMIN_PASSWORD, (line) => logged.push(line));

      const revoked = await me();
      expect(revoked.statusCode).toBe(401);
      expect(revoked.json().code).toBe('token_revoked');
      const refresh = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refreshToken: old.refreshToken },
      });
      expect(refresh.statusCode).toBe(401);
      expect(refresh.json().code).toBe('token_revoked');
      const withOldPassword = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'boss@example.com', password: registrantPassword },
      });
      expect(withOldPassword.statusCode).toBe(401);
      expect(withOldPassword.json().code).toBe('invalid_credentials');

      const admin = await login(t.app, 'boss@example.com', ADMIN_PASSWORD);
      const asAdmin = await t.app.inject({
        method: 'GET',
        url: '/api/v1/users',
        headers: { authorization: `Bearer ${admin.accessToken}` },
      });
      expect(asAdmin.statusCode).toBe(200);
      const row = await t.app.ctx.database.db
        .selectFrom('users')
        .select(['role', 'disabled'])
        .where('id', '=', registered.json().id)
        .executeTakeFirstOrThrow();
      expect(row).toEqual({ role: 'admin', disabled: 0 });
      expect(logged).toEqual([
        'promoted boss@example.com to admin: password set, its sessions and API keys ended (ADMIN_EMAIL)',
      ]);
    } finally {
      await t.close();
    }
  });

  it('takes over a disabled admin the same way', async () => {
    const t = await buildTestApp();
    try {
      const user = await createUser(t.app, { email: 'old-root@example.com', role: 'admin' });
      await t.app.ctx.database.db
        .updateTable('users')
        .set({ disabled: 1 })
        .where('id', '=', user.id)
        .execute();
      const service = t.app.ctx.services.users;
      const logged: string[] = [];
      await service.ensureAdmin('old-root@example.com', ADMIN_PASSWORD, (line) => logged.push(line));
      expect((await login(t.app, 'old-root@example.com', ADMIN_PASSWORD)).accessToken).toBeTruthy();
      expect(logged).toEqual([
        'enabled the disabled admin old-root@example.com: password updated, its sessions and API keys ended (ADMIN_EMAIL)',
      ]);
    } finally {
      await t.close();
    }
  });
});
