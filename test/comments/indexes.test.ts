import { CompiledQuery, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/migrator.js';
import { commentsQuery, countComments } from '../../src/modules/comments/comments.repository.js';
import { createTestDatabase, type TestDatabase, testDatabaseUrl } from '../helpers/database.js';

/** A task's comments are read by seeks on comments_task_created, on both dialects: no scan, no sort. */

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
  await migrateToLatest(database.handle);
});
afterAll(async () => database.drop());

async function explain(query: CompiledQuery): Promise<string[]> {
  const db = database.handle.db;
  if (!testDatabaseUrl) {
    const result = await db.executeQuery<{ detail: string }>(
      CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]),
    );
    return result.rows.map((row) => row.detail);
  }
  return db.transaction().execute(async (trx) => {
    // Small tables make a scan and a sort cheapest; switched off, the plan shows whether an index CAN
    // serve the order (a plan that cannot still shows the Sort, at a disabled cost).
    await sql`set local enable_seqscan = off`.execute(trx);
    await sql`set local enable_sort = off`.execute(trx);
    const result = await trx.executeQuery<{ 'QUERY PLAN': string }>(
      CompiledQuery.raw(`explain ${query.sql}`, [...query.parameters]),
    );
    return result.rows.map((row) => row['QUERY PLAN']);
  });
}

const AFTER = { at: '2031-01-01T08:00:00.000Z', id: '01935c1f-2b3c-7d4e-8f5a-6b7c8d9e0f1a' };

describe('the plans of a task comment list', () => {
  it.each([
    ['the first page', null],
    ['a page after a cursor', AFTER],
  ])('%s seeks on comments_task_created and sorts nothing', async (_name, after) => {
    const plan = await explain(commentsQuery(database.handle.db, 'task-1', after).limit(21).compile());
    const text = plan.join('\n');
    expect(text).toMatch(/comments_task_created/);
    expect(text).not.toMatch(/TEMP B-TREE|^\s*Sort\b|->\s*Sort\b|Seq Scan|SCAN comments\b/m);
    if (after && testDatabaseUrl) expect(text).toMatch(/Index Cond:.*created_at/);
    if (after && !testDatabaseUrl) expect(text).toMatch(/\(created_at, ?id\) ?>/);
  });

  it('the count of version 1 reads the index only', async () => {
    const { db } = database.handle;
    expect(await countComments(db, 'task-1')).toBe(0);
    const count = db
      .selectFrom('comments')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('task_id', '=', 'task-1')
      .compile();
    const text = (await explain(count)).join('\n');
    expect(text).toMatch(/comments_task_created/);
    expect(text).not.toMatch(/Seq Scan|SCAN comments\b/);
  });
});
