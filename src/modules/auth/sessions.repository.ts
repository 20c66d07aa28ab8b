import { type Kysely, type SqlBool, sql } from 'kysely';
import type { Database } from '../../db/schema.js';

/** All SQL about sessions and refresh tokens. */
type Db = Kysely<Database>;

export interface NewSession {
  id: string;
  user_id: string;
  created_at: string;
  user_agent: string | null;
  ip: string | null;
}

export async function insertSession(db: Db, session: NewSession): Promise<void> {
  await db
    .insertInto('sessions')
    .values({ ...session, last_used_at: session.created_at, ended_at: null, ended_reason: null })
    .execute();
}

export async function findSessionState(db: Db, id: string) {
  return db
    .selectFrom('sessions')
    .select(['id', 'user_id', 'ended_at'])
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Ends one live session; false when it was already ended or does not exist. */
export async function endSession(db: Db, id: string, reason: string, at: string): Promise<boolean> {
  const result = await db
    .updateTable('sessions')
    .set({ ended_at: at, ended_reason: reason })
    .where('id', '=', id)
    .where('ended_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Ends every live session of a user, except `keep` when given. */
export async function endUserSessions(
  db: Db,
  userId: string,
  reason: string,
  at: string,
  keep?: string,
): Promise<number> {
  let query = db
    .updateTable('sessions')
    .set({ ended_at: at, ended_reason: reason })
    .where('user_id', '=', userId)
    .where('ended_at', 'is', null);
  if (keep) query = query.where('id', '!=', keep);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function touchSession(db: Db, id: string, at: string): Promise<void> {
  await db.updateTable('sessions').set({ last_used_at: at }).where('id', '=', id).execute();
}

export async function insertRefreshToken(
  db: Db,
  token: { token_hash: string; session_id: string; created_at: string; expires_at: string },
): Promise<void> {
  await db
    .insertInto('refresh_tokens')
    .values({ ...token, spent_at: null })
    .execute();
}

export async function findRefreshToken(db: Db, tokenHash: string) {
  return db
    .selectFrom('refresh_tokens')
    .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
    .select([
      'refresh_tokens.session_id',
      'refresh_tokens.expires_at',
      'refresh_tokens.spent_at',
      'sessions.user_id',
      'sessions.ended_at',
    ])
    .where('refresh_tokens.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

export type RefreshTokenRecord = NonNullable<Awaited<ReturnType<typeof findRefreshToken>>>;

/** Spends a refresh token; false when another request spent it first. */
export async function spendRefreshToken(db: Db, tokenHash: string, at: string): Promise<boolean> {
  const result = await db
    .updateTable('refresh_tokens')
    .set({ spent_at: at })
    .where('token_hash', '=', tokenHash)
    .where('spent_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export interface SessionRow {
  id: string;
  created_at: string;
  last_used_at: string;
  user_agent: string | null;
  ip: string | null;
}

function liveSessions(db: Db, userId: string) {
  return db.selectFrom('sessions').where('user_id', '=', userId).where('ended_at', 'is', null);
}

/** A user's live sessions, newest first; version 2 passes the last one seen (keyset on the index). */
export async function listLiveSessions(
  db: Db,
  userId: string,
  limit: number,
  offset: number,
  after: { createdAt: string; id: string } | null = null,
): Promise<SessionRow[]> {
  let query = liveSessions(db, userId);
  if (after) query = query.where(sql<SqlBool>`(created_at, id) < (${after.createdAt}, ${after.id})`);
  return query
    .select(['id', 'created_at', 'last_used_at', 'user_agent', 'ip'])
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .offset(offset)
    .execute();
}

export async function countLiveSessions(db: Db, userId: string): Promise<number> {
  const row = await liveSessions(db, userId)
    .select((eb) => eb.fn.countAll().as('count'))
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Ends one live session of this user; false when it is not one (another's, ended, unknown). */
export async function endOwnSession(db: Db, userId: string, id: string, at: string): Promise<boolean> {
  const result = await db
    .updateTable('sessions')
    .set({ ended_at: at, ended_reason: 'revoked' })
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .where('ended_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
