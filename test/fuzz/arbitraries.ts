import fc from 'fast-check';
import { PASSWORD } from '../helpers/factories.js';
import type { Operation, Schema } from './operations.js';

/** Generators of hostile input, driven by the schemas of the OpenAPI document. */

/** Strings that have broken parsers, validators, databases and loggers somewhere. */
const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\u0085trim me\u0085',
  '\ufefftitle',
  '\u202eevil',
  '\u0007\u001b[31m',
  '\r\nX-Injected: 1',
  '%00',
  '%ZZ',
  '../../etc/passwd',
  '__proto__',
  'constructor',
  'prototype',
  'null',
  'true',
  '-1',
  '1e309',
  'NaN',
  "' OR 1=1 --",
  '"; DROP TABLE users; --',
  '\\',
  '<script>alert(1)</script>',
  // A log4j-style lookup, written as text on purpose.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal characters are the input
  '${jndi:ldap://x}',
  '{{7*7}}',
  '😀'.repeat(60),
  'é'.repeat(250),
  'a'.repeat(257),
  'x'.repeat(70_000),
  ' '.repeat(60_000),
  '\u0085'.repeat(20_000),
  '2031-02-30T10:00:00Z',
  '2031-01-01T23:59:60Z',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999999999+14:00',
  '2031-01-01 10:00:00',
  'tf_abcdef',
  'tfr_unknown',
  'ADMIN@EXAMPLE.COM',
  'a@b',
  '\u212Aelvin@example.com',
];

const NASTY_NUMBERS = [0, -0, -1, 1, 1.5, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 2, 1e308, -1e308, 5e-324, 1e21];

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.string({ unit: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)) }),
  },
  // Lone surrogates wherever a string ends up.
  {
    weight: 1,
    arbitrary: fc.string({
      unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)),
      minLength: 1,
      maxLength: 4,
    }),
  },
);

const hostileScalar: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.constantFrom(...NASTY_NUMBERS) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.constantFrom(true, false, null) },
);

/** Any JSON value, wrong types and nesting included. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 5, arbitrary: hostileScalar },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.dictionary(hostileString, tie('value'), { maxKeys: 3 }) },
  ),
})).value;

const SAMPLE_BY_FORMAT: Record<string, unknown[]> = {
  email: ['fuzz@example.com', 'Ada@Example.com'],
  'date-time': ['2031-01-01T08:00:00.000Z', '2031-01-01T10:00:00+02:00'],
  password: [PASSWORD, 'another long passphrase'],
};

/** A value the schema accepts (or nearly: examples and bounds), so that handlers are reached. */
export function validValue(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((s) => validValue(s, depth)));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const samples = [
    ...(schema.examples ?? []),
    ...(schema.format ? (SAMPLE_BY_FORMAT[schema.format] ?? []) : []),
  ];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'string':
      return samples.length > 0
        ? fc.constantFrom(...samples)
        : fc.string({
            unit: fc.constantFrom(...'abcxyz0123-_'),
            minLength: Math.max(1, schema.minLength ?? 1),
            maxLength: Math.min(schema.maxLength ?? 20, 20),
          });
    case 'integer':
      return fc.integer({ min: schema.minimum ?? 0, max: Math.min(schema.maximum ?? 100, 1_000_000) });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return depth > 3
        ? fc.constant([])
        : fc.array(validValue(schema.items ?? {}, depth + 1), { maxLength: 3 });
    case 'object':
      return depth > 3 ? fc.constant({}) : objectFor(schema, depth + 1, 0);
    default:
      return hostileValue;
  }
}

/**
 * Values a field's name suggests, as placeholders the test fills in at run time (a real caller's
 * email, refresh token or id), so that logins, refreshes and assignments reach their handlers.
 */
function samplesByName(name: string): string[] {
  if (/refresh/i.test(name)) return ['{{userRefresh}}', '{{guestRefresh}}'];
  if (/email|username/i.test(name)) return ['{{userEmail}}', '{{adminEmail}}'];
  if (/password/i.test(name)) return [PASSWORD];
  if (/Id$/.test(name)) return ['{{userId}}', '{{adminId}}', '{{userTask}}'];
  return [];
}

/** An object after the schema: each property valid, hostile or left out, plus stray fields. */
export function objectFor(
  schema: Schema,
  depth = 0,
  hostileWeight = 1,
): fc.Arbitrary<Record<string, unknown>> {
  const properties = Object.entries(schema.properties ?? {});
  const fields = properties.map(([name, property]) =>
    fc
      .option(
        fc.oneof(
          { weight: 3, arbitrary: validValue(property, depth) },
          ...(samplesByName(name).length > 0
            ? [{ weight: 3, arbitrary: fc.constantFrom<unknown>(...samplesByName(name)) }]
            : []),
          { weight: hostileWeight, arbitrary: hostileValue },
        ),
        { freq: 4, nil: undefined },
      )
      .map((value) => [name, value] as const),
  );
  const readOnly = schema['x-read-only'] ?? [];
  const extra = fc.option(
    fc.tuple(
      fc.constantFrom(...readOnly, 'role', 'isAdmin', 'passwordHash', 'toString', 'hasOwnProperty', 'x'),
      hostileValue,
    ),
    { freq: hostileWeight === 0 ? 0 : 3, nil: undefined },
  );
  return fc.tuple(fc.tuple(...fields), extra).map(([pairs, stray]) => {
    const object: Record<string, unknown> = {};
    for (const [name, value] of pairs) if (value !== undefined) object[name] = value;
    if (stray) object[stray[0]] = stray[1];
    return object;
  });
}

/** Ways to spoil the JSON text of a body: what JSON.stringify of a value cannot write. */
const spoilers: fc.Arbitrary<(text: string) => string | Buffer> = fc.constantFrom<
  (text: string) => string | Buffer
>(
  (text) => text,
  (text) => text,
  (text) => text.slice(0, Math.max(0, text.length - 1)),
  (text) =>
    text.startsWith('{') && text.length > 2 ? `{"__proto__":{"isAdmin":true},${text.slice(1)}` : text,
  (text) =>
    text.startsWith('{') && text.length > 2 ? `{"constructor":{"prototype":{"x":1}},${text.slice(1)}` : text,
  (text) => {
    const m = /^\{("[^"]+":[^,}]+)/.exec(text);
    return m ? `{${m[1]},${m[1]},${text.slice(1)}` : text;
  },
  (text) => `\ufeff${text}`,
  (text) =>
    Buffer.concat([
      Buffer.from(text.slice(0, -2)),
      Buffer.from([0xc0, 0xaf, 0xff, 0xed, 0xa0, 0x80]),
      Buffer.from(text.slice(-2)),
    ]),
  (text) => text.replace(/:(\d+)/, ':1e400'),
  (text) => text.replace(/:"/, ':"\\ud800'),
  (text) => text.replace(/:"/, ':"\\u0000'),
  (text) => `${text} trailing`,
  (text) => `${text}${text}`,
);

const RAW_BODIES: (string | Buffer)[] = [
  '',
  ' ',
  '{',
  '}',
  '[]',
  'null',
  '0',
  '"string"',
  'true',
  '{"a":1,"a":2}',
  '{"__proto__":{"x":1}}',
  '{"constructor":{"prototype":{"x":1}}}',
  `{"title":"a","x":${'['.repeat(5000)}${']'.repeat(5000)}}`,
  `${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}`,
  `{"title":"${'a'.repeat(2_000_000)}"}`,
  Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]),
  Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]),
  'grant_type=password&username=a%40b.c&password=x',
  'grant_type=password&grant_type=refresh_token',
  'grant_type=%ZZ&username=%00',
  `grant_type=refresh_token&refresh_token=${'%ff'.repeat(100)}`,
  '<xml/>',
  '\u0000',
];

export const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'APPLICATION/JSON',
  'application/json;;;',
  'application/json, text/plain',
  'application/merge-patch+json',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=iso-8859-1',
  'text/plain',
  'text/html',
  'application/xml',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  '*/*',
  'application/',
  '/json',
  'application/jsonp',
  '',
];

export interface BodyCase {
  contentType: string | undefined;
  payload: string | Buffer | undefined;
}

function formText(object: Record<string, unknown>): string {
  return Object.entries(object)
    .map(
      ([key, value]) =>
        `${safeEncode(key)}=${safeEncode(typeof value === 'string' ? value : JSON.stringify(value))}`,
    )
    .join('&');
}

/** encodeURIComponent, with a lone surrogate written as the bytes a hostile client would send. */
export function safeEncode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return value.replace(/[^\w]/gu, (c) => (/\p{Cs}/u.test(c) ? '%ED%A0%80' : encodeURIComponent(c)));
  }
}

/** A body for the operation: near-valid, spoiled JSON, a raw oddity, or none, under any type. */
export function bodyFor(operation: Operation): fc.Arbitrary<BodyCase> {
  const types = Object.keys(operation.bodies);
  const schema = Object.values(operation.bodies)[0] ?? {};
  const contentType = fc.oneof(
    {
      weight: types.length > 0 ? 6 : 1,
      arbitrary: types.length > 0 ? fc.constantFrom(...types) : fc.constant('application/json'),
    },
    { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
  const isForm = types.includes('application/x-www-form-urlencoded');
  const structured = fc
    .tuple(
      fc.oneof({ weight: 4, arbitrary: objectFor(schema) }, { weight: 1, arbitrary: hostileValue }),
      spoilers,
    )
    .map(([value, spoil]) =>
      isForm && value !== null && typeof value === 'object' && !Array.isArray(value)
        ? formText(value as Record<string, unknown>)
        : spoil(JSON.stringify(value) ?? 'null'),
    );
  const payload = fc.oneof(
    { weight: 6, arbitrary: structured },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_BODIES) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
  return fc.record({ contentType, payload });
}

const ID_LIKE = [
  '0',
  '-1',
  'null',
  'undefined',
  'stats',
  'me',
  '.',
  '..',
  '%2e%2e',
  '%2F',
  '%2f..%2f',
  '%00',
  '%ZZ',
  '%E0%A4%A',
  '%C0%AF',
  '%ED%A0%80',
  '%ff%fe',
  '%20',
  '%0d%0aX-Injected:%201',
  'a'.repeat(64),
  'a'.repeat(65),
  'b'.repeat(501),
  'c'.repeat(5000),
  '0190a6f2-0000-7000-8000-000000000000',
  '00000000-0000-0000-0000-000000000000',
  "1'%20OR%20'1'='1",
  '%F0%9F%98%80',
  '__proto__',
  'constructor',
];

/** A path parameter value as it appears in the URL (already percent-encoded where needed). */
export function pathValue(realIds: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: realIds.length > 0 ? fc.constantFrom(...realIds) : fc.constant('x') },
    { weight: 4, arbitrary: fc.constantFrom(...ID_LIKE) },
    { weight: 2, arbitrary: hostileString.map(safeEncode) },
    { weight: 1, arbitrary: fc.uuid() },
  );
}

/** A query string: valid, hostile, repeated and unknown parameters, and raw encodings. */
export function queryFor(operation: Operation): fc.Arbitrary<string> {
  const names = operation.parameters.filter((p) => p.in === 'query');
  const one = fc.oneof(
    ...(names.length > 0
      ? [
          {
            weight: 4,
            arbitrary: fc
              .constantFrom(...names)
              .chain((p) =>
                fc
                  .oneof(
                    { weight: 3, arbitrary: validValue(p.schema) },
                    { weight: 2, arbitrary: hostileScalar },
                  )
                  .map(
                    (v) =>
                      `${encodeURIComponent(p.name)}=${safeEncode(Array.isArray(v) ? v.join(',') : String(v))}`,
                  ),
              ),
          },
        ]
      : []),
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'unknown=1',
        '__proto__[x]=1',
        'constructor[prototype][x]=1',
        'a[b]=c',
        'page[]=1',
        '%=1',
        '%zz=%zz',
        'q=%00',
        'q=%ED%A0%80',
        'q=%C0%AF',
        '&&&',
        '=',
        'size',
        `q=${'x'.repeat(20_000)}`,
        `${'k'.repeat(5000)}=1`,
        'page=1&page=2',
        'size=1e2',
        'size=0x10',
        'size= 5',
        'limit=-0',
        'cursor=eyJ9',
        `cursor=${'A'.repeat(3000)}`,
        'status=todo,,done',
        'status=todo&status=done&status=todo&status=done',
        'sort=--title',
      ),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(hostileString, hostileString).map(([k, v]) => `${safeEncode(k)}=${safeEncode(v)}`),
    },
  );
  return fc.array(one, { maxLength: 5 }).map((parts) => parts.join('&'));
}

const AUTH_FORMS = (tokens: string[]) => [
  ...tokens.map((t) => `Bearer ${t}`),
  ...tokens.map((t) => `bearer ${t}`),
  ...tokens.map((t) => `Bearer  ${t}`),
  ...tokens.map((t) => `Bearer ${t} `),
  ...tokens.map((t) => `Bearer ${t}.`),
  ...tokens.map((t) => `Bearer ${t.slice(0, -2)}`),
  'Bearer',
  'Bearer ',
  'Bearer a.b.c',
  'Bearer ..',
  'Bearer eyJhbGciOiJub25lIn0.e30.',
  `Bearer ${'A'.repeat(8000)}`,
  'Bearer tf_abc123',
  'Basic Zm9vOmJhcg==',
  'Basic',
  'Digest username="x"',
  'Token abc',
  'Bearer\tabc',
  '',
  ',',
];

/** Headers: credentials in every form, conditional and idempotency garbage, odd Accept and ids. */
export function headersFor(tokens: string[]): fc.Arbitrary<Record<string, string>> {
  const printable = fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength: 60,
  });
  const latin1 = fc.string({
    unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)),
    maxLength: 60,
  });
  const value = fc.oneof(
    printable,
    latin1,
    fc.constantFrom('', ' ', '*', '""', '"1"', 'W/"1"', '"1", "2"', 'a'.repeat(5000)),
  );
  const header = fc.oneof(
    fc.constantFrom(...AUTH_FORMS(tokens)).map((v) => ['authorization', v] as const),
    fc.oneof(fc.constantFrom(...tokens, 'tf_x', 'tf_', ''), value).map((v) => ['x-api-key', v] as const),
    fc
      .oneof(fc.constantFrom('*', '"1"', 'W/"1"', '"1", W/"2"', '1', '"', '"a"b"', '*, "1"', ',,,'), value)
      .map((v) => ['if-match', v] as const),
    fc
      .oneof(fc.constantFrom('*', '"1"', 'W/"1"', '1', '"', ',,,'), value)
      .map((v) => ['if-none-match', v] as const),
    fc
      .oneof(fc.constantFrom('', '"', '""', '"abc"', 'a b', 'x'.repeat(256), '\u00e9t\u00e9'), value)
      .map((v) => ['idempotency-key', v] as const),
    fc
      .oneof(fc.constantFrom('application/xml', 'text/html', '*/*;q=0', 'application/json;q=abc', ''), value)
      .map((v) => ['accept', v] as const),
    fc
      .oneof(fc.constantFrom('', 'a'.repeat(129), 'id with spaces', '../x', 'ok-id_1.2'), value)
      .map((v) => ['x-request-id', v] as const),
    fc
      .oneof(fc.constantFrom('gzip', 'br', 'identity', 'x'), value)
      .map((v) => ['content-encoding', v] as const),
    fc.oneof(fc.constantFrom('https://evil.example', 'null', ''), value).map((v) => ['origin', v] as const),
    fc
      .oneof(fc.constantFrom('\u0000', 'x'.repeat(3000), 'Mozilla/5.0 \u00e9\u00ff', '\u0007\u001b'), value)
      .map((v) => ['user-agent', v] as const),
    fc
      .oneof(fc.constantFrom('1.2.3.4', 'unknown', '', '::1, 10.0.0.1'), value)
      .map((v) => ['x-forwarded-for', v] as const),
  );
  return fc.array(header, { maxLength: 4 }).map((pairs) => Object.fromEntries(pairs));
}
