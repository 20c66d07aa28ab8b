import type { FastifyReply, FastifyRequest } from 'fastify';
import { etagOf, ifNoneMatchHits } from './conditional.js';

/** Replies about a resource that carries a version (tasks, projects): its ETag, and conditional reads. */

export function withEtag<T extends { version: number }>(reply: FastifyReply, resource: T): T {
  reply.header('etag', etagOf(resource.version));
  return resource;
}

/** A conditional read: the resource with its ETag, or 304 when If-None-Match names it. */
export function readConditionally<T extends { version: number }>(
  request: FastifyRequest,
  reply: FastifyReply,
  resource: T,
): T | FastifyReply {
  withEtag(reply, resource);
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch !== undefined && ifNoneMatchHits(ifNoneMatch, resource.version))
    return reply.code(304).send();
  return resource;
}
