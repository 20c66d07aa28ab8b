import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedAddress, Resolver } from '../../src/lib/dns.js';
import { checkUrl, ipv6Bytes, isGlobalUnicast } from '../../src/modules/webhooks/url-policy.js';
import { fieldItems } from '../helpers/api.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';

/**
 * The URL policy (contract §8) when a webhook is set: names resolve with an injected resolver, so
 * a public-looking name can have a private address without any network, and nothing connects.
 */

const PUBLIC_V4 = '93.184.216.34';
const PUBLIC_V6 = '2606:2800:220:1:248:1893:25c8:1946';

/** name → addresses; an unknown name does not resolve (ENOTFOUND, as getaddrinfo says). */
const NAMES: Record<string, string[]> = {
  'hooks.example.org': [PUBLIC_V4, PUBLIC_V6],
  'private.example.org': ['10.0.0.1'],
  'metadata.example.org': ['169.254.169.254'],
  'loopback6.example.org': ['::1'],
  'mapped.example.org': ['::ffff:127.0.0.1'],
  'mixed.example.org': [PUBLIC_V4, '192.168.1.20', PUBLIC_V6],
  'nat64.example.org': ['64:ff9b::a9fe:a9fe'],
  'ec2v6.example.org': ['fd00:ec2::254'],
  'empty.example.org': [],
};

const asked: string[] = [];
const resolve: Resolver = async (hostname) => {
  asked.push(hostname);
  const found = NAMES[hostname];
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return found.map((address): ResolvedAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
};

describe('isGlobalUnicast', () => {
  it.each([
    '127.0.0.1',
    '127.255.255.254',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.0.1',
    '100.64.0.1',
    '100.127.255.255',
    '169.254.169.254',
    '169.254.0.1',
    '0.0.0.0',
    '0.1.2.3',
    '224.0.0.1',
    '239.255.255.250',
    '255.255.255.255',
    '240.0.0.1',
    '192.0.2.1',
    '198.51.100.7',
    '203.0.113.9',
    '198.18.0.1',
    '192.0.0.8',
    '::1',
    '::',
    'fe80::1',
    'fe80::1%eth0',
    'febf::1',
    'fc00::1',
    'fd12:3456::1',
    'fd00:ec2::254',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '::ffff:a9fe:a9fe',
    '::ffff:169.254.169.254',
    '0:0:0:0:0:ffff:c0a8:0101',
    '64:ff9b::10.0.0.1',
    '64:ff9b::7f00:1',
    '2002:0a00:0001::1',
    '2002:7f00:1::',
    '2001:db8::1',
    '2001::1',
    '3fff::1',
    '100::1',
    '::127.0.0.1',
    'not an address',
    '',
    '1.2.3',
  ])('refuses %s', (address) => {
    expect(isGlobalUnicast(address)).toBe(false);
  });

  it.each([
    PUBLIC_V4,
    '1.1.1.1',
    '8.8.8.8',
    '172.32.0.1',
    '100.128.0.1',
    '192.169.0.1',
    '11.0.0.1',
    '223.255.255.254',
    PUBLIC_V6,
    '2a00:1450:4001:82a::200e',
    '::ffff:93.184.216.34',
    '64:ff9b::5db8:d822',
    '2002:5db8:d822::1',
  ])('allows %s', (address) => {
    expect(isGlobalUnicast(address)).toBe(true);
  });

  it('reads every spelling of an IPv6 address into the same bytes', () => {
    const hex = (a: string) => Buffer.from(ipv6Bytes(a) ?? []).toString('hex');
    expect(hex('::ffff:127.0.0.1')).toBe('00000000000000000000ffff7f000001');
    expect(hex('0:0:0:0:0:ffff:7f00:1')).toBe('00000000000000000000ffff7f000001');
    expect(hex('1::')).toBe('00010000000000000000000000000000');
    expect(hex('::')).toBe('0'.repeat(32));
    expect(hex('2001:db8:0:0:1:0:0:1')).toBe('20010db8000000000001000000000001');
    expect(ipv6Bytes('1.2.3.4')).toBeNull();
  });
});

describe('checkUrl', () => {
  const options = { allowHttp: false, allowPrivate: false, resolve };

  it('checks IP literals without resolving them', async () => {
    asked.length = 0;
    for (const url of [
      'https://127.0.0.1/hook',
      'https://[::1]/hook',
      'https://[::ffff:10.0.0.1]/hook',
      'https://2130706433/hook',
      'https://0x7f.1/hook',
      'https://[fe80::1]/hook',
      'https://169.254.169.254/latest/meta-data/',
    ]) {
      const check = await checkUrl(url, options);
      expect(check.ok, url).toBe(false);
    }
    expect((await checkUrl(`https://${PUBLIC_V4}/hook`, options)).ok).toBe(true);
    expect((await checkUrl(`https://[${PUBLIC_V6}]/hook`, options)).ok).toBe(true);
    expect(asked).toEqual([]);
  });

  it('refuses a name that does not resolve, or resolves to nothing, or too slowly', async () => {
    expect(await checkUrl('https://nowhere.example.org/', options)).toMatchObject({ ok: false });
    expect(await checkUrl('https://empty.example.org/', options)).toMatchObject({ ok: false });
    const never: Resolver = () => new Promise(() => {});
    expect(
      await checkUrl('https://hooks.example.org/', { ...options, resolve: never, resolveTimeoutMs: 50 }),
    ).toMatchObject({ ok: false, reason: expect.stringContaining('does not resolve') });
  });

  it('gives the addresses to connect to when every one is allowed', async () => {
    const check = await checkUrl('https://hooks.example.org:8443/x?y=1', options);
    expect(check).toMatchObject({ ok: true, host: 'hooks.example.org' });
    expect(check.ok && check.addresses.map((a) => a.address)).toEqual([PUBLIC_V4, PUBLIC_V6]);
  });

  it('allows private addresses and http only when told to', async () => {
    expect((await checkUrl('https://private.example.org/', options)).ok).toBe(false);
    expect((await checkUrl('https://private.example.org/', { ...options, allowPrivate: true })).ok).toBe(
      true,
    );
    expect((await checkUrl('http://hooks.example.org/', options)).ok).toBe(false);
    expect((await checkUrl('http://hooks.example.org/', { ...options, allowHttp: true })).ok).toBe(true);
    // WEBHOOK_ALLOW_PRIVATE allows addresses, not other schemes or credentials.
    const lax = { allowHttp: true, allowPrivate: true, resolve };
    expect((await checkUrl('ftp://hooks.example.org/', lax)).ok).toBe(false);
    expect((await checkUrl('file:///etc/passwd', lax)).ok).toBe(false);
    expect((await checkUrl('https://a:b@hooks.example.org/', lax)).ok).toBe(false);
    expect((await checkUrl('https://a@hooks.example.org/', lax)).ok).toBe(false);
  });
});

describe('the URL policy at the API', () => {
  let t: TestApp;
  let lax: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ overrides: { resolve } });
    lax = await buildTestApp({
      overrides: { resolve },
      env: { WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true' },
    });
  });
  afterAll(async () => {
    await t?.close();
    await lax?.close();
  });

  const REFUSED = [
    'https://private.example.org/hook',
    'https://metadata.example.org/latest/meta-data/',
    'https://loopback6.example.org/hook',
    'https://mapped.example.org/hook',
    'https://mixed.example.org/hook',
    'https://nat64.example.org/hook',
    'https://ec2v6.example.org/hook',
    'https://nowhere.example.org/hook',
    'https://[::ffff:10.0.0.1]/hook',
    'https://127.0.0.1/hook',
    'https://localhost/hook',
    'http://hooks.example.org/hook',
    'https://user:secret@hooks.example.org/hook',
  ];

  it.each(REFUSED)('refuses %s at creation and at PATCH (422 url_not_allowed on /url)', async (url) => {
    const { headers } = await signedIn(t.app);
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers,
      payload: { url, events: ['*'] },
    });
    expect(created.statusCode, created.body).toBe(422);
    expect(created.json().code).toBe('validation_failed');
    expect(fieldItems(created)).toEqual([['/url', 'url_not_allowed']]);

    const ok = await t.app.inject({
      method: 'POST',
      url: '/api/v2/webhooks',
      headers,
      payload: { url: 'https://hooks.example.org/hook', events: ['*'] },
    });
    expect(ok.statusCode, ok.body).toBe(201);
    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/api/v2/webhooks/${ok.json().id}`,
      headers,
      payload: { url },
    });
    expect(patched.statusCode, patched.body).toBe(422);
    expect(fieldItems(patched)).toEqual([['/url', 'url_not_allowed']]);
    // Unchanged.
    const after = await t.app.inject({ method: 'GET', url: `/api/v2/webhooks/${ok.json().id}`, headers });
    expect(after.json().url).toBe('https://hooks.example.org/hook');
  });

  it('names the refused address in the detail', async () => {
    const { headers } = await signedIn(t.app);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/webhooks',
      headers,
      payload: { url: 'https://mixed.example.org/hook', events: ['*'] },
    });
    expect(res.json().errors[0].detail).toContain('192.168.1.20');
  });

  it('takes http:// and private addresses with WEBHOOK_ALLOW_HTTP and WEBHOOK_ALLOW_PRIVATE', async () => {
    const { headers } = await signedIn(lax.app);
    for (const url of [
      'http://hooks.example.org/hook',
      'http://private.example.org/hook',
      'https://metadata.example.org/hook',
      'http://127.0.0.1:8080/hook',
      'http://[::1]:8080/hook',
    ]) {
      const res = await lax.app.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers,
        payload: { url, events: ['*'] },
      });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(201);
    }
    // Still: a name that does not resolve, credentials, another scheme.
    for (const url of [
      'http://nowhere.example.org/hook',
      'http://a:b@hooks.example.org/hook',
      'ftp://hooks.example.org/hook',
    ]) {
      const res = await lax.app.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers,
        payload: { url, events: ['*'] },
      });
      expect(res.statusCode, url).toBe(422);
      expect(fieldItems(res)).toEqual([['/url', 'url_not_allowed']]);
    }
  });
});
