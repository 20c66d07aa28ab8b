import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/migrator.js';
import type { Database } from '../../src/db/schema.js';
import type { AppContext } from '../../src/lib/module.js';
import { authStateLoaders } from '../../src/modules/auth/auth-state.loaders.js';
import {
  countLiveSessions,
  endOwnSession,
  endSession,
  endUserSessions,
  findRefreshToken,
  findSessionState,
  insertRefreshToken,
  insertSession,
  listLiveSessions,
  spendRefreshToken,
  touchSession,
} from '../../src/modules/auth/sessions.repository.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { userRow } from '../helpers/rows.js';

/**
 * The sessions repository on a migrated database of its own (in-memory SQLite, or a PostgreSQL
 * schema), and the auth cache's loaders over it: each query's conditions, one row set per case.
 */

let database: TestDatabase;
let db: Kysely<Database>;
const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();

async function session(id: string, userId: string, minute: number) {
  await insertSession(db, {
    id,
    user_id: userId,
    created_at: at(minute),
    user_agent: `ua-${id}`,
    ip: '192.0.2.1',
  });
}

beforeAll(async () => {
  database = await createTestDatabase();
  await migrateToLatest(database.handle);
  db = database.handle.db;
  await db
    .insertInto('users')
    .values([userRow('u1', at(0)), userRow('u2', at(0))])
    .execute();
});
afterAll(async () => database.drop());

describe('sessions', () => {
  it('are created live, found by id, touched, and ended once', async () => {
    await session('a1', 'u1', 1);
    expect(await findSessionState(db, 'a1')).toEqual({ id: 'a1', user_id: 'u1', ended_at: null });
    expect(await findSessionState(db, 'none')).toBeUndefined();
    await touchSession(db, 'a1', at(5));
    const [row] = await listLiveSessions(db, 'u1', 10, 0);
    expect(row).toEqual({
      id: 'a1',
      created_at: at(1),
      last_used_at: at(5),
      user_agent: 'ua-a1',
      ip: '192.0.2.1',
    });
    expect(await endSession(db, 'a1', 'logout', at(6))).toBe(true);
    expect(await endSession(db, 'a1', 'logout', at(7))).toBe(false);
    expect(await endSession(db, 'none', 'logout', at(7))).toBe(false);
    expect(await findSessionState(db, 'a1')).toEqual({ id: 'a1', user_id: 'u1', ended_at: at(6) });
    const ended = await db
      .selectFrom('sessions')
      .select('ended_reason')
      .where('id', '=', 'a1')
      .executeTakeFirst();
    expect(ended?.ended_reason).toBe('logout');
  });

  it("of one user end together, but for the one kept, and leave others' alone", async () => {
    await session('b1', 'u1', 10);
    await session('b2', 'u1', 11);
    await session('b3', 'u1', 12);
    await session('c1', 'u2', 10);
    expect(await endUserSessions(db, 'u1', 'password_changed', at(20), 'b2')).toBe(2);
    expect((await listLiveSessions(db, 'u1', 10, 0)).map((s) => s.id)).toEqual(['b2']);
    expect(await endUserSessions(db, 'u1', 'disabled', at(21))).toBe(1);
    expect(await endUserSessions(db, 'u1', 'disabled', at(21))).toBe(0);
    expect(await countLiveSessions(db, 'u1')).toBe(0);
    expect(await countLiveSessions(db, 'u2')).toBe(1);
  });

  it('list live ones newest first, by page or after a position, and count them', async () => {
    for (const [id, minute] of [
      ['d1', 30],
      ['d2', 31],
      ['d3', 31],
      ['d4', 32],
    ] as const)
      await session(id, 'u1', minute);
    const ids = async (
      limit: number,
      offset: number,
      after: { createdAt: string; id: string } | null = null,
    ) => (await listLiveSessions(db, 'u1', limit, offset, after)).map((s) => s.id);
    expect(await ids(10, 0)).toEqual(['d4', 'd3', 'd2', 'd1']);
    expect(await ids(2, 1)).toEqual(['d3', 'd2']);
    expect(await ids(10, 0, { createdAt: at(31), id: 'd3' })).toEqual(['d2', 'd1']);
    expect(await ids(1, 0, { createdAt: at(32), id: 'd4' })).toEqual(['d3']);
    expect(await countLiveSessions(db, 'u1')).toBe(4);
  });

  it('end one by its owner only, once', async () => {
    await session('e1', 'u2', 40);
    expect(await endOwnSession(db, 'u1', 'e1', at(41))).toBe(false);
    expect(await endOwnSession(db, 'u2', 'e1', at(41))).toBe(true);
    expect(await endOwnSession(db, 'u2', 'e1', at(42))).toBe(false);
    const row = await db
      .selectFrom('sessions')
      .select(['ended_at', 'ended_reason'])
      .where('id', '=', 'e1')
      .executeTakeFirst();
    expect(row).toEqual({ ended_at: at(41), ended_reason: 'revoked' });
  });
});

describe('refresh tokens', () => {
  it('are found with their session, and spent once', async () => {
    await session('f1', 'u2', 50);
    await insertRefreshToken(db, {
      token_hash: 'h1',
      session_id: 'f1',
      created_at: at(50),
      expires_at: at(59),
    });
    expect(await findRefreshToken(db, 'h1')).toEqual({
      session_id: 'f1',
      expires_at: at(59),
      spent_at: null,
      user_id: 'u2',
      ended_at: null,
    });
    expect(await findRefreshToken(db, 'h2')).toBeUndefined();
    expect(await spendRefreshToken(db, 'h1', at(51))).toBe(true);
    expect(await spendRefreshToken(db, 'h1', at(52))).toBe(false);
    expect(await spendRefreshToken(db, 'h2', at(52))).toBe(false);
    expect((await findRefreshToken(db, 'h1'))?.spent_at).toBe(at(51));
  });
});

describe('authStateLoaders', () => {
  it('read sessions from the table, users and keys through their services', async () => {
    await session('g1', 'u1', 55);
    const ctx = {
      database: database.handle,
      services: {
        users: { state: async (id: string) => (id === 'u1' ? { role: 'user', disabled: false } : null) },
        apiKeys: { stateOf: async (prefix: string) => (prefix === 'tfk_a' ? { id: 'k' } : null) },
      },
    } as unknown as AppContext;
    const loaders = authStateLoaders(ctx);
    expect(await loaders.session('g1')).toEqual({ userId: 'u1', ended: false });
    await endSession(db, 'g1', 'logout', at(56));
    expect(await loaders.session('g1')).toEqual({ userId: 'u1', ended: true });
    expect(await loaders.session('none')).toBeNull();
    expect(await loaders.user('u1')).toEqual({ role: 'user', disabled: false });
    expect(await loaders.user('u9')).toBeNull();
    expect(await loaders.apiKey('tfk_a')).toEqual({ id: 'k' });
  });
});
