/**
 * API keys. The secret is stored only as its SHA-256 hash (a high-entropy secret needs no slow
 * hash); `prefix`, its public part, is unique and is how a presented key is looked up. A revoked
 * key is deleted: nothing refers to it, and an unknown key is `invalid_token` like a revoked one.
 */
export interface ApiKeysTable {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  secret_hash: string;
  /** The granted scopes, space-separated, in the order they were asked for. */
  scopes: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}
