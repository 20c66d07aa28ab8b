import { type AddressInfo, connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from '../../src/app.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { parseRaw } from '../helpers/http.js';

/** Slow and idle clients on a real listening server: what Node's timeouts and the cap do to them. */
let t: TestApp | undefined;
let sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets = [];
  await t?.close();
  t = undefined;
});

async function listening(limits: Partial<ServerLimits>, env: Record<string, string> = {}) {
  t = await buildTestApp({ env, overrides: { serverLimits: limits } });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  return (t.app.server.address() as AddressInfo).port;
}

/** A client connection that records what the server sends and whether the server closed it. */
interface Client {
  socket: Socket;
  received(): string;
  /** Resolves when the server ends or resets the connection (never when the test destroys it). */
  closedByServer: Promise<void>;
  open(): boolean;
}

function client(port: number, first = ''): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    let data = '';
    let open = true;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    const closedByServer = new Promise<void>((done) => {
      socket.on('end', () => {
        open = false;
        done();
      });
      socket.on('error', () => {
        open = false;
        done();
      });
      socket.on('close', () => {
        open = false;
        done();
      });
    });
    socket.once('error', reject);
    socket.on('connect', () => {
      if (first) socket.write(first);
      resolve({ socket, received: () => data, closedByServer, open: () => open });
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function expectTimeoutProblem(raw: string) {
  const res = parseRaw(raw);
  expect(res.status).toBe(408);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.headers.connection).toBe('close');
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(JSON.parse(res.body)).toMatchObject({ status: 408, code: 'request_timeout' });
}

describe('the defaults', () => {
  it('are 10 s for headers, REQUEST_TIMEOUT (30 s) for the whole request, 5 s keep-alive, 1,000 connections', async () => {
    expect(DEFAULT_SERVER_LIMITS).toEqual({
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 5_000,
      maxConnections: 1_000,
    });
    t = await buildTestApp();
    const server = t.app.server;
    expect(server.headersTimeout).toBe(10_000);
    expect(server.requestTimeout).toBe(30_000);
    expect(server.keepAliveTimeout).toBe(5_000);
    expect(server.maxConnections).toBe(1_000);
  });

  it('keep the header timeout within a shorter REQUEST_TIMEOUT', async () => {
    t = await buildTestApp({ env: { REQUEST_TIMEOUT: '4s' } });
    expect(t.app.server.headersTimeout).toBe(4_000);
    expect(t.app.server.requestTimeout).toBe(4_000);
  });
});

describe('slow clients', () => {
  it('closes a connection whose headers stall with 408 after the header timeout, long before REQUEST_TIMEOUT', async () => {
    // REQUEST_TIMEOUT stays 30 s: only the header timeout can close these within the test.
    const port = await listening({ headersTimeoutMs: 500 });
    const partial = await client(port, 'GET /api/v1/users/me HTTP/1.1\r\nHost: x\r\nX-Slow: a');
    const silent = await client(port);
    await Promise.all([partial.closedByServer, silent.closedByServer]);
    expectTimeoutProblem(partial.received());
    expectTimeoutProblem(silent.received());
  });

  it('cuts a body that trickles in, byte after byte, at REQUEST_TIMEOUT', async () => {
    const port = await listening({}, { REQUEST_TIMEOUT: '1s' });
    const slow = await client(
      port,
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"email":"',
    );
    let sent = 0;
    // Never idle: a byte every 50 ms, so only the whole-request deadline can end it.
    const trickle = setInterval(() => {
      if (slow.open() && slow.socket.writable) {
        slow.socket.write('a');
        sent += 1;
      }
    }, 50);
    try {
      await slow.closedByServer;
    } finally {
      clearInterval(trickle);
    }
    expect(sent).toBeGreaterThan(3);
    expectTimeoutProblem(slow.received());
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const port = await listening({ keepAliveTimeoutMs: 200 });
    const idle = await client(port, 'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    await idle.closedByServer;
    const res = parseRaw(idle.received());
    expect(res.status).toBe(200);
    expect(res.headers.connection).toBe('keep-alive');
    expect(res.body).toBe('{"status":"ok"}');
  });

  it('refuses connections past the cap, and takes new ones once others close', async () => {
    const port = await listening({ maxConnections: 5 });
    const held = await Promise.all(Array.from({ length: 5 }, () => client(port)));
    // The server has counted them all before the next one arrives.
    for (let i = 0; i < 200 && (await connections()) < 5; i++) await sleep(10);
    expect(await connections()).toBe(5);

    const excess = await client(port, 'GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    await excess.closedByServer;
    expect(excess.received()).toBe('');

    held[0]?.socket.destroy();
    for (let i = 0; i < 200 && (await connections()) > 4; i++) await sleep(10);
    const res = await fetch(`http://127.0.0.1:${port}/health/live`);
    expect(res.status).toBe(200);
  });

  it('answers normal requests while 200 connections stall, then closes every stalled one', async () => {
    const port = await listening({ headersTimeoutMs: 8000 });
    const { headers } = await signedIn((t as TestApp).app);
    const stalled = await Promise.all(
      Array.from({ length: 200 }, (_, i) => client(port, `GET /api/v1/tasks?n=${i} HTTP/1.1\r\nHost: x\r\n`)),
    );
    for (let i = 0; i < 300 && (await connections()) < 200; i++) await sleep(10);
    const me = await fetch(`http://127.0.0.1:${port}/api/v1/users/me`, { headers });
    expect(me.status).toBe(200);
    const live = await fetch(`http://127.0.0.1:${port}/health/live`);
    expect(live.status).toBe(200);
    // Answered while the stalled ones were still open: they did not hold the service.
    expect(stalled.filter((s) => s.open()).length).toBeGreaterThan(150);

    await Promise.all(stalled.map((s) => s.closedByServer));
    for (const s of stalled) expect(parseRaw(s.received()).status).toBe(408);
  });
});

function connections(): Promise<number> {
  return new Promise((resolve, reject) =>
    (t as TestApp).app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}
