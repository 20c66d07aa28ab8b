/**
 * Checks a webhook delivery's `Taskforge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` header
 * (the HMAC of `"<t>.<raw body>"` keyed with the UTF-8 bytes of the whole secret, `whsec_`
 * included). With WebCrypto, so it runs in browsers, Node 20, Deno and workers alike.
 */

export interface VerifyWebhookOptions {
  /** How far the signed timestamp may be from now, in seconds (default 300): older deliveries are replays. */
  toleranceSeconds?: number;
  /** The current time in unix seconds (default: the clock). */
  nowSeconds?: number;
}

const encoder = new TextEncoder();

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/**
 * True when the header parses, its timestamp is within the tolerance, and one of its `v1` values
 * is the HMAC of `rawBody` (the body exactly as received: verify before parsing it). The
 * comparison is WebCrypto's own `verify`, which takes the same time whatever the bytes.
 */
export async function verifyWebhook(
  signatureHeader: string,
  rawBody: string | Uint8Array,
  secret: string,
  options: VerifyWebhookOptions = {},
): Promise<boolean> {
  let t: string | null = null;
  const candidates: string[] = [];
  for (const part of signatureHeader.split(',')) {
    const [key, value] = part.trim().split('=', 2);
    if (key === 't' && value && /^[0-9]{1,12}$/.test(value)) t = value;
    else if (key === 'v1' && value && /^[0-9a-f]{64}$/.test(value)) candidates.push(value);
  }
  if (t === null || candidates.length === 0) return false;
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(t)) > (options.toleranceSeconds ?? 300)) return false;
  const key = await crypto.subtle.importKey(
    'raw',
    encoder.encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['verify'],
  );
  const body = typeof rawBody === 'string' ? encoder.encode(rawBody) : rawBody;
  const prefix = encoder.encode(`${t}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);
  for (const candidate of candidates) {
    if (await crypto.subtle.verify('HMAC', key, hexBytes(candidate), signed)) return true;
  }
  return false;
}
