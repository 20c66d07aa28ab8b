/** Text rules shared by every input: trimming by Unicode White_Space and rejecting control characters. */

/**
 * Unicode's White_Space property (U+0085 included, U+FEFF not: JavaScript's trim() and \s get both
 * wrong). Every White_Space code point is in the BMP and none is a surrogate, so testing UTF-16
 * code units one at a time tests code points.
 */
export function isWhiteSpace(unit: number): boolean {
  if (unit <= 0x20) return unit === 0x20 || (unit >= 0x09 && unit <= 0x0d);
  if (unit < 0x85) return false;
  return (
    unit === 0x85 ||
    unit === 0xa0 ||
    unit === 0x1680 ||
    (unit >= 0x2000 && unit <= 0x200a) ||
    unit === 0x2028 ||
    unit === 0x2029 ||
    unit === 0x202f ||
    unit === 0x205f ||
    unit === 0x3000
  );
}

/**
 * Trims White_Space at both ends with two index loops: a regex such as `\p{White_Space}+$`
 * backtracks over every inner run of white space, quadratic on a long one.
 */
export function trimWhiteSpace(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isWhiteSpace(value.charCodeAt(start))) start++;
  while (end > start && isWhiteSpace(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/**
 * The pattern every text field carries: no control characters (C0, DEL, C1) and no lone
 * surrogates. With the `u` flag a lone surrogate is a code point of category Cs. One character
 * class under one star, anchored: linear, with nothing to backtrack into. Tools that read the
 * published pattern without the `u` flag (Spectral's example check) take `\p{Cc}` for the letters
 * p, C, c and braces: examples of these fields avoid those letters and `s`.
 */
export const SAFE_TEXT_PATTERN = '^[^\\p{Cc}\\p{Cs}]*$';
/**
 * Like SAFE_TEXT_PATTERN, but tab, line feed and carriage return are allowed (descriptions). Cc is
 * U+0000–U+001F and U+007F–U+009F, so one class lists those ranges without \t, \n and \r: an
 * alternation under the star kept a backtrack entry per character (and overflowed V8's stack on
 * tens of megabytes).
 */
export const MULTILINE_TEXT_PATTERN = '^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F\\p{Cs}]*$';
