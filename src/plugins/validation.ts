import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifySchema, FastifySchemaCompiler } from 'fastify';
import { isEntityTagList } from '../lib/conditional.js';
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
const ANNOTATIONS = ['example', 'x-read-only', 'x-trim', 'x-lowercase', 'x-body-optional'];

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
  addFormats.default(ajv, ['email', 'uri', 'uuid', 'password', 'int32', 'int64']);
  ajv.addFormat('date-time', { type: 'string', validate: isDateTime });
  ajv.addFormat('entity-tags', { type: 'string', validate: isEntityTagList });
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

interface PropertySchema {
  type?: unknown;
  'x-trim'?: boolean;
  'x-lowercase'?: boolean;
  items?: { 'x-lowercase'?: boolean };
}

function propertiesOf(schema: unknown): Record<string, PropertySchema> {
  const props = (schema as { properties?: Record<string, PropertySchema> } | undefined)?.properties;
  return props && typeof props === 'object' ? props : {};
}

type Normalizer = (value: unknown) => unknown;

/**
 * What happens to a top-level body field before validation: titles and names (`x-trim`) are
 * trimmed of Unicode white space; tags (`x-lowercase` on the items) are lower-cased, so the
 * pattern and duplicate checks see what will be stored.
 */
function normalizerFor(prop: PropertySchema): Normalizer | null {
  if (prop['x-trim']) return (v) => (typeof v === 'string' ? trimWhiteSpace(v) : v);
  if (prop['x-lowercase']) return (v) => (typeof v === 'string' ? v.toLowerCase() : v);
  if (prop.items?.['x-lowercase']) {
    return (v) =>
      Array.isArray(v) ? v.map((item) => (typeof item === 'string' ? item.toLowerCase() : item)) : v;
  }
  return null;
}

function bodyValidator(ajv: Ajv, schema: unknown): ValidateFunction {
  const compiled = ajv.compile(schema as object);
  // A route whose body is optional (`x-body-optional`) takes no body at all as valid.
  const optional = (schema as Record<string, unknown>)['x-body-optional'] === true;
  const normalizers = Object.entries(propertiesOf(schema)).flatMap(([name, prop]) => {
    const normalize = normalizerFor(prop);
    return normalize ? [[name, normalize] as const] : [];
  });
  if (!optional && normalizers.length === 0) return compiled;
  const validate = ((data: unknown) => {
    // Fastify hands a missing body to the validator as null.
    if (optional && (data === undefined || data === null)) {
      validate.errors = null;
      return true;
    }
    if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
      const record = data as Record<string, unknown>;
      for (const [name, normalize] of normalizers) {
        if (Object.hasOwn(record, name)) record[name] = normalize(record[name]);
      }
    }
    const ok = compiled(data);
    validate.errors = compiled.errors;
    return ok;
  }) as ValidateFunction;
  return validate;
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
