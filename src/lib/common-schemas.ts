import { Type } from '@sinclair/typebox';
import { PROBLEM_CODES, PROBLEMS } from '../errors.js';
import { SAFE_TEXT_PATTERN } from './text.js';
import { MAX_FIELD_ERRORS } from './validation-errors.js';

/** Schemas shared by many routes, registered once with app.addSchema and referenced by $id. */

export const FieldErrorSchema = Type.Object(
  {
    pointer: Type.String({
      // It may name a key of the request as sent: within the largest BODY_LIMIT_BYTES, each
      // character escaped (RFC 6901 doubles `~` and `/`).
      maxLength: 209_715_200,
      format: 'json-pointer',
      description: 'JSON Pointer (RFC 6901) to the invalid value',
    }),
    code: Type.String({
      maxLength: 40,
      pattern: '^[a-z_]+$',
      description: 'item code, e.g. required, too_short',
    }),
    detail: Type.String({ maxLength: 500, pattern: SAFE_TEXT_PATTERN }),
  },
  { $id: 'FieldError', additionalProperties: false },
);

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ format: 'uri', maxLength: 500 }),
    title: Type.String({ maxLength: 200, pattern: SAFE_TEXT_PATTERN }),
    status: Type.Integer({ minimum: 400, maximum: 599, format: 'int32' }),
    detail: Type.String({ maxLength: 2000, pattern: SAFE_TEXT_PATTERN }),
    // The request path as received: Node lets `{`, `|`, `"`, `<`, `>` through, so it is not always
    // a valid URI reference, but only visible ASCII reaches us, within the 16 KiB header limit.
    instance: Type.String({ maxLength: 16_384, pattern: '^[!-~]+$', description: 'the request path' }),
    code: Type.String({ enum: PROBLEM_CODES }),
    requestId: Type.String({ maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' }),
    errors: Type.Optional(Type.Array(Type.Ref(FieldErrorSchema), { maxItems: MAX_FIELD_ERRORS })),
    error: Type.Optional(
      Type.String({
        enum: ['invalid_request', 'invalid_grant', 'unsupported_grant_type'],
        description: 'RFC 6749 §5.2',
      }),
    ),
    error_description: Type.Optional(
      Type.String({ maxLength: 500, pattern: SAFE_TEXT_PATTERN, description: 'RFC 6749 §5.2' }),
    ),
  },
  {
    $id: 'Problem',
    additionalProperties: false,
    description: 'RFC 9457 problem details',
    examples: [
      {
        type: 'http://127.0.0.1:3000/problems/validation-failed',
        title: PROBLEMS.validation_failed.title,
        status: 422,
        detail: '1 field is invalid',
        instance: '/api/v1/tasks',
        code: 'validation_failed',
        requestId: '01935c1e-7a4f-7cc2-a0c3-0c8f4a9e1b2d',
        errors: [{ pointer: '/title', code: 'too_short', detail: 'must have at least 1 character' }],
      },
    ],
  },
);

const STATUS_TEXT: Record<number, string> = {
  400: 'Malformed request (problem details)',
  401: 'Missing or invalid credentials (problem details)',
  403: 'Not allowed (problem details)',
  404: 'Not found, or not visible to the caller (problem details)',
  405: 'Method not allowed; see Allow (problem details)',
  408: 'The body did not arrive within REQUEST_TIMEOUT (problem details)',
  409: 'Conflict (problem details)',
  412: 'If-Match failed; the reply carries the current ETag (problem details)',
  413: 'Body too large (problem details)',
  415: 'Unsupported content type (problem details)',
  422: 'Validation failed; errors[] lists every invalid field (problem details)',
  429: 'Rate limited; see Retry-After (problem details)',
  500: 'Unexpected error (problem details)',
  503: 'Not ready (not_ready: the database does not answer or is locked, or the service is shutting down) or overloaded (overloaded); retry after Retry-After seconds (problem details)',
};

/** Response entries for error statuses, all problem+json. */
export function problemResponses(...statuses: number[]): Record<number, unknown> {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: STATUS_TEXT[status] ?? 'Problem details',
        content: { 'application/problem+json': { schema: Type.Ref(ProblemSchema) } },
      },
    ]),
  );
}

/**
 * A string enum as `{ type: 'string', enum }` (not a union of literals, which reports one error
 * per option), typed as the union of its values.
 */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: Record<string, unknown> = {},
) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** Every id the API shows or takes: opaque to clients (the server makes UUIDv7s). */
export const Id = Type.String({
  maxLength: 64,
  pattern: '^[A-Za-z0-9-]+$',
  description: 'opaque id (UUIDv7)',
});

/** A count or other non-negative integer: bounded, as clients in any language can hold it. */
export function Count(options: Record<string, unknown> = {}) {
  return Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, format: 'int64', ...options });
}
