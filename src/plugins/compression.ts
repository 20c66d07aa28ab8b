import compress from '@fastify/compress';
import type { FastifyInstance, FastifyReply, onSendHookHandler } from 'fastify';

/**
 * Replies of at least this many bytes are compressed when the client accepts it; smaller ones go
 * out as they are: below about 1 KiB the saving is a few hundred bytes at most (one TCP segment
 * either way), while compressing costs CPU and latency on every request.
 */
export const COMPRESSION_THRESHOLD_BYTES = 1024;

/**
 * Text and JSON types (problem+json included), never `text/event-stream`: an event stream must
 * reach the client event by event, and a compressor buffers. (The plugin's own default, spelled
 * out here because the stream depends on it.)
 */
const COMPRESSIBLE = /^text\/(?!event-stream)|(?:\+|\/)json(?:;|$)|(?:\+|\/)xml(?:;|$)|javascript(?:;|$)/u;

function compressible(type: unknown): boolean {
  return typeof type === 'string' && COMPRESSIBLE.test(type);
}

/** Whether a reply of this payload would be compressed for a client that accepts gzip or br. */
function eligible(reply: FastifyReply, payload: unknown): boolean {
  if (!compressible(reply.getHeader('content-type'))) return false;
  if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
    return Buffer.byteLength(payload) >= COMPRESSION_THRESHOLD_BYTES;
  }
  // A stream (the docs' assets): the plugin compresses any length.
  return typeof (payload as { pipe?: unknown } | null)?.pipe === 'function';
}

/**
 * `Vary: Accept-Encoding` on every reply whose encoding depends on it, compressed or not (a cache
 * must not hand an identity copy's key a gzip body, nor the reverse), once and in one spelling
 * (the plugin appends a lower-case `accept-encoding` to the Vary the cache policy wrote).
 */
const varyOnEncoding: onSendHookHandler = (_request, reply, payload, done) => {
  const encoded = reply.getHeader('content-encoding') !== undefined;
  if (encoded || eligible(reply, payload)) {
    const current = reply.getHeader('vary');
    const names = (Array.isArray(current) ? current.join(',') : String(current ?? ''))
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name.length > 0 && name.toLowerCase() !== 'accept-encoding');
    reply.header('vary', [...names, 'Accept-Encoding'].join(', '));
  }
  done(null, payload);
};

/**
 * Response compression (`@fastify/compress`): br or gzip as Accept-Encoding prefers, for text and
 * JSON replies of at least COMPRESSION_THRESHOLD_BYTES; never the event stream. Request bodies are
 * not decompressed: a `Content-Encoding` on a request is not part of the contract.
 *
 * Entity tags stay as they are: a task's ETag is its version, the validator `If-Match` compares,
 * so it must be the same whichever coding carried the reply (a weakened tag would never pass
 * `If-Match`). The service serves no ranges, the one case where a strong tag per coding matters,
 * and `Vary: Accept-Encoding` keeps a cache's copies per coding apart.
 *
 * Registered before any route: the plugin adds its hook to each route as the route is declared.
 */
export async function installCompression(app: FastifyInstance): Promise<void> {
  await app.register(compress, {
    global: true,
    globalDecompression: false,
    threshold: COMPRESSION_THRESHOLD_BYTES,
    encodings: ['br', 'gzip'],
    customTypes: COMPRESSIBLE,
  });
  // After the plugin's own hook on each route, so this sees its Content-Encoding and its Vary.
  app.addHook('onRoute', (route) => {
    const hooks = route.onSend;
    route.onSend = [...(Array.isArray(hooks) ? hooks : hooks ? [hooks] : []), varyOnEncoding];
  });
}
