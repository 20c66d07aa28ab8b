import type { Generated } from 'kysely';

/** Timestamps are stored as RFC 3339 text with milliseconds, made by the app: they sort as text on both dialects. */
export interface UsersTable {
  id: string;
  email: string;
  name: string;
  role: 'admin' | 'user' | 'guest';
  /** 0 or 1: one representation on SQLite and PostgreSQL. */
  disabled: Generated<number>;
  password_hash: string;
  /** lower-cased `name email` for case-insensitive search on both dialects */
  search_text: string;
  created_at: string;
  updated_at: string;
}
