import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * `Taskforge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` (contract
 * §8): the key is the UTF-8 bytes of the whole secret, `whsec_` included; the timestamp is signed
 * with the body, so a receiver that rejects old timestamps rejects replays.
 */
export function signatureHeader(secret: string, unixSeconds: number, rawBody: string | Buffer): string {
  return `t=${unixSeconds},v1=${hmac(secret, unixSeconds, rawBody)}`;
}

function hmac(secret: string, unixSeconds: number, rawBody: string | Buffer): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update(`${unixSeconds}.`)
    .update(rawBody)
    .digest('hex');
}

/**
 * What a receiver does (the guide and the SDK show the same): the header parses, its timestamp
 * is within `toleranceSeconds` of now, and one of its `v1` values matches, compared in constant time.
 */
export function verifySignature(
  header: string,
  rawBody: string | Buffer,
  secret: string,
  nowSeconds: number = Math.floor(Date.now() / 1000),
  toleranceSeconds = 300,
): boolean {
  let t: number | null = null;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const [key, value] = part.trim().split('=', 2);
    if (key === 't' && value && /^[0-9]{1,12}$/.test(value)) t = Number(value);
    else if (key === 'v1' && value && /^[0-9a-f]{64}$/.test(value)) candidates.push(value);
  }
  if (t === null || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(hmac(secret, t, rawBody), 'hex');
  return candidates.some((c) => timingSafeEqual(Buffer.from(c, 'hex'), expected));
}
