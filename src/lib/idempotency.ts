import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.js';

/**
 * Idempotency-Key (contract §4), as the routes see it. A create route declares
 * `config.idempotency` and passes `recordReply(request, reply, respond)` to its service, which
 * calls the recorder as the last step of the transaction that makes the row: the reply is stored
 * with the row, or neither is. The idempotency module (modules/idempotency) reads the header,
 * claims the key before the handler runs, replays stored replies and releases the key when the
 * handler refuses or fails.
 */

export const IDEMPOTENCY_KEY_MAX = 255;

/**
 * The header's value, bare or as an RFC 8941 quoted string (`"abc"` is the key `abc`; `\"` and
 * `\\` are its escapes): 1–255 printable ASCII characters (space to `~`) once unquoted. A bare key
 * may not begin with a quote. Null when the value is anything else. One pass, no regex.
 */
export function parseIdempotencyKey(value: string): string | null {
  if (value.length === 0) return null;
  if (value.charCodeAt(0) !== 0x22) {
    if (value.length > IDEMPOTENCY_KEY_MAX) return null;
    for (let i = 0; i < value.length; i++) if (!isPrintable(value.charCodeAt(i))) return null;
    return value;
  }
  if (value.length < 3 || value.charCodeAt(value.length - 1) !== 0x22) return null;
  let key = '';
  for (let i = 1; i < value.length - 1; i++) {
    let code = value.charCodeAt(i);
    if (code === 0x22) return null;
    if (code === 0x5c) {
      i += 1;
      code = value.charCodeAt(i);
      if (i >= value.length - 1 || (code !== 0x22 && code !== 0x5c)) return null;
    } else if (!isPrintable(code)) return null;
    key += String.fromCharCode(code);
    if (key.length > IDEMPOTENCY_KEY_MAX) return null;
  }
  return key;
}

function isPrintable(code: number): boolean {
  return code >= 0x20 && code <= 0x7e;
}

/** The header's syntax as a regular expression, for the OpenAPI documents (parseIdempotencyKey decides). */
export const IDEMPOTENCY_KEY_PATTERN = '^(?:[ !#-~][ -~]{0,254}|"(?:[ !#-\\[\\]-~]|\\\\["\\\\]){1,255}")$';

/**
 * JSON with the keys of every object sorted (arrays keep their order): two bodies that parse to
 * the same value have the same text, whatever their white space and key order.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Who a key belongs to: the authenticated user, or (POST /auth/register) the client's address. */
export interface IdempotencyPolicy {
  caller: 'user' | 'client-ip';
}

/** A reply as it is stored and replayed. */
export interface StoredReply {
  status: number;
  /** Lower-case names: location, etag. */
  headers: Record<string, string>;
  /** The JSON body exactly as it was sent. */
  body: string;
}

/** The key a request holds while its handler runs (set by the idempotency module's hook). */
export interface IdempotencyClaim {
  /** Stores the reply in `trx`; throws 409 `idempotency_in_progress` when the lease was taken over. */
  complete(trx: Transaction<Database>, reply: StoredReply): Promise<void>;
}

/** What a service calls with its result, as the last step of the transaction that makes it. */
export type ReplyRecorder<T> = (trx: Transaction<Database>, result: T) => Promise<void>;

/** A create's reply, as a function of the created resource: one definition sends and stores it. */
export interface CreatedReply<B extends object> {
  status: number;
  headers: Record<string, string>;
  body: B;
}

/** The headers a replay repeats (the others are the replay's own: request id, rate limits, caching). */
const REPLAYED_HEADERS = ['location', 'etag'];

/**
 * The recorder of a request that holds an Idempotency-Key (undefined without one): it stores the
 * reply `respond` makes of the result, serialized by the route's own response schema, so a replay
 * sends the bytes the first request sent.
 */
export function recordReply<T, B extends object>(
  request: FastifyRequest,
  reply: FastifyReply,
  respond: (result: T) => CreatedReply<B>,
): ReplyRecorder<T> | undefined {
  const claim = request.idempotency;
  if (!claim) return undefined;
  return async (trx, result) => {
    const { status, headers, body } = respond(result);
    const kept: Record<string, string> = {};
    for (const name of REPLAYED_HEADERS) if (headers[name] !== undefined) kept[name] = headers[name];
    await claim.complete(trx, { status, headers: kept, body: serialized(reply, status, body) });
  };
}

/** Sends a create's reply (the same one recordReply stored). */
export function sendCreated<B extends object>(reply: FastifyReply, created: CreatedReply<B>): B {
  reply.code(created.status).headers(created.headers);
  return created.body;
}

/**
 * The body as Fastify will send it: the route's serializer for the status, which is a schema per
 * media type (`content`) on some routes and one schema on others.
 */
function serialized(reply: FastifyReply, status: number, body: object): string {
  const input = body as Record<string, unknown>;
  try {
    return reply.serializeInput(input, String(status), 'application/json') as string;
  } catch (error) {
    if ((error as { code?: string }).code !== 'FST_ERR_MISSING_CONTENTTYPE_SERIALIZATION_FN') throw error;
    return reply.serializeInput(input, String(status)) as string;
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route takes Idempotency-Key (contract §4); absent on every other route. */
    idempotency?: IdempotencyPolicy;
  }
  interface FastifyRequest {
    /** The key this request holds while its handler runs; null without one (or on a replay). */
    idempotency: IdempotencyClaim | null;
  }
}

/** `config.idempotency` of the create routes of an authenticated caller: its keys are its own. */
export const IDEMPOTENT: IdempotencyPolicy = { caller: 'user' };
/** `config.idempotency` of POST /auth/register: the caller is the client's address (request.ip). */
export const IDEMPOTENT_BY_CLIENT_IP: IdempotencyPolicy = { caller: 'client-ip' };

/** The request header, for the OpenAPI documents (the hook checks it, so a bad one is a 400, not a 422). */
export const IDEMPOTENCY_KEY_HEADER = {
  type: 'string',
  minLength: 1,
  maxLength: 512,
  pattern: IDEMPOTENCY_KEY_PATTERN,
  example: '"7c0b4e2a-create-task"',
  description:
    'Makes the create safe to retry: 1–255 printable ASCII characters, bare or as a quoted string ("abc" and abc are one key); else 400 invalid_idempotency_key.',
} as const;

/** The reply header of a replay. */
export const IDEMPOTENT_REPLAYED_HEADER = {
  'Idempotent-Replayed': {
    type: 'string',
    enum: ['true'],
    maxLength: 4,
    description:
      'true when this reply is the stored reply of an earlier request with the same Idempotency-Key',
  },
} as const;

/** What every idempotent route's description adds (contract §4). */
export const IDEMPOTENCY_DESCRIPTION =
  '**Idempotency-Key** (optional): a retry with the same key and the same request within 24 hours replays the first reply (same status and body, same `Location` and `ETag`, plus `Idempotent-Replayed: true`) and creates nothing. A key belongs to its caller (the user, whatever token or API key it uses; on register, the client IP address). The same request means the same method, route (the version and the path parameters included) and body, compared as the parsed JSON in the form the service reads it: white space, key order, the spaces trimmed from names and titles, and the offset of a date-time do not matter. The key with another request → 422 `idempotency_key_reused`; while the first request runs → 409 `idempotency_in_progress` with `Retry-After` (the key of a request that crashed is free again after 60 seconds). Only a success is stored: a refusal (4xx) or a failure (5xx) creates nothing and frees the key, so a retry with it is decided afresh; replies that never reach the handler (401, 403, 413, 415, a schema 422, 429) claim nothing.';
