/**
 * Entity tags and the conditional headers (RFC 9110 §8.8.3, §13.1): If-Match compares strongly
 * (a weak tag never matches), If-None-Match weakly; both take `*` and comma-separated lists.
 */
export function etagOf(version: number): string {
  return `"${version}"`;
}

interface EntityTag {
  weak: boolean;
  opaque: string;
}

const QUOTE = 0x22;
const COMMA = 0x2c;

function isOptionalWhiteSpace(unit: number): boolean {
  return unit === 0x20 || unit === 0x09;
}

/** etagc = %x21 / %x23-7E / obs-text: visible ASCII but `"`, and the bytes 0x80–0xFF (Node reads headers as latin1). */
function isEtagChar(unit: number): boolean {
  return unit === 0x21 || (unit >= 0x23 && unit <= 0x7e) || (unit >= 0x80 && unit <= 0xff);
}

type TagVisitor = (weak: boolean, start: number, end: number) => void;

/**
 * `*`, or a list of one or more entity tags (`"3"`, `W/"3"`) separated by commas with optional
 * white space (empty elements are allowed, RFC 9110 §5.6.1): `'*'`, true for a list (each tag's
 * opaque part handed to `visit`), false for anything else, such as an unquoted `3`. One pass over
 * the value, nothing to backtrack, nothing allocated unless `visit` does.
 */
function scanEntityTags(header: string, visit: TagVisitor | null): '*' | boolean {
  const n = header.length;
  let i = 0;
  const skipWhiteSpace = () => {
    while (i < n && isOptionalWhiteSpace(header.charCodeAt(i))) i++;
  };
  skipWhiteSpace();
  if (header.charCodeAt(i) === 0x2a) {
    i++;
    skipWhiteSpace();
    return i === n ? '*' : false;
  }
  let tags = 0;
  for (;;) {
    skipWhiteSpace();
    if (i === n) break;
    if (header.charCodeAt(i) === COMMA) {
      i++;
      continue;
    }
    const weak = header.startsWith('W/', i);
    if (weak) i += 2;
    if (header.charCodeAt(i) !== QUOTE) return false;
    const start = ++i;
    while (i < n && isEtagChar(header.charCodeAt(i))) i++;
    if (header.charCodeAt(i) !== QUOTE) return false;
    visit?.(weak, start, i);
    tags++;
    i++;
    skipWhiteSpace();
    if (i < n && header.charCodeAt(i) !== COMMA) return false;
  }
  return tags > 0;
}

/** The tags of an If-Match or If-None-Match value, `'*'`, or null when it is not a list of entity tags. */
export function parseEntityTags(header: string): EntityTag[] | '*' | null {
  const tags: EntityTag[] = [];
  const result = scanEntityTags(header, (weak, start, end) => {
    tags.push({ weak, opaque: header.slice(start, end) });
  });
  return result === '*' ? '*' : result ? tags : null;
}

/** The schema format of If-Match and If-None-Match (`entity-tags`). */
export function isEntityTagList(header: string): boolean {
  return scanEntityTags(header, null) !== false;
}

/** Whether If-Match lets a write to the resource at `version` proceed. */
export function ifMatchPasses(header: string, version: number): boolean {
  const tags = parseEntityTags(header);
  if (tags === '*') return true;
  return tags?.some((tag) => !tag.weak && tag.opaque === String(version)) ?? false;
}

/**
 * Whether If-None-Match says the client's copy is current (answer 304): the resource at `version`,
 * or a representation whose entity tag's opaque part (between the quotes) is `opaque`.
 */
export function ifNoneMatchHits(header: string, current: number | string): boolean {
  const tags = parseEntityTags(header);
  if (tags === '*') return true;
  const opaque = String(current);
  return tags?.some((tag) => tag.opaque === opaque) ?? false;
}
