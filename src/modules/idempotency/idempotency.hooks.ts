import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../errors.js';
import { parseIdempotencyKey } from '../../lib/idempotency.js';
import type { IdempotencyService, Lease } from './idempotency.service.js';

const HEADER = 'idempotency-key';

function invalidKey(detail: string): ApiError {
  return new ApiError('invalid_idempotency_key', { detail });
}

/**
 * The Idempotency-Key of a request, or null without one. Two headers (Node would join them with a
 * comma into something that looks like one key) are refused like a malformed one.
 */
function keyOf(request: FastifyRequest): string | null {
  const joined = request.headers[HEADER];
  if (joined === undefined) return null;
  // The raw lines tell one header from two (read only when the header is there at all).
  const raw = request.raw.rawHeaders;
  const values: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() === HEADER) values.push(raw[i + 1] ?? '');
  }
  if (values.length > 1) throw invalidKey('Send one Idempotency-Key header');
  const key = parseIdempotencyKey(values[0] ?? String(joined));
  if (key === null) {
    throw invalidKey('An Idempotency-Key is 1–255 printable ASCII characters, bare or as a quoted string');
  }
  return key;
}

/**
 * On the routes that declare `config.idempotency`, just before the handler (so a reply the handler
 * never reached — 401, 403, 413, 415, a schema's 422, 429 — claims nothing): the key is checked
 * (400), then claimed, or its stored reply replayed. A request that holds a key and answers
 * anything but a success releases it before its reply leaves, so a retry is decided afresh.
 */
export function installIdempotency(app: FastifyInstance, service: IdempotencyService): void {
  app.decorateRequest('idempotency', null);
  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    const policy = request.routeOptions.config.idempotency;
    if (!policy) return;
    const key = keyOf(request);
    if (key === null) return;
    const caller = policy.caller === 'client-ip' ? `ip:${request.ip}` : `user:${request.principal?.userId}`;
    const fingerprint = service.fingerprint({
      method: request.method,
      route: request.routeOptions.url ?? '',
      params: request.params ?? {},
      body: request.body ?? null,
    });
    const claim = await service.claim(caller, key, fingerprint);
    if ('lease' in claim) {
      request.idempotency = claim.lease;
      return;
    }
    const { status, headers, body } = claim.replay;
    return reply
      .code(status)
      .headers(headers)
      .header('idempotent-replayed', 'true')
      .type('application/json; charset=utf-8')
      .send(body);
  });
  app.addHook('onSend', async (request, reply) => {
    const lease = request.idempotency as Lease | null;
    if (!lease || reply.statusCode < 300) return;
    request.idempotency = null;
    try {
      await lease.release();
    } catch (error) {
      // The lease then ends by itself (60 s): a retry waits that long at most.
      request.log.warn({ err: error }, 'idempotency: cannot release a key; its lease will lapse');
    }
  });
}
