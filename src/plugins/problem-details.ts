import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, PROBLEMS, type ProblemCode, problemSlug, validationFailed } from '../errors.js';
import {
  DATABASE_RETRY_AFTER_SECONDS,
  isConcurrentConflict,
  isDatabaseUnavailable,
} from '../lib/db-errors.js';
import { rateLimitedWarning } from '../lib/rate-limited-log.js';
import { toFieldErrors } from '../lib/validation-errors.js';
import { corsReplyHeaders, securityHeadersOf } from './security-headers.js';

/**
 * RFC 9457 problem details for every 4xx and 5xx: our own ApiErrors, Fastify's framework errors
 * (mapped by `code`), validation failures (422 with pointers) and anything unexpected (a bare 500).
 */

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: ProblemCode;
  requestId: string;
  errors?: { pointer: string; code: string; detail: string }[];
  [extension: string]: unknown;
}

export const BEARER_CHALLENGE = 'Bearer realm="taskforge"';

/**
 * The request's path without its query, as a URI reference (RFC 9457 `instance`): Node lets
 * characters such as `{ | " < >` through in the path, so those are percent-encoded.
 */
export function requestPath(url: string): string {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return path.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/gu, percentEncode);
}

const ASCII_ESCAPES = Array.from(
  { length: 128 },
  (_, i) => `%${i.toString(16).toUpperCase().padStart(2, '0')}`,
);

/**
 * The UTF-8 bytes of one character as %XX: a table for ASCII (the only kind Node lets into a
 * path), encodeURIComponent for the rest, and U+FFFD's bytes for a lone surrogate (which
 * encodeURIComponent refuses).
 */
function percentEncode(c: string): string {
  const unit = c.charCodeAt(0);
  // Stryker disable next-line ConditionalExpression: a table for speed; encodeURIComponent escapes the ASCII that reaches here alike
  if (unit < 128) return ASCII_ESCAPES[unit] ?? c;
  return c.length === 1 && unit >= 0xd800 && unit <= 0xdfff ? '%EF%BF%BD' : encodeURIComponent(c);
}

export function problemBody(
  publicUrl: string,
  error: ApiError,
  instance: string,
  requestId: string,
): ProblemBody {
  return {
    ...error.extensions,
    type: `${publicUrl}/problems/${problemSlug(error.code)}`,
    title: PROBLEMS[error.code].title,
    status: error.status,
    detail: error.detail,
    instance,
    code: error.code,
    requestId,
    ...(error.errors ? { errors: error.errors } : {}),
  };
}

export function sendProblem(reply: FastifyReply, error: ApiError): FastifyReply {
  const request = reply.request;
  const body = problemBody(request.server.config.publicUrl, error, requestPath(request.url), request.id);
  reply.code(error.status).headers(error.headers).type('application/problem+json');
  // RFC 6750 §3: every 401 names the scheme; the auth hook adds error="invalid_token" where a token was sent.
  if (error.status === 401 && !reply.hasHeader('www-authenticate'))
    reply.header('www-authenticate', BEARER_CHALLENGE);
  return reply.send(body);
}

const FRAMEWORK_CODES: Record<string, ProblemCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
  FST_ERR_NOT_FOUND: 'not_found',
  // A path that cannot be decoded, or a path parameter over the router's limit, names nothing.
  FST_ERR_BAD_URL: 'not_found',
  FST_ERR_MAX_PARAM_LENGTH: 'not_found',
};

/** Any thrown value → the ApiError the client sees. Unknown errors become a bare 500. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation) {
    // Path parameters are ids and slugs: a malformed one names nothing, so it is not found.
    if (fastifyError.validationContext === 'params') return new ApiError('not_found');
    return validationFailed(toFieldErrors(fastifyError.validation, fastifyError.validationContext ?? 'body'));
  }
  const mapped = fastifyError.code ? FRAMEWORK_CODES[fastifyError.code] : undefined;
  if (mapped) return new ApiError(mapped);
  // A body parse error from a parser of ours (e.g. the form parser) carries a 400.
  if (fastifyError.statusCode === 400 && error instanceof SyntaxError) return new ApiError('malformed_json');
  // The database is away or locked: the request may be retried as it is, once it is back.
  if (isDatabaseUnavailable(error)) {
    return new ApiError('not_ready', {
      detail: 'The database does not answer; retry in a few seconds',
      headers: { 'retry-after': String(DATABASE_RETRY_AFTER_SECONDS) },
      cause: error,
    });
  }
  if (isConcurrentConflict(error)) {
    return new ApiError('conflict', {
      detail: 'A concurrent change to the same data got in the way; retry the request',
      cause: error,
    });
  }
  return new ApiError('internal_error', { cause: error });
}

/**
 * Fastify's `frameworkErrors` option: errors it meets while routing (bad percent-encoding, an
 * over-long path parameter) are answered outside every hook, so the headers every reply carries
 * are written here. No route matched, so nothing tells a private reply from a cacheable one:
 * never store it.
 */
export function frameworkErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const apiError = toApiError(error);
  if (apiError.status >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.info({ code: apiError.code, frameworkCode: error.code }, 'request refused');
  reply.headers(securityHeadersOf(request.server));
  reply.headers(corsReplyHeaders(request.server, request.headers.origin));
  reply.header('x-request-id', request.id).header('cache-control', 'no-store');
  sendProblem(reply, apiError);
}

export function installProblemDetails(app: FastifyInstance): void {
  // A database outage fails every request alike: one line a minute says so, not one per request.
  const databaseDown = rateLimitedWarning(
    app.log,
    'the database does not answer: requests get 503 not_ready',
  );
  app.setErrorHandler((error, request: FastifyRequest, reply) => {
    const apiError = toApiError(error);
    if (apiError.code === 'not_ready') {
      // An outage or a shutdown, not a bug: no stack. Readiness logs its own changes of state.
      if (apiError.cause !== undefined && isDatabaseUnavailable(apiError.cause))
        databaseDown(apiError.cause as Error);
      request.log.info({ code: apiError.code, detail: apiError.detail }, 'request refused: not ready');
    } else if (apiError.status >= 500) {
      request.log.error({ err: error }, 'request failed');
    } else if (isConcurrentConflict(apiError.cause)) {
      // A lost race (see isConcurrentConflict): the client retries, but operators should see it.
      request.log.warn({ code: apiError.code, err: apiError.cause }, 'request lost a race');
    } else {
      request.log.info({ code: apiError.code }, 'request refused');
    }
    return sendProblem(reply, apiError);
  });
  app.setNotFoundHandler((_request, reply) => sendProblem(reply, new ApiError('not_found')));
}
