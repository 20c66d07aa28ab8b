import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifySchema, FastifySchemaCompiler } from 'fastify';
import { isEntityTagList } from '../lib/conditional.js';
import { isDateTime, toIsoMillis } from '../lib/date-time.js';
import { isEmail } from '../lib/email.js';
import { PASSWORD_MAX, PASSWORD_MIN, passwordLength } from '../lib/password-policy.js';
import { isWhiteSpace, trimWhiteSpace } from '../lib/text.js';
import { MAX_FIELD_ERRORS } from '../lib/validation-errors.js';

/**
 * Request validation without Fastify's defaults (which coerce body types, strip unknown fields and
 * stop at the first error). Bodies: no coercion, no removal, every error. Query and path: strings
 * coerced to the declared scalar types; comma lists split before validation; a single-valued
 * parameter given twice is an error of its own. Also the one place input text is normalised
 * (textNormalizer, storedForm): services receive it trimmed, lower-cased, with canonical date-times.
 */

// Keywords our schemas carry for the OpenAPI document or for the pre-validation steps below.
const ANNOTATIONS = ['example', 'x-read-only', 'x-trim', 'x-lowercase', 'x-body-optional'];

/** One of the two Ajv instances (exported so tests can measure the validators they compile). */
export function createAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    coerceTypes: coerce,
    removeAdditional: false,
    useDefaults: true,
    verbose: true, // errors carry parentSchema: needed to tell read-only fields from unknown ones
    // Stryker disable next-line BooleanLiteral: strict mode only warns about our schemas (no error), so either value validates alike
    strict: false,
    unicodeRegExp: true,
  });
  // Stryker disable next-line StringLiteral: 'password' only annotates (Ajv ignores an unknown format when not strict)
  addFormats.default(ajv, ['uri', 'uuid', 'password', 'int32', 'int64']);
  ajv.addFormat('date-time', { type: 'string', validate: isDateTime });
  // Ours, not ajv-formats': the check must accept exactly what normalizeEmail maps without aliases.
  ajv.addFormat('email', { type: 'string', validate: isEmail });
  ajv.addFormat('entity-tags', { type: 'string', validate: isEntityTagList });
  ajv.addVocabulary(ANNOTATIONS);
  ajv.addKeyword({
    keyword: 'x-password',
    type: 'string',
    schemaType: 'boolean',
    errors: true,
    validate: checkPassword,
  });
  ajv.addKeyword({
    keyword: 'x-not-blank',
    type: 'string',
    schemaType: 'boolean',
    errors: true,
    validate: checkNotBlank,
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

/**
 * Text kept as given (a comment's body) that must still hold a character that is not Unicode
 * White_Space: an all-blank value is too short, as a trimmed title is. One pass, no regex.
 */
const checkNotBlank: KeywordCheck = (_schema, data) => {
  for (let i = 0; i < data.length; i++) if (!isWhiteSpace(data.charCodeAt(i))) return true;
  checkNotBlank.errors = [{ keyword: 'minLength', params: { limit: 1 }, message: 'blank' }];
  return false;
};

interface PropertySchema {
  type?: unknown;
  format?: unknown;
  anyOf?: PropertySchema[];
  maxItems?: number;
  'x-trim'?: boolean;
  'x-lowercase'?: boolean;
  items?: { 'x-lowercase'?: boolean };
}

function propertiesOf(schema: unknown): Record<string, PropertySchema> {
  // Stryker disable next-line OptionalChaining: Fastify compiles a schema it has; ajv.compile refuses none first
  const props = (schema as { properties?: Record<string, PropertySchema> } | undefined)?.properties;
  // Stryker disable next-line LogicalOperator,ConditionalExpression: properties is an object or absent in every schema
  return props && typeof props === 'object' ? props : {};
}

type Normalizer = (value: unknown) => unknown;

/**
 * A list longer than its `maxItems` is invalid whatever its items hold, and `errors[]` reports at
 * most MAX_FIELD_ERRORS entries: Ajv (which with allErrors makes one error per bad item) is shown
 * no more items than could be reported, so 30,000 bad items cost what 70 do.
 */
function boundedItems(list: unknown[], maxItems: number | undefined): unknown[] {
  // Stryker disable next-line ConditionalExpression: a shortcut; with no maxItems the limit is NaN and the list stays whole
  if (maxItems === undefined) return list;
  const limit = maxItems + MAX_FIELD_ERRORS;
  // Stryker disable next-line ConditionalExpression,EqualityOperator: slicing a list no longer than the limit copies it whole
  return list.length > limit ? list.slice(0, limit) : list;
}

/** A date-time, or a date-time or null (a union of the two). */
function isDateTimeProperty(prop: PropertySchema): boolean {
  // Stryker disable next-line ArrayDeclaration: a mutant's string in the empty list has no format
  return prop.format === 'date-time' || (prop.anyOf ?? []).some((branch) => branch.format === 'date-time');
}

/** A valid date-time in its canonical form (UTC, milliseconds). */
function canonicalDateTime(text: string): string {
  return isDateTime(text) ? toIsoMillis(text) : text;
}

/**
 * How a top-level text field (of a body or a query) is normalised before validation, so the
 * schema's checks see what will be stored: titles and names (`x-trim`) are trimmed of Unicode
 * white space, tags (`x-lowercase`) lower-cased.
 */
function textNormalizer(prop: PropertySchema): ((text: string) => string) | null {
  if (prop['x-trim']) return trimWhiteSpace;
  if (prop['x-lowercase']) return (text) => text.toLowerCase();
  return null;
}

/**
 * How a valid top-level text field is stored, after validation (the schema bounds what was sent):
 * date-times in their canonical form, so they compare as text.
 */
function storedForm(prop: PropertySchema): ((text: string) => string) | null {
  return isDateTimeProperty(prop) ? canonicalDateTime : null;
}

type Canonical = readonly (readonly [string, (text: string) => string])[];

function canonicalFields(props: Record<string, PropertySchema>): Canonical {
  return Object.entries(props).flatMap(([name, prop]) => {
    const form = storedForm(prop);
    return form ? [[name, form] as const] : [];
  });
}

/** After a successful validation: each field in its stored form. */
function canonicalize(data: unknown, fields: Canonical): void {
  // Stryker disable next-line ConditionalExpression,LogicalOperator: a shortcut; the loop below does nothing for no fields, and only valid objects get here
  if (fields.length === 0 || data === null || typeof data !== 'object') return;
  const record = data as Record<string, unknown>;
  for (const [name, form] of fields) {
    const value = record[name];
    // Stryker disable next-line ConditionalExpression: after validation a date-time field holds a string or null, and null is no date-time
    if (typeof value === 'string') record[name] = form(value);
  }
}

/**
 * What happens to a top-level body field before validation: its text normalised (textNormalizer),
 * the items of a list of tags (`x-lowercase` on the items) lower-cased, lists bounded (boundedItems).
 */
function normalizerFor(prop: PropertySchema): Normalizer | null {
  const text = textNormalizer(prop);
  if (text) return (v) => (typeof v === 'string' ? text(v) : v);
  const lowerItems = prop.items?.['x-lowercase'] === true;
  // Stryker disable next-line ConditionalExpression,LogicalOperator: a shortcut; bounding with no maxItems keeps the list whole
  if (lowerItems || (prop.type === 'array' && prop.maxItems !== undefined)) {
    return (v) => {
      if (!Array.isArray(v)) return v;
      const items = boundedItems(v, prop.maxItems);
      return lowerItems ? items.map((item) => (typeof item === 'string' ? item.toLowerCase() : item)) : items;
    };
  }
  return null;
}

/**
 * Like boundedItems, for an object that takes no other properties: past its own properties and
 * MAX_FIELD_ERRORS unknown ones, more keys only make errors nobody is shown. Ajv then sees a copy
 * with the known properties and the first unknown ones.
 */
function boundedKeys(record: Record<string, unknown>, known: Set<string>): Record<string, unknown> {
  const keys = Object.keys(record);
  // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: a shortcut; under the bound the copy holds every key
  if (keys.length <= known.size + MAX_FIELD_ERRORS) return record;
  // No prototype: a key such as `constructor` stays a plain own key (`__proto__` never gets here).
  const copy: Record<string, unknown> = Object.create(null);
  let unknown = 0;
  for (const key of keys) {
    if (known.has(key)) copy[key] = record[key];
    else if (unknown++ < MAX_FIELD_ERRORS) copy[key] = record[key];
  }
  return copy;
}

export function bodyValidator(ajv: Ajv, schema: unknown): ValidateFunction {
  const compiled = ajv.compile(schema as object);
  // A route whose body is optional (`x-body-optional`) takes no body at all as valid.
  const optional = (schema as Record<string, unknown>)['x-body-optional'] === true;
  const closed = (schema as Record<string, unknown>).additionalProperties === false;
  const known = new Set(Object.keys(propertiesOf(schema)));
  const normalizers = Object.entries(propertiesOf(schema)).flatMap(([name, prop]) => {
    const normalize = normalizerFor(prop);
    return normalize ? [[name, normalize] as const] : [];
  });
  const canonical = canonicalFields(propertiesOf(schema));
  // Stryker disable next-line ConditionalExpression: a shortcut; the wrapper does nothing more for such a schema
  if (!optional && !closed && normalizers.length === 0 && canonical.length === 0) return compiled;
  const validate = ((data: unknown) => {
    // Fastify hands a missing body to the validator as null.
    if (optional && (data === undefined || data === null)) {
      validate.errors = null;
      return true;
    }
    let subject = data;
    if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
      const record = data as Record<string, unknown>;
      for (const [name, normalize] of normalizers) {
        if (Object.hasOwn(record, name)) record[name] = normalize(record[name]);
      }
      if (closed) subject = boundedKeys(record, known);
    }
    const ok = compiled(subject);
    validate.errors = compiled.errors;
    if (ok) canonicalize(data, canonical);
    return ok;
  }) as ValidateFunction;
  return validate;
}

/** Query strings: split comma lists, report a repeated single-valued parameter, normalise text. */
export function queryValidator(ajv: Ajv, schema: unknown): ValidateFunction {
  const validate = ajv.compile(schema as object);
  const props = propertiesOf(schema);
  const canonical = canonicalFields(props);
  const wrapped = ((data: unknown) => {
    const extra: ErrorObject[] = [];
    if (data !== null && typeof data === 'object') {
      const record = data as Record<string, unknown>;
      for (const [name, value] of Object.entries(record)) {
        const prop = props[name];
        if (!prop) continue;
        if (prop.type === 'array') {
          const parts = (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(','));
          record[name] = boundedItems(parts, prop.maxItems);
        } else if (Array.isArray(value)) {
          delete record[name];
          extra.push({
            instancePath: `/${name}`,
            schemaPath: '#/x-single',
            keyword: 'x-single',
            params: {},
            message: 'must be given at most once',
          });
        } else if (typeof value === 'string') {
          const normalize = textNormalizer(prop);
          if (normalize) record[name] = normalize(value);
        }
      }
    }
    const ok = validate(data) && extra.length === 0;
    const errors = [...extra, ...(validate.errors ?? [])];
    wrapped.errors = errors.length > 0 ? errors : null;
    if (ok) canonicalize(data, canonical);
    return ok;
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
