import { CompiledQuery, sql } from 'kysely';
import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/migrator.js';
import { visibleQuery } from '../../src/modules/events/events.repository.js';
import { SCAN_LIMIT } from '../../src/modules/events/events.service.js';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from '../helpers/database.js';

/**
 * The feed's read (events.repository visibleBetween) with 10,000 events and a reader in 100
 * projects: a range of the events' primary key, bounded by the scan, on both dialects; the
 * viewers it is named in are read by a range of their primary key too, never all of its rows.
 */

let database: TestDatabase;
const READER = uuidv7();
const EVENTS = 10_000;

beforeAll(async () => {
  database = await createTestDatabase();
  await migrateToLatest(database.handle);
  const { db } = database.handle;
  const at = '2031-01-01T08:00:00.000Z';
  const others = Array.from({ length: 50 }, () => uuidv7());
  await db
    .insertInto('users')
    .values(
      [READER, ...others].map((id, i) => ({
        id,
        email: `reader${i}@example.com`,
        name: 'Reader',
        role: 'user' as const,
        password_hash: 'x',
        search_text: 'reader',
        created_at: at,
        updated_at: at,
      })),
    )
    .execute();
  const projects = Array.from({ length: 300 }, () => uuidv7());
  for (const [i, id] of projects.entries()) {
    await db
      .insertInto('projects')
      .values({
        id,
        name: 'P',
        description: '',
        owner_id: READER,
        personal: 0,
        archived: 0,
        search_text: 'p',
        version: 1,
        created_at: at,
        updated_at: at,
      })
      .execute();
    // The reader in 100 of them; 20 other members in each.
    const members = [...(i < 100 ? [READER] : []), ...others.slice(0, 20)];
    await db
      .insertInto('project_members')
      .values(
        members.map((userId) => ({ project_id: id, user_id: userId, role: 'viewer' as const, added_at: at })),
      )
      .execute();
  }
  for (let from = 0; from < EVENTS; from += 500) {
    const positions = Array.from({ length: 500 }, (_, i) => from + i + 1);
    await db
      .insertInto('events')
      .values(
        positions.map((position) => ({
          position,
          type: 'task.updated',
          occurred_at: at,
          actor_type: 'system' as const,
          actor_id: null,
          project_id: projects[position % projects.length] as string,
          subject_type: 'task',
          subject_id: uuidv7(),
          task_id: null,
          changes: null,
          data: '{}',
        })),
      )
      .execute();
    // Every event names a viewer: the reader one in ten, the others the rest.
    await db
      .insertInto('event_viewers')
      .values(
        positions.map((position) => ({
          user_id: position % 10 === 0 ? READER : (others[position % others.length] as string),
          position,
        })),
      )
      .execute();
  }
  // The tables the feed reads, not the whole database: a bare ANALYZE on PostgreSQL reads every
  // schema of the shared test database (every other file's too) and met the 5 s statement timeout in CI.
  if (testDatabaseUrl) await sql`analyze events, event_viewers, project_members, projects, users`.execute(db);
  else await sql`analyze`.execute(db);
});
afterAll(async () => database?.drop());

async function explain(query: CompiledQuery): Promise<string> {
  const db = database.handle.db;
  if (!testDatabaseUrl) {
    const result = await db.executeQuery<{ detail: string }>(
      CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]),
    );
    return result.rows.map((row) => row.detail).join('\n');
  }
  const result = await db.executeQuery<{ 'QUERY PLAN': string }>(
    CompiledQuery.raw(`explain ${query.sql}`, [...query.parameters]),
  );
  return result.rows.map((row) => row['QUERY PLAN']).join('\n');
}

describe('the plan of a feed read', () => {
  it.each([
    ['from the start', 0],
    ['in the middle', 5000],
  ])(
    '%s: a primary-key range of events and of the viewers, no scan of a table, no sort',
    async (_name, after) => {
      const { db } = database.handle;
      const through = after + SCAN_LIMIT;
      const member = await explain(
        visibleQuery(db, { userId: READER, admin: false }, after, through).limit(100).compile(),
      );
      const admin = await explain(
        visibleQuery(db, { userId: READER, admin: true }, after, through).limit(100).compile(),
      );
      const sorted = /TEMP B-TREE|^\s*Sort\b|->\s*Sort\b/m;
      if (testDatabaseUrl) {
        for (const plan of [member, admin]) {
          expect(plan, plan).toMatch(/Index Scan using events_pkey on events e/);
          expect(plan, plan).toMatch(/Index Cond: \(\("position" > .*\) AND \("position" <= .*\)\)/);
          expect(plan, plan).not.toMatch(sorted);
          expect(plan, plan).not.toMatch(/Seq Scan on (events|event_viewers)/);
        }
        // The viewers it is named in: an index range within the scan (whichever index serves it);
        // its memberships by an index, never by reading every membership.
        expect(member, member).toMatch(
          /on event_viewers v\b.*\n.*Index Cond: .*"position" > .*"position" <= /,
        );
        expect(member, member).toMatch(
          /Index Scan on project_members_user|using project_members_\w+ on project_members m/,
        );
        expect(member, member).not.toMatch(/Seq Scan on project_members/);
      } else {
        for (const plan of [member, admin]) {
          expect(plan, plan).toMatch(
            /SEARCH e USING INDEX sqlite_autoindex_events_1 \(position>\? AND position<\?\)/,
          );
          expect(plan, plan).not.toMatch(sorted);
          expect(plan, plan).not.toMatch(/SCAN (e|v|m)\b|MULTI-INDEX OR/);
        }
        expect(member, member).toMatch(/SEARCH m USING COVERING INDEX \w+ \(project_id=\? AND user_id=\?\)/);
        expect(member, member).toMatch(
          /SEARCH v USING COVERING INDEX sqlite_autoindex_event_viewers_1 \(user_id=\? AND position>\? AND position<\?\)/,
        );
      }
    },
  );
});
