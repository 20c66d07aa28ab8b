/** Text rules shared by every input: trimming by Unicode White_Space and rejecting control characters. */

// JavaScript's trim() misses U+0085 and \s matches U+FEFF, which is not White_Space.
const EDGE_WHITE_SPACE = /^\p{White_Space}+|\p{White_Space}+$/gu;

export function trimWhiteSpace(value: string): string {
  return value.replace(EDGE_WHITE_SPACE, '');
}

/**
 * The pattern every text field carries: no control characters (C0, DEL, C1) and no lone
 * surrogates. With the `u` flag a lone surrogate is a code point of category Cs.
 */
export const SAFE_TEXT_PATTERN = '^[^\\p{Cc}\\p{Cs}]*$';
/** Like SAFE_TEXT_PATTERN, but tab, line feed and carriage return are allowed (descriptions). */
export const MULTILINE_TEXT_PATTERN = '^(?:[\\t\\n\\r]|[^\\p{Cc}\\p{Cs}])*$';

const SAFE_TEXT = new RegExp(SAFE_TEXT_PATTERN, 'u');

export function isSafeText(value: string): boolean {
  return SAFE_TEXT.test(value);
}
