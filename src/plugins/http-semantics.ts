import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type {
  FastifyBodyParser,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
} from 'fastify';
import FindMyWay, { type HTTPMethod } from 'find-my-way';
import { ApiError } from '../errors.js';
import { type JsonShapeProblem, jsonShapeProblem, MAX_JSON_DEPTH } from '../lib/strict-json.js';
import { cachePolicyOf, markPrivate } from './cache-policy.js';
import { rawProblemReply } from './client-errors.js';
import { requestPath, sendProblem } from './problem-details.js';
import { corsReplyHeaders } from './security-headers.js';

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

interface PathMatch {
  /** The methods the path takes, for `Allow`; empty when the app serves no such path. */
  allow: string[];
  /**
   * Whether it serves one caller's data (a 405 is then `private, no-cache`, like the route's other
   * replies), as cache-policy.ts decides; any other 405 is an error of no lasting worth: `no-store`.
   */
  private: boolean;
}

/** Every path the app serves, with its methods and route templates, for 405 and OPTIONS answers. */
class PathMethods {
  private readonly router = FindMyWay({ ignoreTrailingSlash: false, maxParamLength: 500 });
  private readonly methods = new Set<string>();

  add(method: string, url: string): void {
    if (method === 'OPTIONS' || method === 'TRACE' || this.router.hasRoute(method as HTTPMethod, url)) return;
    this.methods.add(method);
    // The template is the route's store: the router decodes the path, so `%61uth` finds `auth`.
    this.router.on(method as HTTPMethod, url, () => {}, url);
  }

  match(path: string): PathMatch {
    const found = new Set<string>();
    let isPrivate = false;
    for (const method of this.methods) {
      const route = this.router.find(method as HTTPMethod, path);
      if (route === null) continue;
      found.add(method);
      if (cachePolicyOf(route.store as string) === 'private') isPrivate = true;
    }
    if (found.has('GET')) found.add('HEAD');
    if (found.size > 0) found.add('OPTIONS');
    return { allow: METHOD_ORDER.filter((m) => found.has(m)), private: isPrivate };
  }
}

function pathOf(request: FastifyRequest): string {
  const q = request.url.indexOf('?');
  return q === -1 ? request.url : request.url.slice(0, q);
}

type CallbackParser = (
  request: FastifyRequest,
  body: string,
  done: (error: Error | null, value?: unknown) => void,
) => void;

const SHAPE_DETAIL: Record<JsonShapeProblem, string> = {
  'duplicate-key': 'An object in the body holds the same key twice',
  'too-deep': `The body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`,
};

/**
 * JSON bodies (both media types): valid UTF-8 only, no key twice in one object, at most
 * MAX_JSON_DEPTH levels, then Fastify's own parser (secure-json-parse, which refuses `__proto__`
 * and `constructor.prototype`). Every failure is 400 malformed_json.
 */
export function strictJsonParser(app: FastifyInstance): FastifyBodyParser<Buffer> {
  // Typed as callback-or-promise; Fastify's default JSON parser is the callback kind.
  const parseJson = app.getDefaultJsonParser('error', 'error') as CallbackParser;
  return (request: FastifyRequest, body: Buffer, done: (error: Error | null, value?: unknown) => void) => {
    if (!isUtf8(body)) {
      done(new ApiError('malformed_json', { detail: 'The request body is not valid UTF-8' }), undefined);
      return;
    }
    const problem = jsonShapeProblem(body);
    if (problem !== null) {
      done(new ApiError('malformed_json', { detail: SHAPE_DETAIL[problem] }), undefined);
      return;
    }
    parseJson(request, body.toString('utf8'), done);
  };
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
  app.addContentTypeParser(['application/json', MERGE_PATCH], { parseAs: 'buffer' }, strictJsonParser(app));

  // CONNECT never reaches Fastify: Node hands it to 'connect' listeners and, without one, drops the
  // connection without a word. The service is no proxy: 405 with Allow on a path it serves, else 404.
  app.server.on('connect', (raw: IncomingMessage, socket: Duplex) => {
    const url = raw.url ?? '';
    const path = url.split('?')[0] ?? '';
    let allow: string[] = [];
    try {
      allow = paths.match(path).allow;
    } catch {
      // A path the router cannot decode names nothing.
    }
    const instance = requestPath(url);
    socket.end(
      allow.length > 0
        ? rawProblemReply(app.config.publicUrl, 'method_not_allowed', {
            instance,
            headers: { Allow: allow.join(', ') },
          })
        : rawProblemReply(app.config.publicUrl, 'not_found', { instance }),
    );
  });

  // Hot-path hooks are callback-style: an async hook costs a promise per request.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is refused with 400. Node's own check
    // (requireHostHeader, turned off in app.ts) answered it with a bare reply: no problem, no headers.
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      reply.header('connection', 'close');
      sendProblem(
        reply,
        new ApiError('malformed_json', { detail: 'An HTTP/1.1 request needs a Host header' }),
      );
      return;
    }
    // OPTIONS without a CORS preflight header, and a wrong method on a known path: answer before
    // any body is read, so a bad body cannot turn them into 400/413/415. (A hook that replies
    // does not call done.)
    if (request.method === 'OPTIONS') {
      // An OPTIONS reply, a preflight's included, is not cacheable (RFC 9110 §9.3.7; a preflight's
      // lifetime is Access-Control-Max-Age): no-store says so to every cache.
      const { allow } = paths.match(pathOf(request));
      reply.header('cache-control', 'no-store');
      if (!request.headers['access-control-request-method']) {
        // Answered before the CORS plugin's hook: its headers are written here.
        reply.headers(corsReplyHeaders(app, request.headers.origin));
        if (allow.length > 0) reply.code(204).header('allow', allow.join(', ')).send();
        else sendProblem(reply, new ApiError('not_found'));
        return;
      }
    } else if (request.is404) {
      // A path the app does not serve is answered here too, before its body is read: parsing
      // a megabyte of JSON for a 404 is work an anonymous caller should not be able to ask for.
      const match = paths.match(pathOf(request));
      const { allow } = match;
      reply.headers(corsReplyHeaders(app, request.headers.origin));
      if (match.private) markPrivate(reply);
      else reply.header('cache-control', 'no-store');
      if (allow.length > 0)
        sendProblem(reply, new ApiError('method_not_allowed', { headers: { allow: allow.join(', ') } }));
      else sendProblem(reply, new ApiError('not_found'));
      return;
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
