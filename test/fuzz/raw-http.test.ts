import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBLEMS } from '../../src/errors.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';
import { parseRaw } from '../helpers/http.js';
import { type Operation, operationsOf } from './operations.js';

/**
 * The raw bytes inject cannot send: malformed request lines, bad header bytes, conflicting
 * framing, over a real socket. Every reply is a problem+json 4xx (or a success) with the usual
 * headers, never a 5xx or a silent close, and the server keeps serving.
 */
const RUNS = Math.max(20, Math.floor(Number(process.env.FUZZ_RUNS ?? 400) / 3));

let t: TestApp;
let port: number;
let token: string;
let operations: Operation[];
let sent = 0;
beforeAll(async () => {
  t = await buildTestApp({ env: { REQUEST_TIMEOUT: '1s' } });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as AddressInfo).port;
  token = (await signedIn(t.app)).tokens.accessToken;
  operations = await operationsOf(t.app);
});
afterAll(async () => {
  console.info(`raw-http: ${sent} raw requests`);
  await t.close();
});

/**
 * Sends bytes and resolves with the first final reply (interim 1xx replies skipped, the body cut at
 * its Content-Length: a reply that said `Connection: close` ends there), or '' when none came.
 */
function exchange(data: Buffer): Promise<string> {
  sent += 1;
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (reply = '') => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(reply);
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const text = received
        .toString('latin1')
        .replace(/^(HTTP\/1\.1 1\d\d [^\r]*\r\n(?:[^\r]+\r\n)*\r\n)+/, '');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
      if (length && text.length >= end + 4 + Number(length[1]))
        finish(text.slice(0, end + 4 + Number(length[1])));
    });
    const settle = () =>
      finish(received.toString('latin1').replace(/^(HTTP\/1\.1 1\d\d [^\r]*\r\n(?:[^\r]+\r\n)*\r\n)+/, ''));
    socket.on('error', settle);
    socket.on('close', settle);
    socket.on('connect', () => socket.write(data));
    socket.setTimeout(5_000, settle);
  });
}

const bytes = (...parts: string[]) => Buffer.from(parts.join(''), 'latin1');
const anyByte = fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b));
const garbage = fc.string({ unit: anyByte, maxLength: 12 });

const method = fc.oneof(
  fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'),
  fc.constantFrom('get', 'G ET', 'CONNECT', 'TRACE', 'PROPFIND', 'QUERY', '', 'GET\x00', 'PRI'),
  garbage,
);
const version = fc.oneof(
  { weight: 4, arbitrary: fc.constant('HTTP/1.1') },
  {
    weight: 1,
    arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'http/1.1', 'HTTP/1.1 x', '', 'HTTP/1.'),
  },
);

function target(): fc.Arbitrary<string> {
  const paths = operations.map((o) => o.path);
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .tuple(fc.constantFrom(...paths), garbage)
        .map(([path, junk]) => path.replace(/\{\w+\}/g, junk || 'x')),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom(...paths), fc.nat(), garbage).map(([path, at, junk]) => {
        const i = at % (path.length + 1);
        return path.slice(0, i) + junk + path.slice(i);
      }),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '*',
        'http://evil.example/api/v1/tasks',
        '//evil.example/x',
        '/api/v1/tasks?%',
        '/api/v1/tasks#frag',
        '/api/v1/../v2/tasks',
        '/api/v1/./tasks',
        '/api/v1//tasks',
        `/api/v1/tasks/${'a'.repeat(9000)}`,
        '/api/v1/tasks?q=\x00',
        '/\xff\xfe',
        '',
        ' ',
      ),
    },
  );
}

const headerLine = fc.oneof(
  fc.constantFrom(
    'Content-Length: 2\r\nContent-Length: 3',
    'Content-Length: -1',
    'Content-Length: 1e3',
    'Content-Length: 99999999999999999999',
    'Transfer-Encoding: chunked\r\nContent-Length: 2',
    'Transfer-Encoding: gzip, chunked',
    'Transfer-Encoding: chunked\r\nTransfer-Encoding: identity',
    'Transfer-Encoding: xchunked',
    'Host: a\r\nHost: b',
    'X-Folded: a\r\n  continued',
    'No-Colon',
    ': empty-name',
    'Bad Name: x',
    'Content-Type: application/json\x00',
    'Expect: 100-continue',
    'Connection: upgrade\r\nUpgrade: websocket',
    'Authorization: Bearer \xff\xfe',
    'X-Request-Id: \xe9t\xe9',
  ),
  fc
    .tuple(
      fc.constantFrom(
        'Authorization',
        'X-Api-Key',
        'If-Match',
        'Idempotency-Key',
        'Accept',
        'Content-Type',
        'X-Request-Id',
      ),
      garbage,
    )
    .map(([name, value]) => `${name}: ${value}`),
  fc.constant(`X-Token: Bearer {{token}}`),
);

const body = fc.oneof(
  fc.constantFrom(
    '',
    '{}',
    '{"title":"x"}',
    '0\r\n\r\n',
    '5\r\nab\r\n0\r\n\r\n',
    'zz\r\n',
    '{"title":"\xff"}',
    '3\r\nabc\r\n0\r\nX-Trailer: \x00\r\n\r\n',
  ),
  garbage,
);

const request = fc
  .record({
    method,
    target: fc.constant(null).chain(() => target()),
    version,
    host: fc.boolean(),
    headers: fc.array(headerLine, { maxLength: 3 }),
    body,
  })
  .map((r) => {
    const lines = [`${r.method} ${r.target} ${r.version}`];
    if (r.host) lines.push('Host: 127.0.0.1');
    lines.push(`Authorization: Bearer ${token}`);
    for (const line of r.headers) lines.push(line.replace('{{token}}', token));
    if (!r.headers.some((h) => /content-length|transfer-encoding/i.test(h)))
      lines.push(`Content-Length: ${Buffer.byteLength(r.body, 'latin1')}`);
    lines.push('Connection: close');
    return bytes(`${lines.join('\r\n')}\r\n\r\n`, r.body);
  });

function faultsOf(raw: string, head: boolean): string[] {
  if (!raw.startsWith('HTTP/1.1 ')) return [`no HTTP reply: ${JSON.stringify(raw.slice(0, 80))}`];
  const res = parseRaw(raw);
  const faults: string[] = [];
  if (res.status >= 500) faults.push(`a ${res.status}`);
  if (res.headers['x-content-type-options'] !== 'nosniff') faults.push('no nosniff');
  if (!res.headers['x-request-id']) faults.push('no X-Request-Id');
  if (res.status >= 400) {
    if (head) return faults.map((fault) => `${res.status}: ${fault}`);
    if (!String(res.headers['content-type']).startsWith('application/problem+json'))
      faults.push(`a ${res.status} as ${res.headers['content-type']}`);
    try {
      const problem = JSON.parse(res.body) as { code?: string; status?: number };
      if (!problem.code || !(problem.code in PROBLEMS)) faults.push(`code ${problem.code}`);
      if (problem.status !== res.status) faults.push(`body status ${problem.status} for ${res.status}`);
    } catch {
      faults.push('a body that is not JSON');
    }
  }
  return faults.map((fault) => `${res.status}: ${fault}`);
}

describe('raw bytes over a real socket', () => {
  it('answers every malformed request line, header and framing with a problem, and keeps serving', {
    timeout: 300_000,
  }, async () => {
    const faults = new Map<string, string>();
    await fc.assert(
      fc.asyncProperty(request, async (data) => {
        const raw = await exchange(data);
        for (const fault of faultsOf(raw, data.toString('latin1').startsWith('HEAD '))) {
          if (!faults.has(fault))
            faults.set(
              fault,
              JSON.stringify(data.toString('latin1').replaceAll(token, '<token>').slice(0, 400)),
            );
        }
      }),
      { numRuns: RUNS },
    );
    expect([...faults].map(([fault, example]) => `${fault}, e.g. ${example}`)).toEqual([]);
    const live = await fetch(`http://127.0.0.1:${port}/api/v1/users/me`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(live.status).toBe(200);
  });
});
