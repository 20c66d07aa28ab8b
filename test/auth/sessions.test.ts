import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionView } from '../../src/modules/auth/auth.service.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { createUser, login, PASSWORD, signedIn } from '../helpers/factories.js';

let t: TestApp;
/** The app's clock: real time plus what a test has moved it by. */
let offset = 0;
beforeAll(async () => {
  t = await buildTestApp({ clock: () => Date.now() + offset });
});
afterAll(async () => t.close());

type Headers = Record<string, string>;
const req = (
  method: 'GET' | 'DELETE' | 'POST',
  url: string,
  headers: Headers,
  version = 'v1',
  payload?: object,
) => t.app.inject({ method, url: `/api/${version}${url}`, headers, ...(payload ? { payload } : {}) });
const auth = (accessToken: string) => ({ authorization: `Bearer ${accessToken}` });

async function loginWith(app: TestApp['app'], email: string, headers: Headers = {}) {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    headers,
    payload: { email, password: PASSWORD },
  });
  expect(res.statusCode).toBe(200);
  return res.json() as { accessToken: string; refreshToken: string };
}

describe('GET /auth/sessions', () => {
  it('lists the caller’s live sessions newest first, current on its own, in both versions', async () => {
    const user = await createUser(t.app);
    const phone = await loginWith(t.app, user.email, { 'user-agent': 'Phone/1.0' });
    const laptop = await loginWith(t.app, user.email, { 'user-agent': 'Laptop/2.0' });
    const ended = await loginWith(t.app, user.email);
    expect((await req('POST', '/auth/logout', auth(ended.accessToken))).statusCode).toBe(204);
    await signedIn(t.app); // someone else's session is never listed

    const page = await req('GET', '/auth/sessions', auth(phone.accessToken));
    expect(page.statusCode).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    const body = page.json() as { items: SessionView[]; total: number; pages: number };
    expect(body).toMatchObject({ total: 2, page: 1, size: 20, pages: 1 });
    expect(body.items.map((s) => [s.userAgent, s.current])).toEqual([
      ['Laptop/2.0', false],
      ['Phone/1.0', true],
    ]);
    expect(Object.keys(body.items[0] ?? {}).sort()).toEqual(
      ['createdAt', 'current', 'id', 'ip', 'lastUsedAt', 'userAgent'].sort(),
    );
    expect(body.items[0]?.ip).toBe('127.0.0.1');

    const first = await req('GET', '/auth/sessions?limit=1', auth(laptop.accessToken), 'v2');
    expect(first.statusCode).toBe(200);
    const c1 = first.json() as { items: SessionView[]; nextCursor: string | null };
    expect(c1.items.map((s) => [s.userAgent, s.current])).toEqual([['Laptop/2.0', true]]);
    expect(first.headers.link).toMatch(/rel="next"/);
    const second = await req(
      'GET',
      `/auth/sessions?limit=1&cursor=${encodeURIComponent(c1.nextCursor ?? '')}`,
      auth(laptop.accessToken),
      'v2',
    );
    const c2 = second.json() as { items: SessionView[]; nextCursor: string | null };
    expect(c2.items.map((s) => s.userAgent)).toEqual(['Phone/1.0']);
    expect(c2.nextCursor).toBeNull();
    const stranger = await signedIn(t.app);
    const foreign = await req(
      'GET',
      `/auth/sessions?cursor=${encodeURIComponent(c1.nextCursor ?? '')}`,
      stranger.headers,
      'v2',
    );
    expect(foreign.statusCode).toBe(400);
    expect(foreign.json().code).toBe('invalid_cursor');
  });

  it('keeps a user agent truncated to 512 code points', async () => {
    const user = await createUser(t.app);
    const long = '🦊'.repeat(600);
    const tokens = await loginWith(t.app, user.email, { 'user-agent': long });
    const [session] = (await req('GET', '/auth/sessions', auth(tokens.accessToken))).json()
      .items as SessionView[];
    expect([...(session?.userAgent ?? '')]).toHaveLength(512);
    expect(session?.userAgent).toBe('🦊'.repeat(512));
  });

  it('keeps lastUsedAt without a write per request (at most one a minute)', async () => {
    const { headers } = await signedIn(t.app);
    const lastUsed = async () =>
      ((await req('GET', '/auth/sessions', headers)).json().items as SessionView[])[0]?.lastUsedAt;
    const atLogin = await lastUsed();
    offset += 61_000;
    try {
      await req('GET', '/users/me', headers);
      let moved = atLogin;
      for (let i = 0; i < 100 && moved === atLogin; i += 1) {
        await new Promise((r) => setTimeout(r, 20));
        moved = await lastUsed();
      }
      expect(Date.parse(moved ?? '') - Date.parse(atLogin ?? '')).toBeGreaterThanOrEqual(61_000);
      offset += 10_000;
      for (let i = 0; i < 5; i += 1) await req('GET', '/users/me', headers);
      await new Promise((r) => setTimeout(r, 100));
      expect(await lastUsed()).toBe(moved);
    } finally {
      offset -= 71_000;
    }
  });
});

describe('the client address under TRUST_PROXY', () => {
  const one = '203.0.113.7';
  const two = '198.51.100.9, 203.0.113.7';
  it.each([
    ['not set: X-Forwarded-For is ignored', {}, one, '127.0.0.1'],
    ['the proxy’s address: the address the proxy saw', { TRUST_PROXY: '127.0.0.1' }, one, '203.0.113.7'],
    ['true: the address the proxy saw', { TRUST_PROXY: 'true' }, one, '203.0.113.7'],
    ['another proxy’s address: the peer itself', { TRUST_PROXY: '10.0.0.1' }, one, '127.0.0.1'],
    ['1 hop: the address the nearest proxy saw', { TRUST_PROXY: '1' }, two, '203.0.113.7'],
    ['2 hops: the address the farther proxy saw', { TRUST_PROXY: '2' }, two, '198.51.100.9'],
    ['0 hops: the peer itself', { TRUST_PROXY: '0' }, two, '127.0.0.1'],
  ])('%s', async (_name, env, forwardedFor, ip) => {
    const app = await buildTestApp({ env });
    try {
      const user = await createUser(app.app);
      const tokens = await loginWith(app.app, user.email, { 'x-forwarded-for': forwardedFor });
      const res = await app.app.inject({
        method: 'GET',
        url: '/api/v1/auth/sessions',
        headers: auth(tokens.accessToken),
      });
      expect((res.json().items as SessionView[])[0]?.ip).toBe(ip);
    } finally {
      await app.close();
    }
  });
});

describe('DELETE /auth/sessions/{id}', () => {
  it('ends that session at once: its access and refresh tokens are 401 token_revoked', async () => {
    const user = await createUser(t.app);
    const keep = await loginWith(t.app, user.email);
    const lost = await loginWith(t.app, user.email);
    const me = (tokens: { accessToken: string }) => req('GET', '/users/me', auth(tokens.accessToken));
    expect((await me(lost)).statusCode).toBe(200); // cached as live
    const sessions = (await req('GET', '/auth/sessions', auth(keep.accessToken))).json()
      .items as SessionView[];
    const lostId = sessions.find((s) => !s.current)?.id ?? '';
    const res = await req('DELETE', `/auth/sessions/${lostId}`, auth(keep.accessToken));
    expect(res.statusCode).toBe(204);
    const revoked = await me(lost);
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json().code).toBe('token_revoked');
    const refresh = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refreshToken: lost.refreshToken },
    });
    expect(refresh.statusCode).toBe(401);
    expect(refresh.json().code).toBe('token_revoked');
    expect((await me(keep)).statusCode).toBe(200);
    const left = (await req('GET', '/auth/sessions', auth(keep.accessToken))).json().items as SessionView[];
    expect(left.map((s) => s.id)).not.toContain(lostId);
    // Ended already: not found.
    const again = await req('DELETE', `/auth/sessions/${lostId}`, auth(keep.accessToken), 'v2');
    expect(again.statusCode).toBe(404);
  });

  it('answers 404 for someone else’s session or an unknown id, and ends nothing', async () => {
    const owner = await signedIn(t.app);
    const admin = await signedIn(t.app, 'admin');
    const [session] = (await req('GET', '/auth/sessions', owner.headers)).json().items as SessionView[];
    for (const id of [session?.id ?? '', 'no-such-session', '0'.repeat(64)]) {
      const res = await req('DELETE', `/auth/sessions/${id}`, admin.headers);
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('not_found');
    }
    expect((await req('GET', '/users/me', owner.headers)).statusCode).toBe(200);
  });

  it('ends the caller’s own session when it names it', async () => {
    const { headers } = await signedIn(t.app);
    const [session] = (await req('GET', '/auth/sessions', headers)).json().items as SessionView[];
    expect((await req('DELETE', `/auth/sessions/${session?.id}`, headers)).statusCode).toBe(204);
    const after = await req('GET', '/users/me', headers);
    expect(after.statusCode).toBe(401);
    expect(after.json().code).toBe('token_revoked');
  });

  it('needs credentials (401)', async () => {
    const res = await req('GET', '/auth/sessions', {});
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('unauthorized');
    void login;
  });
});
