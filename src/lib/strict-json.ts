/**
 * What JSON.parse lets through silently or pays too much for: a key given twice in one object
 * (the last one wins) and deep nesting (V8's parser and collector grow faster than linearly on a
 * megabyte of `[[[[…`). One linear pass finds both, so an ordinary body pays a few microseconds.
 * (Invalid UTF-8, which decoding would turn into U+FFFD, is Node's `isUtf8`.)
 */

/** Deeper than any body the API takes; the bound that keeps parsing linear. */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

export type JsonShapeProblem = 'duplicate-key' | 'too-deep';

/**
 * Whether `body` holds an object with the same key twice (at any depth; keys compared after
 * unescaping, so `"a"` and `"\u0061"` are one key) or nests containers deeper than `maxDepth`.
 * One pass over the bytes that follows only strings and brackets (in UTF-8 no byte of a multi-byte
 * character is ASCII), run before the body is decoded or parsed, so a hostile body is refused
 * without either. On bytes that are not JSON at all it may report anything or nothing, which is
 * fine: such a body is refused either way.
 */
export function jsonShapeProblem(body: Buffer, maxDepth = MAX_JSON_DEPTH): JsonShapeProblem | null {
  // The containers open around the current position: the keys of an object, or null for an array.
  const open: (Set<string> | null)[] = [];
  let keys: Set<string> | null = null;
  let expectKey = false;
  const n = body.length;
  for (let i = 0; i < n; i++) {
    const byte = body[i];
    if (byte === QUOTE) {
      const start = i + 1;
      let escaped = false;
      for (i = start; i < n; i++) {
        const inner = body[i];
        if (inner === QUOTE) break;
        if (inner === BACKSLASH) {
          escaped = true;
          i++;
        }
      }
      if (i >= n) return null; // an unterminated string: JSON.parse refuses the body
      if (expectKey && keys !== null) {
        let key = body.toString('utf8', start, i);
        if (escaped) {
          try {
            key = JSON.parse(`"${key}"`) as string;
          } catch {
            return null; // a bad escape: JSON.parse refuses the body
          }
        }
        if (keys.has(key)) return 'duplicate-key';
        keys.add(key);
        expectKey = false;
      }
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (open.length >= maxDepth) return 'too-deep';
      open.push(keys);
      keys = byte === OPEN_BRACE ? new Set() : null;
      expectKey = byte === OPEN_BRACE;
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      keys = open.pop() ?? null;
      expectKey = false;
    } else if (byte === COMMA) {
      expectKey = keys !== null;
    }
  }
  return null;
}
