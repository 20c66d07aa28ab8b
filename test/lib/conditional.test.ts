import { describe, expect, it } from 'vitest';
import {
  ifMatchPasses,
  ifNoneMatchHits,
  isEntityTagList,
  parseEntityTags,
} from '../../src/lib/conditional.js';

describe('entity-tag lists (RFC 9110 §8.8.3)', () => {
  it.each([
    ['"3"', [{ weak: false, opaque: '3' }]],
    ['W/"3"', [{ weak: true, opaque: '3' }]],
    [
      '"1", W/"2" ,"3"',
      [
        { weak: false, opaque: '1' },
        { weak: true, opaque: '2' },
        { weak: false, opaque: '3' },
      ],
    ],
    [
      ', "1",,\t"2",',
      [
        { weak: false, opaque: '1' },
        { weak: false, opaque: '2' },
      ],
    ],
    ['""', [{ weak: false, opaque: '' }]],
    ['"a!#~\u00e9"', [{ weak: false, opaque: 'a!#~\u00e9' }]],
    ['*', '*'],
    [' * ', '*'],
  ])('parses %j', (header, expected) => {
    expect(parseEntityTags(header)).toEqual(expected);
  });

  it.each([
    '2',
    '"2',
    '2"',
    'w/"2"',
    'W/2',
    '"2" "3"',
    '"2";',
    '*, "2"',
    '"2", *',
    '**',
    '',
    ' ',
    ',',
    '"a b"',
    '"a"b"',
    '"\u0100"',
    'W/ "2"',
  ])('refuses %j', (header) => {
    expect(parseEntityTags(header)).toBeNull();
    expect(isEntityTagList(header)).toBe(false);
  });

  it('compares If-Match strongly and If-None-Match weakly', () => {
    expect(ifMatchPasses('"4"', 4)).toBe(true);
    expect(ifMatchPasses('W/"4"', 4)).toBe(false);
    expect(ifMatchPasses('"1", "4"', 4)).toBe(true);
    expect(ifMatchPasses('*', 4)).toBe(true);
    expect(ifMatchPasses('4', 4)).toBe(false);
    expect(ifNoneMatchHits('W/"4"', 4)).toBe(true);
    expect(ifNoneMatchHits('"5"', 4)).toBe(false);
    expect(ifNoneMatchHits('4', 4)).toBe(false);
  });
});
