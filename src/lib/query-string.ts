/**
 * The query-string parser of the app (Fastify's default, fast-querystring, keeps a value whose
 * percent-encoding is not UTF-8 as its raw text, so `q=%FF` would search for "%ff"). Same shape:
 * `+` is a space, a repeated key collects its values in an array, a key without `=` is "". A key
 * or value that does not decode (invalid UTF-8, an encoded surrogate, a stray `%`) becomes
 * NOT_TEXT, a lone surrogate that every text, enum, id and number schema refuses: the request is
 * a 422 on `/query/<name>`, as the contract asks of text that is not text. Linear in the input.
 */
export const NOT_TEXT = '\uD800';

function decode(part: string): string {
  const spaced = part.includes('+') ? part.replaceAll('+', ' ') : part;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return NOT_TEXT;
  }
}

export function parseQueryString(raw: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = Object.create(null);
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decode(pair.slice(eq + 1));
    const seen = query[key];
    if (seen === undefined) query[key] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else query[key] = [seen, value];
  }
  return query;
}
