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

function parseList(header: string): EntityTag[] | '*' {
  if (header.trim() === '*') return '*';
  const tags: EntityTag[] = [];
  for (const match of header.matchAll(/(W\/)?"([^"]*)"/g))
    tags.push({ weak: match[1] !== undefined, opaque: match[2] ?? '' });
  return tags;
}

/** Whether If-Match lets a write to the resource at `version` proceed. */
export function ifMatchPasses(header: string, version: number): boolean {
  const tags = parseList(header);
  if (tags === '*') return true;
  return tags.some((tag) => !tag.weak && tag.opaque === String(version));
}

/** Whether If-None-Match says the client's copy is current (answer 304). */
export function ifNoneMatchHits(header: string, version: number): boolean {
  const tags = parseList(header);
  if (tags === '*') return true;
  return tags.some((tag) => tag.opaque === String(version));
}
