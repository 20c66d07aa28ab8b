import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../helpers/app.js';

/**
 * TRUST_PROXY decides whose X-Forwarded-For and X-Forwarded-Proto count: the client address that
 * rate limits key on and logs name, and the protocol logs name. Links never follow the request:
 * they come from PUBLIC_URL whatever Host or X-Forwarded-* say. (The session's recorded address
 * is in test/auth/sessions.test.ts.)
 */

interface Line {
  msg?: string;
  url?: string;
  remoteAddress?: string;
  protocol?: string;
}

const PUBLIC_URL = 'https://tasks.example.com';
const RATE_LIMIT_MAX = 50;

/** The forms of TRUST_PROXY, each seen from a proxy at 127.0.0.1 that appends the peer it saw. */
const FORMS = [
  { name: 'unset (untrusted by default)', env: {}, client: '127.0.0.1', protocol: 'http' },
  { name: 'false', env: { TRUST_PROXY: 'false' }, client: '127.0.0.1', protocol: 'http' },
  { name: '1 hop', env: { TRUST_PROXY: '1' }, client: '203.0.113.7', protocol: 'https' },
  { name: '2 hops', env: { TRUST_PROXY: '2' }, client: '198.51.100.9', protocol: 'https' },
  {
    name: 'a CIDR list holding the proxy',
    env: { TRUST_PROXY: '10.0.0.0/8,127.0.0.0/8' },
    client: '203.0.113.7',
    protocol: 'https',
  },
  {
    name: 'a CIDR list without the proxy',
    env: { TRUST_PROXY: '10.0.0.0/8,192.168.0.0/16' },
    client: '127.0.0.1',
    protocol: 'http',
  },
] as const;

describe.each(FORMS)('TRUST_PROXY $name', ({ env, client, protocol }) => {
  let t: TestApp;
  const lines: Line[] = [];
  beforeAll(async () => {
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Line);
        done();
      },
    });
    t = await buildTestApp({
      env: { ...env, PUBLIC_URL, LOG_LEVEL: 'info', RATE_LIMIT_MAX: String(RATE_LIMIT_MAX) },
      logStream: stream,
    });
  });
  afterAll(async () => t?.close());

  /** A request through the proxies: the far one saw 198.51.100.9, the near one 203.0.113.7. */
  function viaProxy(
    url: string,
    forwardedFor = '198.51.100.9, 203.0.113.7',
    extra: Record<string, string> = {},
  ) {
    return t.app.inject({
      method: 'GET',
      url,
      remoteAddress: '127.0.0.1',
      headers: { 'x-forwarded-for': forwardedFor, 'x-forwarded-proto': 'https', ...extra },
    });
  }

  it(`logs the client as ${client} over ${protocol}`, async () => {
    const res = await viaProxy('/api/v1/tasks?trust-proxy-log');
    expect(res.statusCode).toBe(401);
    const completed = lines.find((line) => line.url === '/api/v1/tasks?trust-proxy-log');
    expect(completed).toMatchObject({ msg: 'request completed', remoteAddress: client, protocol });
  });

  it('keys the rate limit on that client', async () => {
    // Two clients behind the same proxy: one budget when the proxy is not trusted, two when it is.
    const first = await viaProxy('/api/v1/tasks', '198.51.100.20, 203.0.113.20');
    const second = await viaProxy('/api/v1/tasks', '198.51.100.21, 203.0.113.21');
    const left = (res: typeof first) => Number(res.headers['ratelimit-remaining']);
    expect(left(first)).toBeLessThan(RATE_LIMIT_MAX);
    const shared = client === '127.0.0.1';
    expect(left(second)).toBe(shared ? left(first) - 1 : left(first));
  });

  it('takes every link from PUBLIC_URL, never from Host or X-Forwarded-*', async () => {
    const res = await viaProxy('/', undefined, {
      host: 'evil.example',
      'x-forwarded-host': 'evil.example',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ docs: `${PUBLIC_URL}/docs`, openapi: `${PUBLIC_URL}/openapi.json` });
  });
});
