import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/migrator.js';
import { createDurableTestDatabase, type TestDatabase, testDatabaseUrl } from '../helpers/database.js';
import { PASSWORD, uniqueEmail } from '../helpers/factories.js';
import { freePort } from '../helpers/free-port.js';
import { type ServerProcess, serverAnswers, startServerProcess } from '../helpers/server-process.js';
import { until } from '../helpers/wait.js';
import { type Receiver, startReceiver, WEBHOOK_ENV } from '../helpers/webhooks.js';

/**
 * Issue 13, tracing: the real server (a child process) sends its spans over OTLP/HTTP (JSON) to a
 * receiver in the test. One traced server for every case; a second, untraced one only starts and
 * shows that no OpenTelemetry module was loaded.
 */

const dialect = testDatabaseUrl ? 'postgres' : 'sqlite';
const redisUrl = process.env.TEST_REDIS_URL || null;

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
}
const SERVER = 2;
const CLIENT = 3;

/** An OTLP/HTTP JSON receiver: every span it is sent, and the resources they came with. */
function startCollector(): Promise<{ url: string; spans: OtlpSpan[]; resources: unknown[]; server: Server }> {
  const spans: OtlpSpan[] = [];
  const resources: unknown[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans: { resource: unknown; scopeSpans: { spans: OtlpSpan[] }[] }[];
        };
        for (const rs of body.resourceSpans) {
          resources.push(rs.resource);
          for (const scope of rs.scopeSpans) spans.push(...scope.spans);
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        spans,
        resources,
        server,
      }),
    ),
  );
}

function attributes(span: OtlpSpan): Record<string, unknown> {
  return Object.fromEntries(span.attributes.map(({ key, value }) => [key, Object.values(value)[0]]));
}

/** Every line of a stream, as it comes. */
function collectLines(stream: Readable | null, into: string[]): void {
  let rest = '';
  stream?.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n');
    rest = parts.pop() ?? '';
    into.push(...parts);
  });
}

/** Logs, to stderr, every module it resolves whose URL names OpenTelemetry or our tracing files. */
const MODULE_LOG_HOOK = `
import { writeSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  if (/@opentelemetry|\\/src\\/telemetry\\.|traced-dialect/.test(result.url)) writeSync(2, 'module-loaded ' + result.url + '\\n');
  return result;
}`;
const MODULE_LOG = [
  '--import',
  `data:text/javascript,${encodeURIComponent(
    `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(MODULE_LOG_HOOK)}`)});`,
  )}`,
];

const UNLIMITED = {
  RATE_LIMIT_MAX: '1000000',
  AUTH_RATE_LIMIT_MAX: '1000000',
  LOGIN_FAILURES_MAX: '1000000',
};

let db: TestDatabase;
let collector: Awaited<ReturnType<typeof startCollector>>;
let receiver: Receiver;
let server: ServerProcess;
let port: number;
const stdout: string[] = [];
const stderr: string[] = [];

beforeAll(async () => {
  db = await createDurableTestDatabase('tracing');
  if (!db.url) throw new Error('the test database has no URL for a child process');
  await migrateToLatest(db.handle);
  collector = await startCollector();
  receiver = await startReceiver();
  port = await freePort();
  server = startServerProcess(
    db.url,
    port,
    {
      ...UNLIMITED,
      ...WEBHOOK_ENV,
      ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
      LOG_LEVEL: 'info',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '50',
    },
    { nodeArgs: MODULE_LOG, pipe: true },
  );
  collectLines(server.child.stdout, stdout);
  collectLines(server.child.stderr, stderr);
  await serverAnswers(port, '/health/ready', 60_000);
}, 90_000);

afterAll(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
  await receiver?.close();
  collector?.server.close();
  await db?.drop();
});

/** A caller's span: a fresh trace id and span id, as its `traceparent` says. */
function callerSpan() {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

async function call(path: string, init: RequestInit & { traceparent: string }) {
  const { traceparent, headers, ...rest } = init;
  return fetch(`http://127.0.0.1:${port}${path}`, {
    ...rest,
    headers: { traceparent, 'content-type': 'application/json', ...headers },
  });
}

/** The server span of the request that `caller` made, once it has arrived. */
async function requestSpan(caller: { traceId: string; spanId: string }): Promise<OtlpSpan> {
  let found: OtlpSpan | undefined;
  await until(() => {
    found = collector.spans.find((s) => s.traceId === caller.traceId && s.kind === SERVER);
    return found !== undefined;
  }, 10_000);
  if (!found) throw new Error('no request span arrived');
  return found;
}

describe(`tracing (${dialect}${redisUrl ? ' + Redis' : ''})`, () => {
  const email = uniqueEmail('tracing');
  let token = '';

  it('makes the request a child of the caller, named by its route, with HTTP attributes', async () => {
    const caller = callerSpan();
    const res = await call('/api/v1/auth/register', {
      method: 'POST',
      traceparent: caller.traceparent,
      body: JSON.stringify({ email, password: PASSWORD, name: 'Traced' }),
    });
    expect(res.status).toBe(201);
    const span = await requestSpan(caller);
    expect(span.parentSpanId).toBe(caller.spanId);
    expect(span.name).toBe('POST /api/v1/auth/register');
    expect(attributes(span)).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/api/v1/auth/register',
      'http.response.status_code': 201,
      'url.path': '/api/v1/auth/register',
    });
    expect(collector.resources).toContainEqual({
      attributes: expect.arrayContaining([
        { key: 'service.name', value: { stringValue: 'taskforge' } },
        { key: 'service.version', value: { stringValue: expect.stringMatching(/^\d+\.\d+\.\d+/) } },
      ]),
      droppedAttributesCount: 0,
    });
  });

  it('records each SQL statement as a child of the request, with its text and never its values', async () => {
    const caller = callerSpan();
    const login = await call('/api/v1/auth/login', {
      method: 'POST',
      traceparent: caller.traceparent,
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    token = ((await login.json()) as { accessToken: string }).accessToken;
    const span = await requestSpan(caller);
    const statements = collector.spans.filter(
      (s) =>
        s.traceId === caller.traceId &&
        attributes(s)['db.system.name'] === (testDatabaseUrl ? 'postgresql' : 'sqlite'),
    );
    expect(statements.length).toBeGreaterThan(0);
    const operations = new Set<unknown>();
    for (const statement of statements) {
      const attrs = attributes(statement);
      expect(statement.parentSpanId).toBe(span.spanId);
      expect(statement.kind).toBe(CLIENT);
      expect(statement.name).toBe(attrs['db.operation.name']);
      operations.add(attrs['db.operation.name']);
      expect(typeof attrs['db.query.text']).toBe('string');
      const text = JSON.stringify(statement);
      expect(text).not.toContain(email);
      expect(text).not.toContain(PASSWORD);
    }
    // The login reads the user and writes a session.
    expect(operations).toContain('SELECT');
    expect(operations).toContain('INSERT');
    const select = statements.find((s) => attributes(s)['db.operation.name'] === 'SELECT');
    expect(String(attributes(select as OtlpSpan)['db.query.text'])).toMatch(/select .*from "users"/i);
  });

  it('names a route with parameters by its template, and keeps no query value (a refused request too)', async () => {
    const caller = callerSpan();
    const id = '0190a0a0-0000-7000-8000-000000000000';
    const res = await call(`/api/v1/tasks/${id}?secret=s3cr3t-value`, {
      traceparent: caller.traceparent,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(422); // an unknown query parameter
    const span = await requestSpan(caller);
    expect(span.name).toBe('GET /api/v1/tasks/:id');
    expect(attributes(span)).toMatchObject({
      'http.route': '/api/v1/tasks/:id',
      'url.path': `/api/v1/tasks/${id}`,
      'url.query': 'secret=REDACTED',
      'http.response.status_code': 422,
    });
    await until(() => collector.spans.filter((s) => s.traceId === caller.traceId).length > 1, 5000);
    for (const s of collector.spans.filter((s) => s.traceId === caller.traceId)) {
      expect(JSON.stringify(s)).not.toContain('s3cr3t-value');
      expect(JSON.stringify(s)).not.toContain(token);
    }
  });

  it.runIf(redisUrl)(
    'records Redis commands as children of the request, without keys or values',
    async () => {
      const caller = callerSpan();
      const res = await call('/api/v1/tasks', {
        traceparent: caller.traceparent,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      const span = await requestSpan(caller);
      let commands: OtlpSpan[] = [];
      await until(() => {
        commands = collector.spans.filter(
          (s) => s.traceId === caller.traceId && attributes(s)['db.system.name'] === 'redis',
        );
        return commands.length > 0;
      }, 5000);
      for (const command of commands) {
        expect(command.parentSpanId).toBe(span.spanId);
        const attrs = attributes(command);
        // The statement is the command's name alone.
        expect(String(attrs['db.query.text'])).toMatch(/^[a-z]+$/);
        expect(command.name).toBe(attrs['db.query.text']);
        expect(JSON.stringify(command)).not.toContain('taskforge:');
        expect(JSON.stringify(command)).not.toContain(token);
      }
    },
  );

  it('puts the trace and span ids on every log line of the request, beside its request id', async () => {
    const caller = callerSpan();
    const res = await call('/api/v1/tasks', {
      traceparent: caller.traceparent,
      headers: { authorization: `Bearer ${token}`, 'x-request-id': 'traced-request-1' },
    });
    expect(res.status).toBe(200);
    const span = await requestSpan(caller);
    let lines: Record<string, unknown>[] = [];
    await until(() => {
      lines = stdout
        .filter((line) => line.includes('traced-request-1'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      return lines.some((line) => line.msg === 'request completed');
    }, 5000);
    for (const line of lines) {
      expect(line).toMatchObject({
        requestId: 'traced-request-1',
        trace_id: caller.traceId,
        span_id: span.spanId,
      });
    }
  });

  it('sends traceparent on a webhook delivery, from the span of that delivery', async () => {
    const caller = callerSpan();
    const created = await call('/api/v1/webhooks', {
      method: 'POST',
      traceparent: caller.traceparent,
      headers: { authorization: `Bearer ${token}` },
      body: JSON.stringify({ url: receiver.url, events: ['*'] }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const ping = await call(`/api/v1/webhooks/${id}/ping`, {
      method: 'POST',
      traceparent: caller.traceparent,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(ping.status).toBe(202);
    await until(() => receiver.received.length > 0, 15_000);
    const traceparent = String(receiver.received[0]?.headers.traceparent);
    const [, traceId, spanId] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(traceparent) ?? [];
    let delivery: OtlpSpan | undefined;
    await until(() => {
      delivery = collector.spans.find((s) => s.spanId === spanId);
      return delivery !== undefined;
    }, 5000);
    expect(delivery?.traceId).toBe(traceId);
    expect(delivery?.kind).toBe(CLIENT);
    expect(attributes(delivery as OtlpSpan)).toMatchObject({
      'http.request.method': 'POST',
      'url.full': receiver.url,
    });
  });

  it('loads the SDK and the statement tracing when on, and neither when off', async () => {
    expect(stderr.join('\n')).toMatch(/module-loaded .*@opentelemetry\/sdk-trace-node/);
    expect(stderr.join('\n')).toMatch(/module-loaded .*traced-dialect/);
    const url = db.url as string;
    const offPort = await freePort();
    const off = startServerProcess(
      url,
      offPort,
      { MIGRATE_ON_START: 'false' },
      { nodeArgs: MODULE_LOG, pipe: true },
    );
    const offErr: string[] = [];
    collectLines(off.child.stderr, offErr);
    off.child.stdout?.resume();
    try {
      await serverAnswers(offPort, '/health/ready', 60_000);
      const res = await fetch(`http://127.0.0.1:${offPort}/api/v1/tasks`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
    } finally {
      off.child.kill('SIGTERM');
      await off.exited;
    }
    expect(offErr.filter((line) => line.startsWith('module-loaded'))).toEqual([]);
  }, 90_000);
});
