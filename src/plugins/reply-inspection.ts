import type { FastifyInstance, FastifyRequest } from 'fastify';

/** A reply as its client received it (status, headers) with the body as the route serialized it. */
export interface InspectedReply {
  method: string;
  /** The route pattern (`/api/v1/tasks/:id`), or null when no route matched. */
  route: string | null;
  statusCode: number;
  headers: Record<string, string | number | string[] | undefined>;
  /** The serialized body before any compression; null for a stream (the event feed, static files). */
  payload: string | Buffer | null;
}

export type ReplyInspector = (reply: InspectedReply) => void;

/**
 * Hands every completed reply to `inspect` (the tests hold each one to the OpenAPI document).
 * Installed after the root-level hooks, so the body it keeps is the one the client decodes: the
 * routes' compression runs later, in their own onSend hooks.
 */
export function installReplyInspection(app: FastifyInstance, inspect: ReplyInspector): void {
  const payloads = new WeakMap<FastifyRequest, string | Buffer | null>();
  app.addHook('onSend', (request, _reply, payload, done) => {
    payloads.set(request, typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : null);
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    inspect({
      method: request.method,
      route: request.routeOptions.url ?? null,
      statusCode: reply.statusCode,
      headers: reply.getHeaders(),
      payload: payloads.get(request) ?? null,
    });
    done();
  });
}
