import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { uniqueEmail } from '../helpers/factories.js';

/** The account flow over a real socket, with every log line captured and searched for secrets. */
const logged: string[] = [];
const stream = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    logged.push(chunk.toString());
    callback();
  },
});

let t: TestApp;
let base: string;
beforeAll(async () => {
  t = await buildTestApp({ env: { LOG_LEVEL: 'trace' }, logStream: stream });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/api/v1`;
});
afterAll(async () => t.close());

async function call(method: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : null };
}

describe('register, login, refresh, logout over HTTP', () => {
  it('works end to end and never lets a secret reach a reply or a log line', async () => {
    const email = uniqueEmail('http');
    const password = 'a very private passphrase';
    const registered = await call('POST', '/auth/register', { email, password, name: 'Http User' });
    expect(registered.status).toBe(201);
    expect(registered.headers.get('cache-control')).toBe('no-store');

    const pair = await call('POST', '/auth/login', { email, password });
    expect(pair.status).toBe(200);
    const me = await call('GET', '/users/me', undefined, pair.json.accessToken);
    expect(me.status).toBe(200);
    expect(me.json.email).toBe(email);

    const refreshed = await call('POST', '/auth/refresh', { refreshToken: pair.json.refreshToken });
    expect(refreshed.status).toBe(200);
    const out = await call('POST', '/auth/logout', undefined, refreshed.json.accessToken);
    expect(out.status).toBe(204);
    const after = await call('GET', '/users/me', undefined, refreshed.json.accessToken);
    expect(after.status).toBe(401);
    expect(after.json.code).toBe('token_revoked');
    expect(after.headers.get('www-authenticate')).toBe('Bearer realm="taskforge", error="invalid_token"');

    const replies = [registered, pair, me, refreshed, out, after].map((r) => r.text).join('\n');
    expect(replies).not.toContain(password);
    expect(replies).not.toMatch(/\$argon2/);

    const logs = logged.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [
      password,
      pair.json.accessToken,
      pair.json.refreshToken,
      refreshed.json.accessToken,
      refreshed.json.refreshToken,
      '$argon2',
      t.app.config.jwtSecret ?? 'no-secret',
    ]) {
      expect(logs).not.toContain(secret);
    }
  });
});
