import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/migrator.js';
import {
  type Change,
  ChangeLog,
  formatEventId,
  parseEventId,
  SYSTEM_ACTOR,
} from '../../src/lib/change-log.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

let t: TestDatabase;
const log = new ChangeLog(pino({ level: 'silent' }));

function change(subjectId: string, viewers: string[] = []): Change {
  return {
    type: 'task.created',
    at: '2031-01-01T08:00:00.000Z',
    actor: SYSTEM_ACTOR,
    projectId: 'p1',
    subject: { type: 'task', id: subjectId },
    taskId: subjectId,
    changes: null,
    data: { id: subjectId },
    viewers,
  };
}

async function positions(): Promise<number[]> {
  const rows = await t.handle.db.selectFrom('events').select('position').orderBy('position').execute();
  return rows.map((r) => Number(r.position));
}

beforeAll(async () => {
  t = await createTestDatabase();
  await migrateToLatest(t.handle);
});
afterAll(() => t.drop());

describe('the change log', () => {
  it('numbers the changes of a transaction in order, at its end, and announces the head after the commit', async () => {
    const heads: number[] = [];
    const stop = log.onCommit(({ head }) => heads.push(head));
    await log.transaction(t.handle.db, async (trx) => {
      log.record(trx, change('a', ['u1', 'u1', 'u2']));
      log.record(trx, change('b'));
      expect(heads).toEqual([]);
    });
    stop();
    expect(heads).toEqual([2]);
    expect(await positions()).toEqual([1, 2]);
    const viewers = await t.handle.db.selectFrom('event_viewers').selectAll().orderBy('user_id').execute();
    expect(viewers.map((v) => [v.user_id, Number(v.position)])).toEqual([
      ['u1', 1],
      ['u2', 1],
    ]);
    const state = await t.handle.db.selectFrom('event_log').selectAll().executeTakeFirstOrThrow();
    expect(Number(state.head)).toBe(2);
  });

  it('writes nothing and announces nothing when the transaction rolls back', async () => {
    const heads: number[] = [];
    const stop = log.onCommit(({ head }) => heads.push(head));
    await expect(
      log.transaction(t.handle.db, async (trx) => {
        log.record(trx, change('c'));
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    stop();
    expect(heads).toEqual([]);
    expect(await positions()).toEqual([1, 2]);
  });

  it('leaves the head alone for a transaction that records nothing', async () => {
    const heads: number[] = [];
    const stop = log.onCommit(({ head }) => heads.push(head));
    expect(await log.transaction(t.handle.db, async () => 7)).toBe(7);
    stop();
    expect(heads).toEqual([]);
  });

  it('refuses a change recorded outside one of its transactions', async () => {
    await expect(
      t.handle.db.transaction().execute(async (trx) => log.record(trx, change('d'))),
    ).rejects.toThrow(/outside a ChangeLog transaction/);
  });

  it('numbers 450 changes of one transaction (inserted in chunks)', async () => {
    await log.transaction(t.handle.db, async (trx) => {
      for (let i = 0; i < 450; i += 1) log.record(trx, change(`bulk-${i}`, [`u${i}`]));
    });
    const all = await positions();
    expect(all.length).toBe(452);
    expect(all.at(-1)).toBe(452);
  });
});

describe('event ids', () => {
  it('sort as strings in number order and parse back', () => {
    const ids = [9, 10, 11, 100, 1_000_000].map((n) => formatEventId('0a1b2e3f', n));
    expect([...ids].sort()).toEqual(ids);
    expect(parseEventId(ids[1] ?? '')).toEqual({ tag: '0a1b2e3f', position: 10 });
    expect(parseEventId('0a1b2e3f-10')).toBeNull();
    expect(parseEventId('0A1B2E3F-0000000000000010')).toBeNull();
    expect(parseEventId('0a1b2e3f-9999999999999999')).toBeNull();
  });
});
