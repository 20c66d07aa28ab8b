import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, jsonShapeProblem as shapeOfBytes } from '../../src/lib/strict-json.js';

const jsonShapeProblem = (text: string) => shapeOfBytes(Buffer.from(text));

describe('jsonShapeProblem', () => {
  it.each([
    '{"a":1,"a":2}',
    '{"a":1,"b":{"c":1,"c":2}}',
    '[{"x":[{"k":1,"k":1}]}]',
    '{"a":1,"\\u0061":2}',
    '{"a\\"b":1,"a\\u0022b":2}',
    '{"é":1,"\\u00e9":2}',
    '{ "a" : 1 , "a" : 1 }',
    '{"":1,"":2}',
  ])('finds the key given twice in %s', (text) => {
    expect(jsonShapeProblem(text)).toBe('duplicate-key');
  });

  it.each([
    '{"a":1,"b":2}',
    '{"a":{"a":{"a":1}}}',
    '[{"a":1},{"a":1}]',
    '{"a":"a","b":["a","a"]}',
    '{"a":{"b":1},"b":{"a":1}}',
    '{"a\\\\":1,"a":2}',
    '{"k":"{\\"k\\":1,\\"k\\":2}"}',
    '"a"',
    '[]',
    '',
  ])('accepts %s', (text) => {
    expect(jsonShapeProblem(text)).toBeNull();
  });

  it('agrees with JSON.parse on every object it rebuilds', () => {
    fc.assert(
      fc.property(fc.json({ depthSize: 'medium' }), (text) => {
        // JSON.stringify never writes a key twice, so the only duplicates are the ones we add.
        expect(jsonShapeProblem(text)).toBeNull();
        if (text.startsWith('{') && text.length > 2) {
          const key = JSON.stringify(Object.keys(JSON.parse(text) as object)[0]);
          expect(jsonShapeProblem(`{${key}:0,${text.slice(1)}`)).toBe('duplicate-key');
        }
      }),
      { numRuns: 1000 },
    );
  });

  it(`refuses nesting deeper than ${MAX_JSON_DEPTH} levels`, () => {
    const nest = (depth: number) => `${'[{"a":'.repeat(depth / 2)}1${'}]'.repeat(depth / 2)}`;
    expect(jsonShapeProblem(nest(MAX_JSON_DEPTH))).toBeNull();
    expect(jsonShapeProblem(nest(MAX_JSON_DEPTH + 2))).toBe('too-deep');
    expect(jsonShapeProblem(`{"a":"${'['.repeat(1000)}"}`)).toBeNull();
  });

  it('never fails or loops on text that is not JSON', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', '\\', ',', ':', 'a', 'u') }),
        (text) => {
          expect([null, 'duplicate-key', 'too-deep']).toContain(jsonShapeProblem(text));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
