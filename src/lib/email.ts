/**
 * Email addresses: one format check and one normalisation, used by every route, the start-up
 * bootstrap and the command-line tool.
 *
 * Addresses are ASCII only (no quoted local parts, no internationalised names; IDNA is not
 * implemented). That makes normalisation alias-free: lower-casing only A–Z cannot map a different
 * address onto an existing one, whereas Unicode lower-casing folds the Kelvin sign U+212A to `k`
 * and would let `\u212Aate@example.com` reach `kate@example.com`.
 */
export const EMAIL_MAX = 254;
const LOCAL_MAX = 64;
const LABEL_MAX = 63;

// RFC 5322 atext, byte by byte: letters, digits and !#$%&'*+-/=?^_`{|}~ (the dot is handled apart).
const ATEXT = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~") {
  ATEXT[c.charCodeAt(0)] = 1;
}

function isAlnum(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/** dot-atom: atext runs separated by single dots, 1–64 characters. */
function isLocalPart(value: string, end: number): boolean {
  if (end < 1 || end > LOCAL_MAX) return false;
  let previousDot = true; // no leading dot
  for (let i = 0; i < end; i += 1) {
    const code = value.charCodeAt(i);
    if (code === 0x2e) {
      if (previousDot) return false;
      previousDot = true;
    } else if (code < 128 && ATEXT[code] === 1) {
      previousDot = false;
    } else {
      return false;
    }
  }
  return !previousDot; // no trailing dot
}

/** Two or more DNS labels of letters, digits and inner hyphens, each 1–63 characters. */
function isDomain(value: string, start: number): boolean {
  let labels = 0;
  let labelStart = start;
  for (let i = start; i <= value.length; i += 1) {
    const code = i < value.length ? value.charCodeAt(i) : 0x2e;
    if (code === 0x2e) {
      const length = i - labelStart;
      if (length < 1 || length > LABEL_MAX) return false;
      if (value.charCodeAt(labelStart) === 0x2d || value.charCodeAt(i - 1) === 0x2d) return false;
      labels += 1;
      labelStart = i + 1;
    } else if (!isAlnum(code) && code !== 0x2d) {
      return false;
    }
  }
  return labels >= 2;
}

/** Whether a value is an address we accept. One pass over the characters: linear in its length. */
export function isEmail(value: string): boolean {
  if (value.length < 3 || value.length > EMAIL_MAX) return false;
  const at = value.indexOf('@');
  if (at < 0 || value.indexOf('@', at + 1) >= 0) return false;
  return isLocalPart(value, at) && isDomain(value, at + 1);
}

// Any UTF-16 code unit above 0x7F (surrogates included): a character outside ASCII.
const NON_ASCII = /[\u0080-\uffff]/;

/**
 * The stored and compared form of an address: A–Z lower-cased, nothing else touched. For ASCII
 * text, toLowerCase changes exactly A–Z. A value with any other character is not an address we
 * accept, so it matches no stored one: it is returned as it is, never folded onto ASCII letters.
 */
export function normalizeEmail(value: string): string {
  return NON_ASCII.test(value) ? value : value.toLowerCase();
}
