import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { uuidv7 } from 'uuidv7';

const ACCEPTED = /^[A-Za-z0-9._-]{1,128}$/;

/** A caller's X-Request-Id when it is safe to echo and log, otherwise a fresh UUIDv7. */
export function requestIdFor(request: IncomingMessage): string {
  const given = request.headers['x-request-id'];
  return typeof given === 'string' && ACCEPTED.test(given) ? given : uuidv7();
}

export function installRequestIdEcho(app: FastifyInstance): void {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
}
