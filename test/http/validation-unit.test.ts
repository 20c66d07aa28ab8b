import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import { beforeEach, describe, expect, it } from 'vitest';
import { bodyValidator, createAjv, installValidation, queryValidator } from '../../src/plugins/validation.js';

/**
 * The validators of src/plugins/validation.ts on their own: what each one normalises before Ajv,
 * what it stores after, and the errors it adds. The same rules over HTTP: test/http/errors.test.ts.
 */

// Built in each test, not when the file loads: the mutation run (stryker.config.mjs) switches its
// mutant on only once tests start.
let bodyAjv: ReturnType<typeof createAjv>;
let queryAjv: ReturnType<typeof createAjv>;
beforeEach(() => {
  bodyAjv = createAjv(false);
  queryAjv = createAjv(true);
});

type Errors = { keyword: string; instancePath: string; params?: Record<string, unknown>; message?: string }[];

function run(validate: ReturnType<typeof bodyValidator>, data: unknown) {
  const ok = validate(data);
  return { ok, errors: (validate.errors ?? []) as Errors, data };
}

describe('createAjv', () => {
  it('reports every error, coerces only when asked, and removes nothing', () => {
    const schema = {
      type: 'object',
      properties: { n: { type: 'integer' }, s: { type: 'string', minLength: 3 } },
      additionalProperties: false,
    };
    const strict = bodyAjv.compile(schema);
    expect(strict({ n: '1', s: 'a', extra: 1 })).toBe(false);
    expect(strict.errors?.map((e) => e.keyword).sort()).toEqual([
      'additionalProperties',
      'minLength',
      'type',
    ]);
    const data = { n: '1' };
    expect(queryAjv.compile(schema)(data)).toBe(true);
    expect(data.n).toBe(1);
  });

  it('fills defaults and checks the formats of our own', () => {
    const validate = bodyAjv.compile({
      type: 'object',
      properties: {
        at: { type: 'string', format: 'date-time' },
        email: { type: 'string', format: 'email' },
        tags: { type: 'string', format: 'entity-tags' },
        id: { type: 'string', format: 'uuid' },
        page: { type: 'integer', default: 1 },
      },
    });
    const data: Record<string, unknown> = {};
    expect(validate(data)).toBe(true);
    expect(data.page).toBe(1);
    expect(validate({ at: '2026-01-01T00:00:60Z' })).toBe(false);
    expect(validate({ at: '2026-01-01T00:00:00Z' })).toBe(true);
    expect(validate({ email: 'no-at-sign' })).toBe(false);
    expect(validate({ email: 'a@example.com' })).toBe(true);
    expect(validate({ tags: 'not a tag' })).toBe(false);
    expect(validate({ tags: '"v1", W/"v2"' })).toBe(true);
    expect(validate({ id: 'nope' })).toBe(false);
    // Annotations are known keywords, not errors.
    expect(() =>
      bodyAjv.compile({ type: 'string', 'x-trim': true, example: 'x', 'x-read-only': true }),
    ).not.toThrow();
  });

  it('keeps parentSchema in errors, takes Unicode patterns, and checks the ajv-formats it adds', () => {
    const validate = bodyAjv.compile({ type: 'string', pattern: '^\\p{L}+$' });
    expect(validate('été')).toBe(true);
    expect(validate('a1')).toBe(false);
    expect(validate.errors?.[0]?.parentSchema).toEqual({ type: 'string', pattern: '^\\p{L}+$' });
    expect(bodyAjv.compile({ type: 'string', format: 'uri' })('not a uri')).toBe(false);
    expect(bodyAjv.compile({ type: 'string', format: 'uuid' })('0190a8f0-0000-7000-8000-000000000000')).toBe(
      true,
    );
    expect(bodyAjv.compile({ type: 'integer', format: 'int32' })(2 ** 31)).toBe(false);
    expect(bodyAjv.compile({ type: 'number', format: 'int64' })(1.5)).toBe(false);
  });

  it('applies our formats and keywords to strings only, and takes only booleans for the keywords', () => {
    for (const format of ['date-time', 'email', 'entity-tags'])
      expect(bodyAjv.compile({ format })(5)).toBe(true);
    expect(bodyAjv.compile({ 'x-password': true })(5)).toBe(true);
    expect(bodyAjv.compile({ 'x-not-blank': true })(5)).toBe(true);
    expect(() => bodyAjv.compile({ type: 'string', 'x-password': 'yes' })).toThrow();
    expect(() => bodyAjv.compile({ type: 'string', 'x-not-blank': 'yes' })).toThrow();
  });

  it('counts passwords in code points after NFC, between 12 and 128', () => {
    const validate = bodyAjv.compile({ type: 'string', 'x-password': true });
    const errors = (value: string) => {
      validate(value);
      return validate.errors?.map(({ keyword, params, message }) => ({ keyword, params, message }));
    };
    expect(validate('a'.repeat(12))).toBe(true);
    expect(validate('a'.repeat(128))).toBe(true);
    expect(validate('😀'.repeat(12))).toBe(true);
    expect(errors('a'.repeat(11))).toEqual([
      { keyword: 'minLength', params: { limit: 12 }, message: 'length' },
    ]);
    expect(errors('a'.repeat(129))).toEqual([
      { keyword: 'maxLength', params: { limit: 128 }, message: 'length' },
    ]);
  });

  it('refuses text that is all white space as too short', () => {
    const validate = bodyAjv.compile({ type: 'string', 'x-not-blank': true });
    expect(validate('  x  ')).toBe(true);
    expect(validate('x')).toBe(true);
    expect(validate(' \u0085\u3000\n')).toBe(false);
    expect(validate.errors?.map(({ keyword, params, message }) => ({ keyword, params, message }))).toEqual([
      { keyword: 'minLength', params: { limit: 1 }, message: 'blank' },
    ]);
    expect(validate('')).toBe(false);
  });
});

describe('bodyValidator', () => {
  const schema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      title: { type: 'string', minLength: 1, 'x-trim': true },
      tag: { type: 'string', 'x-lowercase': true },
      labels: { type: 'array', maxItems: 2, items: { type: 'string', 'x-lowercase': true } },
      ids: { type: 'array', maxItems: 1, items: { type: 'integer' } },
      anything: { type: 'array', items: {} },
      dueAt: { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }] },
      startAt: { type: 'string', format: 'date-time' },
      note: { anyOf: [{ type: 'string' }, { type: 'null' }] },
    },
  };
  let validate: ReturnType<typeof bodyValidator>;
  beforeEach(() => {
    validate = bodyValidator(bodyAjv, schema);
  });

  it('trims titles, lower-cases tags and tag lists, before validation', () => {
    const { ok, errors, data } = run(validate, {
      title: '\u3000 Write \u0085',
      tag: 'UrGent',
      labels: ['A', 3],
    });
    expect(data).toEqual({ title: 'Write', tag: 'urgent', labels: ['a', 3] });
    expect(ok).toBe(false);
    expect(errors.map((e) => e.instancePath)).toEqual(['/labels/1']);
    const blank = run(validate, { title: '   ' });
    expect(blank.ok).toBe(false);
    expect(blank.errors[0]?.keyword).toBe('minLength');
    // Values of other types reach Ajv as they are.
    expect(run(validate, { title: 5, tag: 5, labels: 'A' }).data).toEqual({ title: 5, tag: 5, labels: 'A' });
  });

  it('shows Ajv no more list items than maxItems plus the errors it could report', () => {
    const { ok, errors, data } = run(validate, { ids: Array.from({ length: 1000 }, () => 'x') });
    expect(ok).toBe(false);
    expect((data as { ids: unknown[] }).ids).toHaveLength(51);
    expect(errors.filter((e) => e.keyword === 'type')).toHaveLength(51);
    expect(errors.some((e) => e.keyword === 'maxItems')).toBe(true);
    const exact = run(validate, { ids: Array.from({ length: 51 }, (_, i) => i) });
    expect((exact.data as { ids: unknown[] }).ids).toHaveLength(51);
    const unbounded = run(validate, { anything: Array.from({ length: 60 }, (_, i) => i) });
    expect(unbounded.ok).toBe(true);
    expect((unbounded.data as { anything: unknown[] }).anything).toHaveLength(60);
  });

  it('shows Ajv no more unknown keys than it could report, known ones kept', () => {
    const body: Record<string, unknown> = { title: 'x' };
    for (let i = 0; i < 80; i++) body[`k${i}`] = i;
    const { ok, errors } = run(validate, body);
    expect(ok).toBe(false);
    expect(errors).toHaveLength(50);
    expect(errors.every((e) => e.keyword === 'additionalProperties')).toBe(true);
    expect(errors.map((e) => e.params?.additionalProperty)).toEqual(
      Array.from({ length: 50 }, (_, i) => `k${i}`),
    );
    const fewer: Record<string, unknown> = { title: 'x', constructor: 1 };
    for (let i = 0; i < 49; i++) fewer[`k${i}`] = i;
    expect(run(validate, fewer).errors).toHaveLength(50);
    const titleLast: Record<string, unknown> = {};
    for (let i = 0; i < 60; i++) titleLast[`k${i}`] = i;
    titleLast.title = '';
    expect(run(validate, titleLast).errors.some((e) => e.keyword === 'minLength')).toBe(true);
  });

  it('stores valid date-times in their canonical form, and only valid ones', () => {
    const { ok, data } = run(validate, {
      dueAt: '2026-03-01T10:00:00+02:00',
      startAt: '2026-03-01T10:00:00.5Z',
    });
    expect(ok).toBe(true);
    expect(data).toEqual({ dueAt: '2026-03-01T08:00:00.000Z', startAt: '2026-03-01T10:00:00.500Z' });
    const note = run(validate, { note: '2026-03-01T10:00:00+02:00' });
    expect(note).toMatchObject({ ok: true, data: { note: '2026-03-01T10:00:00+02:00' } });
    const nulled = run(validate, { dueAt: null });
    expect(nulled).toMatchObject({ ok: true, data: { dueAt: null } });
    const bad = run(validate, { dueAt: '2026-03-01T10:00:00+02:00', startAt: 'soon' });
    expect(bad.ok).toBe(false);
    expect(bad.data).toEqual({ dueAt: '2026-03-01T10:00:00+02:00', startAt: 'soon' });
  });

  it('passes arrays and scalars to Ajv untouched', () => {
    expect(run(validate, ['x']).ok).toBe(false);
    expect(run(validate, 'x').ok).toBe(false);
    expect(run(validate, null).ok).toBe(false);
  });

  it('takes no body as valid only where the body is optional', () => {
    const optional = bodyValidator(bodyAjv, { type: 'object', 'x-body-optional': true, properties: {} });
    expect(run(optional, undefined)).toMatchObject({ ok: true, errors: [] });
    expect(optional.errors).toBeNull();
    expect(run(optional, null).ok).toBe(true);
    expect(run(optional, 'x').ok).toBe(false);
    expect(run(bodyValidator(bodyAjv, { type: 'object', additionalProperties: false }), null).ok).toBe(false);
  });

  it('returns Ajv’s own validator when nothing needs doing before or after', () => {
    const plain = { type: 'object', properties: { n: { type: 'integer' } } };
    expect(bodyValidator(bodyAjv, plain)).toBe(bodyAjv.compile(plain));
  });
});

describe('queryValidator', () => {
  let validate: ReturnType<typeof queryValidator>;
  beforeEach(() => {
    validate = queryValidator(queryAjv, querySchema);
  });
  const querySchema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      status: { type: 'array', maxItems: 3, items: { type: 'string', enum: ['todo', 'done', 'doing'] } },
      q: { type: 'string', minLength: 1, 'x-trim': true },
      tag: { type: 'string', 'x-lowercase': true },
      limit: { type: 'integer' },
      since: { type: 'string', format: 'date-time' },
    },
  };

  it('splits comma lists, repeated or not, and bounds them', () => {
    expect(run(validate, { status: 'todo,done' })).toMatchObject({
      ok: true,
      data: { status: ['todo', 'done'] },
    });
    expect(run(validate, { status: ['todo', 'done,doing'] }).data).toEqual({
      status: ['todo', 'done', 'doing'],
    });
    const long = run(validate, { status: Array.from({ length: 100 }, () => 'todo').join(',') });
    expect(long.ok).toBe(false);
    expect((long.data as { status: unknown[] }).status).toHaveLength(53);
  });

  it('reports a single-valued parameter given twice, with the other errors', () => {
    const { ok, errors, data } = run(validate, { limit: ['1', '2'], q: '' });
    expect(ok).toBe(false);
    expect(data).toEqual({ q: '' });
    expect(errors[0]).toEqual({
      instancePath: '/limit',
      schemaPath: '#/x-single',
      keyword: 'x-single',
      params: {},
      message: 'must be given at most once',
    });
    expect(errors.map((e) => e.keyword)).toEqual(['x-single', 'minLength']);
    const alone = run(validate, { limit: ['1', '2'] });
    expect(alone.ok).toBe(false);
    expect(alone.errors.map((e) => e.keyword)).toEqual(['x-single']);
  });

  it('trims and lower-cases text, coerces numbers, canonicalises date-times, ignores unknown names', () => {
    const { ok, data, errors } = run(validate, {
      q: '  find me ',
      tag: 'HOT',
      limit: '5',
      since: '2026-01-01T00:00:00+01:00',
    });
    expect(errors).toEqual([]);
    expect(validate.errors).toBeNull();
    expect(ok).toBe(true);
    expect(data).toEqual({ q: 'find me', tag: 'hot', limit: 5, since: '2025-12-31T23:00:00.000Z' });
    const unknown = run(validate, { other: ['a', 'b'] });
    expect(unknown.ok).toBe(false);
    expect(unknown.errors.map((e) => e.keyword)).toEqual(['additionalProperties']);
    const invalid = run(validate, { since: 'yesterday' });
    expect(invalid).toMatchObject({ ok: false, data: { since: 'yesterday' } });
  });
});

describe('installValidation', () => {
  it('compiles bodies strictly, query strings and params with coercion', () => {
    let compiler: FastifySchemaCompiler<unknown> | undefined;
    installValidation({
      setValidatorCompiler: (c: FastifySchemaCompiler<unknown>) => {
        compiler = c;
      },
    } as unknown as FastifyInstance);
    const schema = { type: 'object', properties: { n: { type: 'integer' } } };
    const compile = (httpPart: string) =>
      compiler?.({ schema, httpPart, method: 'GET', url: '/' }) as (data: unknown) => boolean;
    expect(compile('body')({ n: '1' })).toBe(false);
    expect(compile('querystring')({ n: '1' })).toBe(true);
    expect(compile('params')({ n: '1' })).toBe(true);
    const query = compile('querystring');
    const repeated = { n: ['1', '2'] };
    expect(query(repeated)).toBe(false);
    // Only query strings split comma lists.
    const lists = { type: 'object', properties: { list: { type: 'array', items: { type: 'string' } } } };
    const compileLists = (httpPart: string) =>
      compiler?.({ schema: lists, httpPart, method: 'GET', url: '/' }) as (data: unknown) => boolean;
    expect(compileLists('querystring')({ list: 'a,b' })).toBe(true);
    expect(compileLists('params')({ list: 'a,b' })).toBe(false);
  });
});
