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

export function clientErrorHandler(publicUrl: string) {
  return (error: NodeJS.ErrnoException, socket: Socket): void => {
    if (!socket.writable) {
      socket.destroy(error);
      return;
    }
    const code = codeFor(error);
    const { status, title } = PROBLEMS[code];
    const requestId = uuidv7();
    const body = JSON.stringify({
      type: `${publicUrl}/problems/${problemSlug(code)}`,
      title,
      status,
      detail: code === 'malformed_json' ? 'The request is not valid HTTP' : title,
      instance: '/',
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
      'Connection: close',
    ].join('\r\n');
    socket.end(`${head}\r\n\r\n${body}`);
  };
}
