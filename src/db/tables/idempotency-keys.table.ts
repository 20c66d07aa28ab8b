/**
 * One row per caller and Idempotency-Key (contract §4). While `status` is null the first request
 * runs (or ran and died: its lease ends at `lease_until`); once set, the row is the reply to
 * replay until `expires_at`. Times are RFC 3339 with milliseconds, so they compare as text.
 */
export interface IdempotencyKeysTable {
  /** SHA-256 (hex) of the caller and the key. */
  key_hash: string;
  /** HMAC-SHA-256 (hex) of the method, the route and the canonical body. */
  fingerprint: string;
  lease_id: string;
  lease_until: string;
  status: number | null;
  /** JSON object of the reply headers to replay (Location, ETag). */
  headers: string | null;
  body: string | null;
  expires_at: string;
}
