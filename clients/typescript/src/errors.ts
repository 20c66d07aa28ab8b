import type { components } from './generated/v2.js';

export type Problem = components['schemas']['Problem'];
export type FieldError = components['schemas']['FieldError'];
/** A problem code the contract lists, or `http_<status>` for a reply that was not problem+json. */
export type ProblemCode = Problem['code'] | `http_${number}`;

/** An error reply of the API (RFC 9457 problem details), thrown by the client's helpers. */
export class ProblemError extends Error {
  readonly status: number;
  readonly code: ProblemCode;
  readonly title: string;
  readonly detail: string;
  readonly type: string | null;
  readonly requestId: string | null;
  /** The invalid fields of a 422 (JSON Pointers into the body, or `/query/…`, `/header/…`). */
  readonly errors: FieldError[];
  readonly headers: Headers;

  constructor(status: number, body: unknown, headers: Headers) {
    const problem = isProblem(body) ? body : null;
    const title = problem?.title ?? `HTTP ${status}`;
    super(problem ? `${status} ${problem.code}: ${problem.detail}` : title);
    this.name = 'ProblemError';
    this.status = status;
    this.code = problem?.code ?? `http_${status}`;
    this.title = title;
    this.detail = problem?.detail ?? (typeof body === 'string' ? body.slice(0, 500) : '');
    this.type = problem?.type ?? null;
    this.requestId = problem?.requestId ?? headers.get('x-request-id');
    this.errors = problem?.errors ?? [];
    this.headers = headers;
  }
}

/** A 412 `precondition_failed`: the resource changed since its ETag was read. */
export class PreconditionFailedError extends ProblemError {
  /** The resource's current ETag, from the 412 reply: read it again and decide. */
  readonly currentETag: string | null;

  constructor(status: number, body: unknown, headers: Headers) {
    super(status, body, headers);
    this.name = 'PreconditionFailedError';
    this.currentETag = headers.get('etag');
  }
}

function isProblem(body: unknown): body is Problem {
  const b = body as Partial<Problem> | null;
  return typeof b === 'object' && b !== null && typeof b.code === 'string' && typeof b.status === 'number';
}

/** The error of a reply already read (`body` is its parsed JSON, or its text). */
export function problemOf(response: Response, body: unknown): ProblemError {
  return response.status === 412
    ? new PreconditionFailedError(response.status, body, response.headers)
    : new ProblemError(response.status, body, response.headers);
}

/** Reads an error reply's body and makes its error. */
export async function readProblem(response: Response): Promise<ProblemError> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's page, say): the text is the detail.
  }
  return problemOf(response, body);
}
