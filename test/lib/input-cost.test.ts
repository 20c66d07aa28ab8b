import fc from 'fast-check';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { likeContains } from '../../src/db/sql.js';
import { isEntityTagList } from '../../src/lib/conditional.js';
import { CursorSigner } from '../../src/lib/cursor.js';
import { isDateTime } from '../../src/lib/date-time.js';
import { pageQuery } from '../../src/lib/lists.js';
import { passwordLength } from '../../src/lib/password-policy.js';
import { jsonShapeProblem } from '../../src/lib/strict-json.js';
import { MULTILINE_TEXT_PATTERN, SAFE_TEXT_PATTERN, trimWhiteSpace } from '../../src/lib/text.js';
import { MAX_FIELD_ERRORS, toFieldErrors } from '../../src/lib/validation-errors.js';
import { LoginBody, RefreshBody } from '../../src/modules/auth/auth.schemas.js';
import { CreateTaskBody, TaskListParams } from '../../src/modules/tasks/tasks.schemas.js';
import { RegisterBody } from '../../src/modules/users/users.schemas.js';
import { strictJsonParser } from '../../src/plugins/http-semantics.js';
import { requestPath } from '../../src/plugins/problem-details.js';
import { requestIdFor } from '../../src/plugins/request-id.js';
import { bodyValidator, createAjv, queryValidator } from '../../src/plugins/validation.js';
import { costRatio, MAX_RATIO } from '../helpers/cost.js';

/**
 * Every rule that reads client input costs time linear in the input: a 1 MB hostile input costs
 * at most about 20 times a 100 KB one (test/helpers/cost.ts). HTTP bodies and headers are capped
 * well below 1 MB, so the rules are measured directly.
 */

const bodyAjv = createAjv(false);
const queryAjv = createAjv(true);
const register = bodyValidator(bodyAjv, RegisterBody);
const createTask = bodyValidator(bodyAjv, CreateTaskBody);
const login = bodyValidator(bodyAjv, LoginBody);
const refresh = bodyValidator(bodyAjv, RefreshBody);
const taskQuery = queryValidator(queryAjv, pageQuery(TaskListParams));

const PASSWORD = 'correct horse battery staple';
const registerWith = (fields: Record<string, unknown>) => () =>
  register({ email: 'ada@example.com', password: PASSWORD, name: 'Ada', ...fields });
const taskWith = (fields: Record<string, unknown>) => createTask({ title: 'Buy milk', ...fields });

/** A run of `unit` about `size` characters long. */
const run = (unit: string, size: number) => unit.repeat(Math.ceil(size / unit.length));

function expectLinear<T>(rule: (input: T) => unknown, make: (size: number) => T): void {
  expect(costRatio(rule, make)).toBeLessThanOrEqual(MAX_RATIO);
}

describe('trimming', () => {
  // The regex this replaced, as the oracle of what trimming means (on short strings only).
  const OLD = /^\p{White_Space}+|\p{White_Space}+$/gu;

  it('trims exactly Unicode White_Space: U+0085 included, U+FEFF not, surrogates untouched', () => {
    const edge = /^\p{White_Space}$/u;
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      const c = String.fromCodePoint(cp);
      const expected = edge.test(c) ? 'a' : `${c}a${c}`;
      if (trimWhiteSpace(`${c}a${c}`) !== expected) expect.fail(`U+${cp.toString(16)}`);
    }
    expect(trimWhiteSpace('\u0085\u00a0 x \u2003\n')).toBe('x');
    expect(trimWhiteSpace('\ufeffx\ufeff')).toBe('\ufeffx\ufeff');
    expect(trimWhiteSpace('\ud800 ')).toBe('\ud800');
    expect(trimWhiteSpace(' \u3000 ')).toBe('');
  });

  it('agrees with the White_Space regex on any string', () => {
    const unit = fc.constantFrom(
      ' ',
      '\t',
      '\n',
      '\u0085',
      '\u00a0',
      '\u2028',
      '\u3000',
      '\ufeff',
      'a',
      '\ud83d',
      '😀',
      '\u0000',
    );
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 30 }), (parts) => {
        const value = parts.join('');
        expect(trimWhiteSpace(value)).toBe(value.replace(OLD, ''));
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['an inner run of spaces', (n: number) => `x${' '.repeat(n)}x`],
    ['an inner run of mixed White_Space', (n: number) => `x${run(' \u0085\u3000\u2028', n)}x`],
    ['white space only', (n: number) => ' '.repeat(n)],
    ['leading and trailing runs', (n: number) => `${' '.repeat(n / 2)}x${' '.repeat(n / 2)}`],
  ])('costs linear time on %s', (_name, make) => {
    expectLinear(trimWhiteSpace, make);
  });
});

describe('text patterns', () => {
  it('keep their meaning: control characters and lone surrogates out, descriptions keep \\t \\n \\r', () => {
    const safe = new RegExp(SAFE_TEXT_PATTERN, 'u');
    const multiline = new RegExp(MULTILINE_TEXT_PATTERN, 'u');
    const control = /^[\p{Cc}\p{Cs}]$/u;
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      const c = String.fromCodePoint(cp);
      const bad = control.test(c);
      if (safe.test(`a${c}`) === bad) expect.fail(`safe text, U+${cp.toString(16)}`);
      if (multiline.test(`a${c}`) === (bad && !'\t\n\r'.includes(c)))
        expect.fail(`multiline, U+${cp.toString(16)}`);
    }
  });

  it.each([
    ['a name ending in a control character', (n: number) => `${'a'.repeat(n)}\u0000`],
    ['a name with an inner run of White_Space', (n: number) => `a${' '.repeat(n)}b`],
    ['a name of lone surrogates', (n: number) => '\ud800'.repeat(n)],
  ])('the name rule costs linear time on %s', (_name, make) => {
    expectLinear((name: string) => registerWith({ name })(), make);
  });

  it.each([
    [
      'a title with an inner run of White_Space',
      { field: 'title', make: (n: number) => `a${' '.repeat(n)}b` },
    ],
    [
      'a description ending in a control character',
      { field: 'description', make: (n: number) => `${run('a\n', n)}\u0001` },
    ],
    ['a tag too long and upper-case', { field: 'tags', make: (n: number) => [`${'A'.repeat(n)}!`] }],
    [
      'a list of many equal tags',
      { field: 'tags', make: (n: number) => Array.from({ length: n / 4 }, () => 'ab') },
    ],
    [
      'a date-time with a long fraction',
      { field: 'dueAt', make: (n: number) => `2030-01-01T00:00:00.${'1'.repeat(n)}x` },
    ],
    [
      'an assignee id with a bad character at the end',
      { field: 'assigneeId', make: (n: number) => `${'a'.repeat(n)}!` },
    ],
  ])('the task rules cost linear time on %s', (_name, { field, make }) => {
    expectLinear((value: unknown) => taskWith({ [field]: value }), make);
  });
});

describe('formats', () => {
  it.each([
    ['a long local part', (n: number) => `${'a'.repeat(n)}!`],
    ['a long domain without a dot', (n: number) => `a@${'a'.repeat(n)}!`],
    ['a domain of many labels', (n: number) => `a@${run('a.', n)}!`],
    ['a domain of hyphens', (n: number) => `a@a${'-'.repeat(n)}!`],
    ['a local part of many dots', (n: number) => `${run('a.', n)}!`],
    ['labels ending in a hyphen', (n: number) => `a@${run('a-a.', n)}-`],
  ])('email costs linear time on %s', (_name, make) => {
    expectLinear((email: string) => registerWith({ email })(), make);
  });

  it('counts password code points as before, without an array of them', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.string({ unit: 'grapheme-composite' }),
        (a, b) => {
          const value = a + b;
          expect(passwordLength(value)).toBe([...value.normalize('NFC')].length);
        },
      ),
      { numRuns: 2000 },
    );
    expect(passwordLength('\ud800\ud83d\ude00\udc00')).toBe(3);
  });

  it.each([
    ['a long password', (n: number) => 'é'.repeat(n)],
    ['a password of combining marks', (n: number) => `a${'\u0301'.repeat(n)}`],
  ])('the password rule costs linear time on %s', (_name, make) => {
    expectLinear((password: string) => registerWith({ password })(), make);
  });

  it('the date-time format costs linear time', () => {
    expectLinear(isDateTime, (n) => `2030-01-01T00:00:00.${'1'.repeat(n)}+01:0`);
  });

  it.each([
    ['an unterminated tag', (n: number) => `"${'a'.repeat(n)}`],
    ['many W/ prefixes', (n: number) => run('W/', n)],
    ['a long list ending badly', (n: number) => `${run('"1", ', n)}2`],
    ['white space before a bad *', (n: number) => `${' '.repeat(n)}*x`],
  ])('the entity-tag list format costs linear time on %s', (_name, make) => {
    expectLinear(isEntityTagList, make);
  });
});

describe('bodies', () => {
  const parse = strictJsonParser(Fastify());
  const parseBody = (body: Buffer) => {
    let outcome: unknown;
    const done = (error: Error | null, value?: unknown) => {
      outcome = error ?? value;
    };
    // The parser reads nothing from the request.
    (parse as (request: unknown, body: Buffer, done: (e: Error | null, v?: unknown) => void) => void)(
      {},
      body,
      done,
    );
    return outcome;
  };

  const manyKeys = (n: number) => Array.from({ length: n / 10 }, (_, i) => `"k${i}":0`).join(',');

  // V8's own JSON.parse slows down faster than linearly on objects of tens of thousands of keys
  // (and so does listing their keys); the body limits (16 KiB credential, 64 KiB task and user
  // bodies) are what bound it. The rules here are ours.
  it.each([
    ['a long string value', (n: number) => `{"title":"${'x'.repeat(n)}"}`],
    ['many objects with the same keys', (n: number) => `[${run('{"a":1,"b":2},', n)}{}]`],
    ['a key of escapes', (n: number) => `{"${run('\\u0061', n)}":1,"b":2}`],
    ['deep nesting', (n: number) => `${'['.repeat(n / 2)}${']'.repeat(n / 2)}`],
    ['a duplicate key at the end', (n: number) => `{${manyKeys(n)},"k0":1}`],
    ['__proto__ followed by white space', (n: number) => `{"__proto__"${' '.repeat(n)}`],
    ['invalid UTF-8 at the end', (n: number) => `{"a":"${'é'.repeat(n / 2)}\uFFFF"}`],
  ])('the JSON parser costs linear time on %s', (_name, make) => {
    // U+FFFF stands for a byte that is not UTF-8.
    expectLinear(parseBody, (n) => {
      const [head = '', tail = ''] = make(n).split('\uFFFF');
      return tail
        ? Buffer.concat([Buffer.from(head), Buffer.from([0xff]), Buffer.from(tail)])
        : Buffer.from(head);
    });
  });

  it('the duplicate-key and depth scan costs linear time', () => {
    expectLinear(jsonShapeProblem, (n) => Buffer.from(`{${manyKeys(n)}}`));
    expectLinear(jsonShapeProblem, (n) => Buffer.from(`{"a":"${'\\"'.repeat(n / 2)}`));
    expectLinear(jsonShapeProblem, (n) => Buffer.from(`[${run('{"a":1,"b":2},', n)}{}]`));
  });

  it('shows Ajv no more unknown keys or list items than errors[] can report', () => {
    const keys = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 0]));
    expect(login({ email: 'ada@example.com', ...keys })).toBe(false);
    expect(login.errors?.length).toBeLessThanOrEqual(2 + MAX_FIELD_ERRORS);
    expect(toFieldErrors(login.errors ?? [], 'body')).toHaveLength(MAX_FIELD_ERRORS);
    expect(taskWith({ tags: Array.from({ length: 30_000 }, () => 1) })).toBe(false);
    expect(createTask.errors?.length).toBeLessThanOrEqual(20 + MAX_FIELD_ERRORS + 5);
    const errors = toFieldErrors(createTask.errors ?? [], 'body');
    expect(errors).toContainEqual({
      pointer: '/tags',
      code: 'too_long',
      detail: 'must have at most 20 items',
    });
    expect(errors).toHaveLength(MAX_FIELD_ERRORS);
  });

  it('mapping Ajv errors to errors[] costs linear time at most', () => {
    login({ email: 'ada@example.com', password: PASSWORD, extra: 1 });
    const base = login.errors?.[0];
    expect(base?.keyword).toBe('additionalProperties');
    expectLinear(
      (errors: unknown[]) => toFieldErrors(errors as never, 'body'),
      (n) => Array.from({ length: n / 10 }, (_, i) => ({ ...base, params: { additionalProperty: `k${i}` } })),
    );
  });

  it('the refresh-token rule costs linear time', () => {
    expectLinear(
      (refreshToken: string) => refresh({ refreshToken }),
      (n) => `${'a'.repeat(n)}\u0000`,
    );
  });
});

describe('query strings, ids and paths', () => {
  it('the task list query costs linear time on long comma lists and text', () => {
    expectLinear(
      (status: string) => taskQuery({ status }),
      (n) => ','.repeat(n),
    );
    expectLinear(
      (q: string) => taskQuery({ q }),
      (n) => `${'a'.repeat(n)}\u0000`,
    );
    expectLinear(
      (tag: string) => taskQuery({ tag }),
      (n) => `${'a'.repeat(n)}!`,
    );
  });

  it('the request-id rule costs linear time', () => {
    expectLinear(
      (id: string) => requestIdFor({ headers: { 'x-request-id': id } } as never),
      (n) => `${'a'.repeat(n)}!`,
    );
  });

  it('a cursor costs linear time to refuse', () => {
    const signer = new CursorSigner('test-secret-that-is-long-enough-0123456789abcdef');
    const refuse = (cursor: string) => {
      try {
        signer.open({ user: 'u' }, cursor);
      } catch {
        // refused, as expected
      }
    };
    expectLinear(refuse, (n) => 'a'.repeat(n));
    expectLinear(refuse, (n) => `${'a'.repeat(n)}.${'b'.repeat(43)}`);
    expectLinear(refuse, (n) => '.'.repeat(n));
  });

  it('percent-encodes the problem instance as before, whole code points at a time', () => {
    const before = (path: string) =>
      path.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/g, (c) =>
        [...Buffer.from(c)].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
      );
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 60 }), (path) => {
        expect(requestPath(`/${path}`)).toBe(before(`/${path.split('?')[0]}`));
      }),
      { numRuns: 2000 },
    );
    expect(requestPath('/a b/é/😀/\ud800?x')).toBe('/a%20b/%C3%A9/%F0%9F%98%80/%EF%BF%BD');
  });

  it('the problem instance (the percent-encoded path) costs linear time', () => {
    expectLinear(requestPath, (n) => `/api/v1/${run('{|', n)}?${'x'.repeat(n)}`);
  });

  it('escaping a search for LIKE costs linear time', () => {
    expectLinear(likeContains, (n) => run('%_\\', n));
    expect(likeContains('50%_\\x')).toBe('%50\\%\\_\\\\x%');
  });
});
