import type { FastifySchemaValidationError } from 'fastify';
import type { FieldError } from '../errors.js';

/** Turns Ajv errors into the contract's `errors[]`: JSON Pointers, stable item codes, plain details. */

export const MAX_FIELD_ERRORS = 50;

const PREFIX: Record<string, string> = {
  body: '',
  querystring: '/query',
  params: '/path',
  headers: '/header',
};

function escapePointerToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

interface VerboseError extends FastifySchemaValidationError {
  parentSchema?: Record<string, unknown>;
}

function describe(error: VerboseError): { code: string; detail: string; child?: string } {
  const p = error.params;
  const limit = p.limit as number;
  const chars = (n: number) => `${n} character${n === 1 ? '' : 's'}`;
  const items = (n: number) => `${n} item${n === 1 ? '' : 's'}`;
  switch (error.keyword) {
    case 'required':
      return { code: 'required', detail: 'is required', child: String(p.missingProperty) };
    case 'additionalProperties': {
      const name = String(p.additionalProperty);
      const readOnly = error.parentSchema?.['x-read-only'];
      if (Array.isArray(readOnly) && readOnly.includes(name)) {
        return { code: 'read_only', detail: 'is read-only', child: name };
      }
      return { code: 'unknown_field', detail: 'is not a known field', child: name };
    }
    case 'type':
      return { code: 'type', detail: `must be of type ${String(p.type).replace(',', ' or ')}` };
    case 'format':
      if (p.format === 'date-time') return { code: 'format', detail: 'must be an RFC 3339 date-time' };
      if (p.format === 'entity-tags')
        return { code: 'format', detail: 'must be * or a list of quoted entity tags, such as "3"' };
      return { code: 'format', detail: `must be a valid ${String(p.format)}` };
    case 'enum':
    case 'const': {
      const allowed = (p.allowedValues as unknown[] | undefined) ?? [p.allowedValue];
      return { code: 'enum', detail: `must be one of: ${allowed.map(String).join(', ')}` };
    }
    case 'minLength':
      return { code: 'too_short', detail: `must have at least ${chars(limit)}` };
    case 'maxLength':
      return { code: 'too_long', detail: `must have at most ${chars(limit)}` };
    case 'minItems':
      return { code: 'too_short', detail: `must have at least ${items(limit)}` };
    case 'maxItems':
      return { code: 'too_long', detail: `must have at most ${items(limit)}` };
    case 'minimum':
    case 'exclusiveMinimum':
      return { code: 'too_small', detail: `must be ${String(p.comparison)} ${limit}` };
    case 'maximum':
    case 'exclusiveMaximum':
      return { code: 'too_large', detail: `must be ${String(p.comparison)} ${limit}` };
    case 'pattern':
      return { code: 'pattern', detail: 'contains characters or a form that is not allowed' };
    case 'uniqueItems':
      // Point at the later of the two equal items.
      return {
        code: 'duplicate',
        detail: 'repeats an earlier item',
        child: String(Math.max(Number(p.i), Number(p.j))),
      };
    case 'x-single':
      return { code: 'duplicate', detail: 'must be given at most once' };
    default:
      return { code: 'invalid', detail: error.message ?? 'is invalid' };
  }
}

// Wrapper keywords whose own error only repeats what the branch errors at the same place say.
const WRAPPERS = new Set(['anyOf', 'oneOf', 'allOf', 'if', 'not']);

export function toFieldErrors(
  errors: readonly FastifySchemaValidationError[],
  context: string,
): FieldError[] {
  const prefix = PREFIX[context] ?? '';
  const byPointer = new Map<string, FieldError>();
  // The specific errors first, then the wrappers'; stop at the cap, so thousands of errors (a body
  // of unknown keys) cost no more than the entries reported.
  for (const wrappers of [false, true]) {
    for (const error of errors) {
      if (byPointer.size >= MAX_FIELD_ERRORS) break;
      if (WRAPPERS.has(error.keyword) !== wrappers) continue;
      const { code, detail, child } = describe(error as VerboseError);
      const pointer =
        prefix + error.instancePath + (child === undefined ? '' : `/${escapePointerToken(child)}`);
      // One entry per field: the first (most specific) problem found for it.
      if (!byPointer.has(pointer)) byPointer.set(pointer, { pointer, code, detail });
    }
  }
  return [...byPointer.values()];
}
