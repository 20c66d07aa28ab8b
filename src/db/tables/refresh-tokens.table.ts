/**
 * Refresh tokens, stored only as SHA-256 hashes. A spent token is kept (with `spent_at`) until it
 * expires, so presenting it again is recognised as reuse and ends the session.
 */
export interface RefreshTokensTable {
  token_hash: string;
  session_id: string;
  created_at: string;
  expires_at: string;
  spent_at: string | null;
}
