/** One row per login. `ended_at` is kept (not deleted) so old tokens stay `token_revoked` forever. */
export interface SessionsTable {
  id: string;
  user_id: string;
  created_at: string;
  last_used_at: string;
  user_agent: string | null;
  ip: string | null;
  ended_at: string | null;
  /** logout · logout_all · password_change · disabled · refresh_reuse · admin_takeover · password_reset · revoked (DELETE /auth/sessions/{id}) */
  ended_reason: string | null;
}
