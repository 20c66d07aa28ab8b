import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { ApiError } from '../errors.js';
import { sendProblem } from './problem-details.js';

/**
 * HTTP behaviour Fastify does not give on its own: 405 with `Allow` for a known path, OPTIONS
 * answered with `Allow`, the contract's media types, and empty bodies ignored on routes without one.
 */

const MERGE_PATCH = 'application/merge-patch+json';

function mediaType(request: FastifyRequest): string {
  return (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

const NO_QUERY = { type: 'object', properties: {}, additionalProperties: false } as const;

const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** Every path the app serves, with its methods, for 405 and OPTIONS answers. */
class PathMethods {
  private readonly router = FindMyWay({ ignoreTrailingSlash: false, maxParamLength: 500 });
  private readonly methods = new Set<string>();

  add(method: string, url: string): void {
    if (method === 'OPTIONS' || method === 'TRACE' || this.router.hasRoute(method as HTTPMethod, url)) return;
    this.methods.add(method);
    this.router.on(method as HTTPMethod, url, () => {});
  }

  allowed(path: string): string[] {
    const found = new Set([...this.methods].filter((m) => this.router.find(m as HTTPMethod, path) !== null));
    if (found.has('GET')) found.add('HEAD');
    if (found.size > 0) found.add('OPTIONS');
    return METHOD_ORDER.filter((m) => found.has(m));
  }
}

function pathOf(request: FastifyRequest): string {
  const q = request.url.indexOf('?');
  return q === -1 ? request.url : request.url.slice(0, q);
}

export function installHttpSemantics(app: FastifyInstance): void {
  const paths = new PathMethods();
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) paths.add(method, route.url);
    // An API route that declares no query parameters takes none: an unknown one is a 422.
    if (route.url.startsWith('/api/') && route.schema?.querystring === undefined) {
      route.schema = { ...route.schema, querystring: NO_QUERY };
    }
  });

  // Fastify's text/plain parser would let text bodies reach validation instead of a 415.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(MERGE_PATCH, { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));

  // Hot-path hooks are callback-style: an async hook costs a promise per request.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    // OPTIONS without a CORS preflight header, and a wrong method on a known path: answer before
    // any body is read, so a bad body cannot turn them into 400/413/415. (A hook that replies
    // does not call done.)
    const preflight = request.method === 'OPTIONS' && request.headers['access-control-request-method'];
    if (request.method === 'OPTIONS' && !preflight) {
      const allow = paths.allowed(pathOf(request));
      if (allow.length > 0) {
        reply.code(204).header('allow', allow.join(', ')).send();
        return;
      }
      sendProblem(reply, new ApiError('not_found'));
      return;
    }
    if (request.is404 && request.method !== 'OPTIONS') {
      const allow = paths.allowed(pathOf(request));
      if (allow.length > 0) {
        sendProblem(reply, new ApiError('method_not_allowed', { headers: { allow: allow.join(', ') } }));
        return;
      }
    }
    // A route that takes no body ignores an empty one, whatever its Content-Type says.
    const bodySchema = request.routeOptions.schema?.body as Record<string, unknown> | undefined;
    const takesBody = bodySchema !== undefined && bodySchema['x-body-optional'] !== true;
    const length = request.headers['content-length'];
    const empty =
      request.headers['transfer-encoding'] === undefined && (length === undefined || length === '0');
    if (!takesBody && empty) delete request.headers['content-type'];
    done();
  });

  // Node times out requests whose headers never finish (clientError → 408); a body that trickles
  // in slower than REQUEST_TIMEOUT is cut here with the same 408.
  const timeoutMs = app.config.requestTimeoutMs;
  app.addHook('preParsing', (request, reply, payload, done) => {
    const hasBody =
      request.headers['transfer-encoding'] !== undefined ||
      (request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0');
    if (!hasBody || timeoutMs === 0) {
      done(null, payload);
      return;
    }
    const timer = setTimeout(() => {
      // Destroying the request would drop the socket without a reply: answer, then close.
      reply.header('connection', 'close');
      sendProblem(reply, new ApiError('request_timeout'));
    }, timeoutMs);
    const clear = () => clearTimeout(timer);
    payload.once('end', clear);
    reply.raw.once('close', clear);
    done(null, payload);
  });

  app.addHook('preValidation', async (request: FastifyRequest) => {
    const bodySchema = request.routeOptions.schema?.body as Record<string, unknown> | undefined;
    if (bodySchema === undefined) return;
    if (bodySchema['x-body-optional'] === true && request.body === undefined) return;
    // merge-patch+json is a PATCH media type; elsewhere it is unsupported.
    if (mediaType(request) === MERGE_PATCH && request.method !== 'PATCH') {
      throw new ApiError('unsupported_media_type');
    }
    // No body and no Content-Type would reach validation as `undefined` (a 422).
    if (request.body === undefined)
      throw new ApiError('malformed_json', { detail: 'The request body is empty' });
  });
}
