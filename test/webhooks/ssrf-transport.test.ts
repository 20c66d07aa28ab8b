import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import net from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import type { ResolvedAddress, Resolver } from '../../src/lib/dns.js';
import {
  createWebhookTransport,
  type DeliveryOutcome,
  type DeliveryRequest,
  HttpTransport,
  type PinnedSender,
  SafeTransport,
} from '../../src/modules/webhooks/transport.js';
import { checkUrl } from '../../src/modules/webhooks/url-policy.js';
import { buildTestApp } from '../helpers/app.js';
import { until } from '../helpers/wait.js';

/**
 * SafeTransport (contract §8, at delivery): the URL is checked again before every attempt, a
 * refused address gets no connection at all, and the connection goes to the address that was
 * checked. Real sends go to loopback receivers with allowPrivate; no test connects anywhere else.
 */

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });

/** A resolver whose answers a test sets, and which records what it was asked. */
function scriptedResolver(initial: Record<string, string[]>) {
  const names = { ...initial };
  const asked: string[] = [];
  const resolve: Resolver = async (hostname) => {
    asked.push(hostname);
    const found = names[hostname];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return found.map((a) => ({ address: a, family: a.includes(':') ? 6 : 4 }));
  };
  return { resolve, asked, names };
}

/** A sender that records where it was asked to connect, and connects nowhere. */
function spySender(): PinnedSender & { calls: (ResolvedAddress | null)[] } {
  const calls: (ResolvedAddress | null)[] = [];
  return {
    calls,
    async sendTo(_delivery: DeliveryRequest, address: ResolvedAddress | null): Promise<DeliveryOutcome> {
      calls.push(address);
      return { ok: true, status: 204, durationMs: 0, error: null, body: '' };
    },
  };
}

const delivery = (url: string): DeliveryRequest => ({
  url,
  headers: { 'content-type': 'application/json', 'taskforge-event': 'task.created' },
  body: '{"id":"e1"}',
});

let connectSpy: MockInstance<net.Socket['connect']>;
beforeAll(() => {
  connectSpy = vi.spyOn(net.Socket.prototype, 'connect');
});
afterEach(() => connectSpy.mockClear());
afterAll(() => connectSpy.mockRestore());

/** The ports every socket of this process was asked to connect to since the last clear. */
const connectedPorts = () =>
  connectSpy.mock.calls.map((args) => {
    const [first] = args as unknown[];
    const options = (Array.isArray(first) ? first[0] : first) as { port?: number } | number;
    return typeof options === 'object' ? Number(options.port) : Number(options);
  });

describe('a refused address gets no connection', () => {
  it('refuses a name that resolved publicly when set and privately now, before connecting', async () => {
    const dns = scriptedResolver({ 'hooks.example.org': ['93.184.216.34'] });
    const policy = { allowHttp: false, allowPrivate: false, resolve: dns.resolve };
    // When the webhook was set, the name was public.
    expect((await checkUrl('https://hooks.example.org/hook', policy)).ok).toBe(true);

    // Now it points inside.
    for (const inside of [
      ['10.0.0.1'],
      ['169.254.169.254'],
      ['93.184.216.34', '10.0.0.1'],
      ['::ffff:127.0.0.1'],
    ]) {
      dns.names['hooks.example.org'] = inside;
      dns.asked.length = 0;
      const spy = spySender();
      const safe = new SafeTransport(spy, policy);
      const outcome = await safe.send(delivery('https://hooks.example.org/hook'));
      const refused = inside.find((a) => a !== '93.184.216.34');
      expect(outcome).toMatchObject({
        ok: false,
        status: null,
        error: `address not allowed: ${refused}`,
        body: null,
      });
      expect(dns.asked).toEqual(['hooks.example.org']);
      expect(spy.calls).toEqual([]);

      // The real sender behind it: no socket is even asked to connect.
      const real = createWebhookTransport(policy, { timeoutMs: 2_000 });
      const again = await real.send(delivery('https://hooks.example.org/hook'));
      expect(again).toMatchObject({ ok: false, status: null, error: `address not allowed: ${refused}` });
      expect(connectSpy).not.toHaveBeenCalled();
    }
  });

  it('refuses IP literals, other schemes and names that stopped resolving, without resolving literals', async () => {
    const dns = scriptedResolver({});
    const safe = createWebhookTransport({ allowHttp: false, allowPrivate: false, resolve: dns.resolve });
    for (const url of ['https://10.0.0.1/hook', 'https://[::1]/hook', 'https://[fd00:ec2::254]/']) {
      const outcome = await safe.send(delivery(url));
      expect(outcome.error, url).toMatch(/^address not allowed: /);
    }
    expect(dns.asked).toEqual([]);
    expect((await safe.send(delivery('http://hooks.example.org/hook'))).error).toMatch(/^url not allowed: /);
    expect((await safe.send(delivery('https://gone.example.org/hook'))).error).toMatch(/does not resolve/);
    expect(connectSpy).not.toHaveBeenCalled();
  });

  it('counts a name that never resolves as refused, within the attempt’s timeout', async () => {
    const never: Resolver = () => new Promise(() => {});
    const safe = createWebhookTransport(
      { allowHttp: false, allowPrivate: false, resolve: never },
      { timeoutMs: 200 },
    );
    const outcome = await safe.send(delivery('https://hooks.example.org/hook'));
    expect(outcome).toMatchObject({ ok: false, status: null, body: null });
    expect(outcome.error).toMatch(/does not resolve/);
    expect(connectSpy).not.toHaveBeenCalled();
  });

  it('hands the sender the address it checked, resolving once per attempt', async () => {
    const dns = scriptedResolver({
      'hooks.example.org': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    });
    const spy = spySender();
    const safe = new SafeTransport(spy, { allowHttp: false, allowPrivate: false, resolve: dns.resolve });
    await safe.send(delivery('https://hooks.example.org/hook'));
    dns.names['hooks.example.org'] = ['1.1.1.1'];
    await safe.send(delivery('https://hooks.example.org/hook'));
    expect(spy.calls).toEqual([v4('93.184.216.34'), v4('1.1.1.1')]);
    expect(dns.asked).toEqual(['hooks.example.org', 'hooks.example.org']);
  });

  it('is what the app gives deliveries: ctx.services.webhooks.transport, with the app’s resolver', async () => {
    const dns = scriptedResolver({ 'hooks.example.org': ['10.0.0.1'] });
    const t = await buildTestApp({ overrides: { resolve: dns.resolve } });
    // The app's own connections (PostgreSQL, Redis) are made; from here on, only the send counts.
    connectSpy.mockClear();
    try {
      const outcome = await t.app.ctx.services.webhooks.transport.send(
        delivery('https://hooks.example.org/h'),
      );
      expect(outcome).toMatchObject({ ok: false, status: null, error: 'address not allowed: 10.0.0.1' });
      expect(dns.asked).toEqual(['hooks.example.org']);
      expect(connectSpy).not.toHaveBeenCalled();
    } finally {
      await t.close();
    }
  });
});

describe('sends to loopback receivers (WEBHOOK_ALLOW_PRIVATE)', () => {
  type Handler = (req: IncomingMessage, res: ServerResponse) => void;
  const servers: Server[] = [];
  afterAll(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  async function receiver(handler: Handler): Promise<number> {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as net.AddressInfo).port;
  }

  /** `receiver.test` (a name no real resolver knows) resolves to loopback, only through this resolver. */
  function lax(timeoutMs?: number) {
    const dns = scriptedResolver({ 'receiver.test': ['127.0.0.1'] });
    const transport = createWebhookTransport(
      { allowHttp: true, allowPrivate: true, resolve: dns.resolve },
      timeoutMs === undefined ? {} : { timeoutMs },
    );
    return { dns, transport };
  }

  it('POSTs to the checked address, with the name as Host, and keeps the first 1 KiB of the reply', async () => {
    const seen: { method?: string; host?: string; event?: string; body: string }[] = [];
    const port = await receiver((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        seen.push({
          method: req.method,
          host: req.headers.host,
          event: req.headers['taskforge-event'] as string,
          body,
        });
        res.writeHead(200, { 'content-type': 'text/plain' }).end('y'.repeat(5000));
      });
    });
    const { dns, transport } = lax();
    const outcome = await transport.send(delivery(`http://receiver.test:${port}/hook`));
    expect(outcome).toMatchObject({ ok: true, status: 200, error: null });
    expect(outcome.body).toBe('y'.repeat(1024));
    expect(seen).toEqual([
      { method: 'POST', host: `receiver.test:${port}`, event: 'task.created', body: '{"id":"e1"}' },
    ]);
    // One resolution (ours); the socket went to the port of the address we gave.
    expect(dns.asked).toEqual(['receiver.test']);
    expect(connectedPorts()).toEqual([port]);
  });

  it('keeps the name as the TLS server name (SNI) and checks the certificate', async () => {
    const names: string[] = [];
    const tls = createTlsServer({
      SNICallback: (servername, callback) => {
        names.push(servername);
        callback(new Error('no certificate here'));
      },
    });
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    try {
      const port = (tls.address() as net.AddressInfo).port;
      const { transport } = lax(5_000);
      const outcome = await transport.send(delivery(`https://receiver.test:${port}/hook`));
      expect(outcome).toMatchObject({ ok: false, status: null });
      expect(outcome.error).toMatch(/^cannot connect: /);
      expect(names).toEqual(['receiver.test']);
    } finally {
      await new Promise((r) => tls.close(r));
    }
  });

  it('follows no redirect: a 302 is a failure, and its target hears nothing', async () => {
    let targetHit = false;
    const target = await receiver((_req, res) => {
      targetHit = true;
      res.writeHead(204).end();
    });
    const port = await receiver((_req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${target}/` }).end();
    });
    const { transport } = lax();
    const outcome = await transport.send(delivery(`http://receiver.test:${port}/hook`));
    expect(outcome).toMatchObject({ ok: false, status: 302, error: 'the receiver answered 302' });
    expect(targetHit).toBe(false);
  });

  it('fails on a non-2xx reply, keeping its start', async () => {
    const port = await receiver((_req, res) => {
      res.writeHead(500).end('broken');
    });
    const outcome = await lax().transport.send(delivery(`http://receiver.test:${port}/hook`));
    expect(outcome).toMatchObject({
      ok: false,
      status: 500,
      error: 'the receiver answered 500',
      body: 'broken',
    });
  });

  it('times out a receiver that never answers, and one whose body never ends', async () => {
    const silent = await receiver(() => {});
    const slow = await receiver((_req, res) => {
      res.writeHead(200);
      res.write('a');
    });
    const { transport } = lax(300);
    for (const port of [silent, slow]) {
      const outcome = await transport.send(delivery(`http://receiver.test:${port}/hook`));
      expect(outcome).toMatchObject({ ok: false, status: null, error: 'no reply within 300 ms' });
    }
  });

  it('reads at most 64 KiB of a reply: an endless one succeeds, and the connection is dropped', async () => {
    let closed = false;
    let written = 0;
    const port = await receiver((_req, res) => {
      res.writeHead(200);
      const chunk = Buffer.alloc(16 * 1024, 'z');
      const pump = () => {
        while (!closed) {
          written += chunk.length;
          if (!res.write(chunk)) return;
        }
      };
      res.on('drain', pump);
      res.on('close', () => {
        closed = true;
      });
      pump();
    });
    // Without the cut, this send would run into its timeout and fail.
    const outcome = await lax(8_000).transport.send(delivery(`http://receiver.test:${port}/hook`));
    expect(outcome).toMatchObject({ ok: true, status: 200, error: null });
    expect(outcome.body).toHaveLength(1024);
    await until(() => closed);
    expect(written).toBeGreaterThan(64 * 1024);
  });
});

describe('HttpTransport without SafeTransport', () => {
  it('is never what the app hands deliveries', async () => {
    const t = await buildTestApp();
    try {
      expect(t.app.ctx.services.webhooks.transport).toBeInstanceOf(SafeTransport);
      expect(t.app.ctx.services.webhooks.transport).not.toBeInstanceOf(HttpTransport);
    } finally {
      await t.close();
    }
  });
});
