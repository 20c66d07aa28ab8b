/**
 * One row per reset link mailed (a retried mail re-issues its request's link). Only the token's
 * SHA-256 is kept; a link is open while `used_at` and `invalidated_at` are null and
 * `expires_at` is ahead.
 */
export interface PasswordResetsTable {
  id: string;
  /** The job of the request that issued it. */
  request_id: string;
  user_id: string;
  /** Normalised, as the request gave it. */
  email: string;
  token_hash: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  /** Set when a newer link replaced it. */
  invalidated_at: string | null;
}
