import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { clientErrorHandler, rawProblemReply } from '../../src/plugins/client-errors.js';
import { API_CSP } from '../../src/plugins/security-headers.js';

/** A raw reply split into its status line, headers (lower-cased names) and parsed body. */
function parse(raw: string): {
  statusLine: string;
  headers: Record<string, string>;
  lines: string[];
  body: unknown;
} {
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const at = line.indexOf(': ');
    headers[line.slice(0, at).toLowerCase()] = line.slice(at + 2);
  }
  expect(Buffer.byteLength(body)).toBe(Number(headers['content-length']));
  return { statusLine, headers, lines, body: JSON.parse(body) };
}

/** The socket calls a client-error handler makes, recorded. */
function fakeSocket(writable: boolean) {
  const calls: { ended?: string; destroyed?: unknown } = {};
  const socket = {
    writable,
    end: (data: string) => {
      calls.ended = data;
    },
    destroy: (error: unknown) => {
      calls.destroyed = error;
    },
  } as unknown as Socket;
  return { socket, calls };
}

function errno(code: string | undefined): NodeJS.ErrnoException {
  return Object.assign(new Error('client error'), code ? { code } : {});
}

describe('rawProblemReply', () => {
  it('writes a whole problem+json reply with the headers every reply carries', () => {
    const { statusLine, headers, lines, body } = parse(rawProblemReply('http://api.test', 'not_found'));
    expect(statusLine).toBe('HTTP/1.1 404 Not Found');
    expect(headers).toMatchObject({
      'content-type': 'application/problem+json',
      'x-content-type-options': 'nosniff',
      'content-security-policy': API_CSP,
      'cache-control': 'no-store',
      connection: 'close',
    });
    expect(lines.at(-1)).toBe('Connection: close');
    const problem = body as Record<string, unknown>;
    expect(problem).toEqual({
      type: 'http://api.test/problems/not-found',
      title: 'Not found',
      status: 404,
      detail: 'Not found',
      instance: '/',
      code: 'not_found',
      requestId: headers['x-request-id'],
    });
    expect(headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('takes a detail, an instance and extra headers', () => {
    const { statusLine, headers, body } = parse(
      rawProblemReply('http://api.test', 'method_not_allowed', {
        detail: 'Use GET',
        instance: '/api/v1/tasks',
        headers: { Allow: 'GET, HEAD' },
      }),
    );
    expect(statusLine).toBe('HTTP/1.1 405 Method Not Allowed');
    expect(headers.allow).toBe('GET, HEAD');
    expect(body).toMatchObject({ detail: 'Use GET', instance: '/api/v1/tasks', status: 405 });
  });
});

describe('clientErrorHandler', () => {
  const handle = clientErrorHandler('http://api.test');

  it.each([
    ['HPE_HEADER_OVERFLOW', 'headers_too_large', 431, 'Request Header Fields Too Large'],
    ['ERR_HTTP_REQUEST_TIMEOUT', 'request_timeout', 408, 'Request Timeout'],
  ])('answers %s with %s, detail the title', (code, problem, status, reason) => {
    const { socket, calls } = fakeSocket(true);
    handle(errno(code), socket);
    expect(calls.destroyed).toBeUndefined();
    const { statusLine, body } = parse(calls.ended ?? '');
    expect(statusLine).toBe(`HTTP/1.1 ${status} ${reason}`);
    const parsed = body as { code: string; detail: string; title: string };
    expect(parsed.code).toBe(problem);
    expect(parsed.detail).toBe(parsed.title);
  });

  it.each(['HPE_INVALID_METHOD', undefined])(
    'answers any other error (%s) with 400 malformed_json',
    (code) => {
      const { socket, calls } = fakeSocket(true);
      handle(errno(code), socket);
      const { statusLine, body } = parse(calls.ended ?? '');
      expect(statusLine).toBe('HTTP/1.1 400 Bad Request');
      expect(body).toMatchObject({ code: 'malformed_json', detail: 'The request is not valid HTTP' });
    },
  );

  it('destroys a socket it can no longer write to, with the error', () => {
    const { socket, calls } = fakeSocket(false);
    const error = errno('ECONNRESET');
    handle(error, socket);
    expect(calls.destroyed).toBe(error);
    expect(calls.ended).toBeUndefined();
  });
});
