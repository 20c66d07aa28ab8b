import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { uuidv7 } from 'uuidv7';
import { PROBLEMS, type ProblemCode, problemSlug } from '../errors.js';
import { API_CSP } from './security-headers.js';

/**
 * Errors Node reports before Fastify has a request (malformed HTTP, too-large headers, slow
 * requests) run no hooks, so the problem body and the security headers are written here by hand.
 */
function codeFor(error: NodeJS.ErrnoException): ProblemCode {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return 'headers_too_large';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'request_timeout';
    default:
      return 'malformed_json';
  }
}

/**
 * A whole HTTP reply carrying a problem, for a socket Fastify never sees a request on (no hooks
 * run): the problem body and the headers every reply carries, written by hand; the connection closes.
 */
export function rawProblemReply(
  publicUrl: string,
  code: ProblemCode,
  options: { detail?: string; instance?: string; headers?: Record<string, string> } = {},
): string {
  const { status, title } = PROBLEMS[code];
  const requestId = uuidv7();
  const body = JSON.stringify({
    type: `${publicUrl}/problems/${problemSlug(code)}`,
    title,
    status,
    detail: options.detail ?? title,
    instance: options.instance ?? '/',
    code,
    requestId,
  });
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'Content-Type: application/problem+json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'X-Content-Type-Options: nosniff',
    `Content-Security-Policy: ${API_CSP}`,
    `X-Request-Id: ${requestId}`,
    'Cache-Control: no-store',
    ...Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
    'Connection: close',
  ].join('\r\n');
  return `${head}\r\n\r\n${body}`;
}

export function clientErrorHandler(publicUrl: string) {
  return (error: NodeJS.ErrnoException, socket: Socket): void => {
    if (!socket.writable) {
      socket.destroy(error);
      return;
    }
    const code = codeFor(error);
    socket.end(
      rawProblemReply(
        publicUrl,
        code,
        code === 'malformed_json' ? { detail: 'The request is not valid HTTP' } : {},
      ),
    );
  };
}
