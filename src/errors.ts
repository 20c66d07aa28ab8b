/**
 * The error catalogue: every problem type the API can answer, with its HTTP status, a title for
 * people and a description served at GET /problems/{slug}. `code` is the stable machine name.
 */
export const PROBLEMS = {
  malformed_json: {
    status: 400,
    title: 'The request body is not valid JSON',
    description:
      'The body could not be parsed as JSON, was empty on a route that takes a body, was not valid UTF-8, held the same key twice in one object, nested objects and arrays deeper than 64 levels, or held a __proto__ or constructor.prototype key.',
  },
  validation_failed: {
    status: 422,
    title: 'Your request is not valid',
    description:
      'One or more fields of the body, path or query failed validation. errors[] lists every invalid field with a JSON Pointer and an item code.',
  },
  unauthorized: {
    status: 401,
    title: 'Authentication required',
    description: 'The route needs credentials: a bearer access token or an API key.',
  },
  invalid_token: {
    status: 401,
    title: 'The credentials are not valid',
    description: 'The token or API key is malformed, forged, unknown, expired (keys) or revoked (keys).',
  },
  token_expired: {
    status: 401,
    title: 'The access token has expired',
    description: 'The access token was validly signed but is past its expiry. Refresh it and try again.',
  },
  token_revoked: {
    status: 401,
    title: 'The session has ended',
    description: 'The token belongs to a session that was logged out or ended. Log in again.',
  },
  account_disabled: {
    status: 403,
    title: 'The account is disabled',
    description:
      'The account has been disabled by an administrator. Login answers 403; tokens and keys of the account answer 401.',
  },
  forbidden: {
    status: 403,
    title: 'You are not allowed to do this',
    description:
      'The caller is authenticated but its role, API-key scope or relation to the resource does not allow this.',
  },
  not_found: {
    status: 404,
    title: 'Not found',
    description: 'Nothing is here, or the caller may not see it.',
  },
  method_not_allowed: {
    status: 405,
    title: 'Method not allowed',
    description:
      'The path exists but does not take this method. The Allow header lists the methods it takes.',
  },
  request_timeout: {
    status: 408,
    title: 'The request took too long',
    description: 'The client did not send the whole request in time.',
  },
  conflict: {
    status: 409,
    title: 'The request conflicts with the current state',
    description: 'The change conflicts with the current state of the resource.',
  },
  last_admin: {
    status: 409,
    title: 'The last admin must stay',
    description: 'The change would leave no enabled admin.',
  },
  last_owner: {
    status: 409,
    title: 'The last owner must stay',
    description:
      'The change would leave a project without an owner: make another member owner first. Admins act as owners but do not count.',
  },
  project_archived: {
    status: 409,
    title: 'The project is archived',
    description: 'An archived project is read-only: it accepts only PATCH {"archived": false} and DELETE.',
  },
  email_taken: {
    status: 409,
    title: 'The email is already registered',
    description: 'An account with this email already exists.',
  },
  registration_closed: {
    status: 403,
    title: 'Registration is closed',
    description: 'This service does not accept new registrations (REGISTRATION=closed).',
  },
  invalid_credentials: {
    status: 401,
    title: 'Invalid email or password',
    description:
      'The email and password do not match an account. The reply is the same whether or not the account exists.',
  },
  current_password_incorrect: {
    status: 403,
    title: 'The current password is incorrect',
    description: 'Changing a password requires the current one.',
  },
  weak_password: {
    status: 422,
    title: 'The password is too weak',
    description: 'The password is on the list of common passwords or contains the local part of the email.',
  },
  refresh_token_reused: {
    status: 401,
    title: 'The refresh token was already used',
    description:
      'A spent refresh token was presented again; the whole session has been ended as a precaution.',
  },
  refresh_token_expired: {
    status: 401,
    title: 'The refresh token has expired',
    description: 'The refresh token is past its lifetime. Log in again.',
  },
  invalid_reset_token: {
    status: 400,
    title: 'The password-reset token is not valid',
    description: 'The reset token is unknown, already used or expired. Ask for a new link.',
  },
  invalid_cursor: {
    status: 400,
    title: 'The cursor is not valid',
    description:
      'The cursor is malformed, forged, or was issued for another caller, filter or sort; or an event id (after, Last-Event-ID) is malformed.',
  },
  events_expired: {
    status: 410,
    title: 'These events are no longer available',
    description:
      'The event id is older than the retention (EVENTS_RETENTION), newer than the head, or from another database. Resynchronise: read GET /events/head, then the lists, then follow the feed from the head.',
  },
  precondition_failed: {
    status: 412,
    title: 'The resource has changed',
    description: 'If-Match did not match the current ETag. The reply carries the current ETag.',
  },
  payload_too_large: {
    status: 413,
    title: 'The request body is too large',
    description: 'The body is larger than this route accepts.',
  },
  unsupported_media_type: {
    status: 415,
    title: 'Unsupported content type',
    description: 'Send application/json (PATCH also takes application/merge-patch+json).',
  },
  headers_too_large: {
    status: 431,
    title: 'The request headers are too large',
    description: 'The request headers exceed 16 KiB.',
  },
  rate_limited: {
    status: 429,
    title: 'Too many requests',
    description: 'A rate limit applies. Retry-After says how many seconds to wait.',
  },
  invalid_idempotency_key: {
    status: 400,
    title: 'The Idempotency-Key header is not valid',
    description: 'An Idempotency-Key is 1–255 printable ASCII characters, bare or as a quoted string.',
  },
  idempotency_key_reused: {
    status: 422,
    title: 'The Idempotency-Key was used for another request',
    description: 'The same key was sent earlier with another body or to another route.',
  },
  idempotency_in_progress: {
    status: 409,
    title: 'A request with this Idempotency-Key is still running',
    description: 'Retry after the first request has finished.',
  },
  not_ready: {
    status: 503,
    title: 'The service is not ready',
    description: 'A dependency does not answer, or the service is shutting down.',
  },
  overloaded: {
    status: 503,
    title: 'The service is overloaded',
    description: 'The service is under too much load. Retry-After says when to try again.',
  },
  internal_error: {
    status: 500,
    title: 'Something went wrong on our side',
    description: 'An unexpected error. The request id in the reply identifies it in our logs.',
  },
} as const satisfies Record<string, { status: number; title: string; description: string }>;

export type ProblemCode = keyof typeof PROBLEMS;

export const PROBLEM_CODES = Object.keys(PROBLEMS) as ProblemCode[];

/** `validation_failed` → `validation-failed`: the slug in a problem's `type` URI. */
export function problemSlug(code: ProblemCode): string {
  return code.replaceAll('_', '-');
}

export function problemFromSlug(slug: string): ProblemCode | null {
  const code = slug.replaceAll('-', '_');
  return Object.hasOwn(PROBLEMS, code) && !slug.includes('_') ? (code as ProblemCode) : null;
}

/** One invalid field of a 422: where (JSON Pointer), what (item code), and why (for people). */
export interface FieldError {
  pointer: string;
  code: string;
  detail: string;
}

interface ApiErrorOptions {
  detail?: string;
  /** When the route answers this code with another status (a token's account_disabled is 401). */
  status?: number;
  errors?: FieldError[];
  headers?: Record<string, string>;
  /** Extra members of the problem body (RFC 9457 extensions), e.g. OAuth2's `error`. */
  extensions?: Record<string, string>;
  cause?: unknown;
}

/** An error the API answers as problem+json with the catalogue's status for `code`. */
export class ApiError extends Error {
  readonly code: ProblemCode;
  readonly status: number;
  readonly detail: string;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  readonly extensions: Record<string, string>;

  constructor(code: ProblemCode, options: ApiErrorOptions = {}) {
    super(options.detail ?? PROBLEMS[code].title, { cause: options.cause });
    this.name = 'ApiError';
    this.code = code;
    this.status = options.status ?? PROBLEMS[code].status;
    this.detail = options.detail ?? PROBLEMS[code].title;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }
}

/** A 422 that lists every invalid field. */
export function validationFailed(errors: FieldError[]): ApiError {
  const n = errors.length;
  return new ApiError('validation_failed', {
    detail: `${n} field${n === 1 ? ' is' : 's are'} invalid`,
    errors,
  });
}

/** A 422 for one field, for rules checked after schema validation. */
export function fieldError(pointer: string, code: string, detail: string): ApiError {
  return validationFailed([{ pointer, code, detail }]);
}
