import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifySchema, FastifySchemaCompiler } from 'fastify';
import { isDateTime } from '../lib/date-time.js';
import { PASSWORD_MAX, PASSWORD_MIN, passwordLength } from '../lib/password-policy.js';
import { trimWhiteSpace } from '../lib/text.js';

/**
 * Request validation without Fastify's defaults (which coerce body types, strip unknown fields and
 * stop at the first error). Bodies: no coercion, no removal, every error. Query and path: strings
 * coerced to the declared scalar types; comma lists split before validation; a single-valued
 * parameter given twice is an error of its own.
 */

// Keywords our schemas carry for the OpenAPI document or for the pre-validation steps below.
const ANNOTATIONS = ['example', 'x-read-only', 'x-trim', 'x-body-optional'];

function createAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    coerceTypes: coerce,
    removeAdditional: false,
    useDefaults: true,
    verbose: true, // errors carry parentSchema: needed to tell read-only fields from unknown ones
    strict: false,
    unicodeRegExp: true,
  });
  addFormats.default(ajv, ['email', 'uri', 'uuid', 'password']);
  ajv.addFormat('date-time', { type: 'string', validate: isDateTime });
  ajv.addVocabulary(ANNOTATIONS);
  ajv.addKeyword({
    keyword: 'x-password',
    type: 'string',
    schemaType: 'boolean',
    errors: true,
    validate: checkPassword,
  });
  return ajv;
}

type KeywordCheck = ((schema: boolean, data: string) => boolean) & { errors?: Partial<ErrorObject>[] };

/** Passwords are counted in code points after NFC, which the plain length keywords cannot do. */
const checkPassword: KeywordCheck = (_schema, data) => {
  const length = passwordLength(data);
  const tooShort = length < PASSWORD_MIN;
  if (!tooShort && length <= PASSWORD_MAX) return true;
  const limit = tooShort ? PASSWORD_MIN : PASSWORD_MAX;
  checkPassword.errors = [
    { keyword: tooShort ? 'minLength' : 'maxLength', params: { limit }, message: 'length' },
  ];
  return false;
};

interface ObjectSchema {
  type?: unknown;
  properties?: Record<string, { type?: unknown; 'x-trim'?: boolean }>;
}

function propertiesOf(schema: unknown): Record<string, { type?: unknown; 'x-trim'?: boolean }> {
  const props = (schema as ObjectSchema | undefined)?.properties;
  return props && typeof props === 'object' ? props : {};
}

/** Trims the top-level string fields marked `x-trim` (titles and names) before validation. */
function bodyValidator(ajv: Ajv, schema: unknown): ValidateFunction {
  const compiled = ajv.compile(schema as object);
  // A route whose body is optional (`x-body-optional`) takes no body at all as valid.
  const optional = (schema as Record<string, unknown>)['x-body-optional'] === true;
  const validate = optional
    ? (Object.assign(
        (data: unknown) => {
          // Fastify hands a missing body to the validator as null.
          const absent = data === undefined || data === null;
          const ok = absent || compiled(data);
          validate.errors = absent ? null : compiled.errors;
          return ok;
        },
        { errors: null },
      ) as unknown as ValidateFunction)
    : compiled;
  const trimmed = Object.entries(propertiesOf(schema))
    .filter(([, prop]) => prop['x-trim'] === true)
    .map(([name]) => name);
  if (trimmed.length === 0) return validate;
  const wrapped = ((data: unknown) => {
    if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
      const record = data as Record<string, unknown>;
      for (const name of trimmed) {
        const value = record[name];
        if (typeof value === 'string') record[name] = trimWhiteSpace(value);
      }
    }
    const ok = validate(data);
    wrapped.errors = validate.errors;
    return ok;
  }) as ValidateFunction;
  return wrapped;
}

/** Query strings: split comma lists, and report a repeated single-valued parameter. */
function queryValidator(ajv: Ajv, schema: unknown): ValidateFunction {
  const validate = ajv.compile(schema as object);
  const props = propertiesOf(schema);
  const wrapped = ((data: unknown) => {
    const extra: ErrorObject[] = [];
    if (data !== null && typeof data === 'object') {
      const record = data as Record<string, unknown>;
      for (const [name, value] of Object.entries(record)) {
        const prop = props[name];
        if (!prop) continue;
        if (prop.type === 'array') {
          const parts = (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(','));
          record[name] = parts;
        } else if (Array.isArray(value)) {
          delete record[name];
          extra.push({
            instancePath: `/${name}`,
            schemaPath: '#/x-single',
            keyword: 'x-single',
            params: {},
            message: 'must be given at most once',
          });
        }
      }
    }
    const ok = validate(data);
    const errors = [...extra, ...(validate.errors ?? [])];
    wrapped.errors = errors.length > 0 ? errors : null;
    return ok && extra.length === 0;
  }) as ValidateFunction;
  return wrapped;
}

export function installValidation(app: FastifyInstance): void {
  const bodyAjv = createAjv(false);
  const stringAjv = createAjv(true);
  const compiler: FastifySchemaCompiler<FastifySchema> = ({ schema, httpPart }) => {
    if (httpPart === 'body') return bodyValidator(bodyAjv, schema);
    if (httpPart === 'querystring') return queryValidator(stringAjv, schema);
    return stringAjv.compile(schema as object);
  };
  app.setValidatorCompiler(compiler);
}
