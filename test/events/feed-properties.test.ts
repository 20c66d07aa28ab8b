import fc from 'fast-check';
import {
  type Kysely,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  sql,
  type UnknownRow,
} from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../../src/db/database.js';
import type { Database } from '../../src/db/schema.js';
import { parseEventId } from '../../src/lib/change-log.js';
import type { Event } from '../../src/modules/events/events.schemas.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { testDatabaseUrl } from '../helpers/database.js';
import { signedIn } from '../helpers/factories.js';
import { addMember, createProject, removeMember } from '../helpers/projects.js';
import {
  change,
  type FeedPage,
  follow,
  getJson,
  headOf,
  type MarkedChange,
  markOf,
  record,
} from './feed-helpers.js';

/**
 * Properties of the change feed (contract §8) under random schedules:
 * 1. concurrent writers — transactions that record events, stay open a random time and commit
 *    or roll back in an order other than their start order (on PostgreSQL each on a connection
 *    of its own, so they truly overlap) — while a reader follows the feed with `next`: the reader
 *    gets every committed event once, in id order, and no rolled-back one; a head read before a
 *    list, plus the feed from that head, misses nothing;
 * 2. random membership changes between reads: each read serves exactly the events of its scan
 *    that the reader may see at that moment.
 * Runs are few (numRuns) so the file stays well under a minute on a shared machine.
 */

let t: TestApp;
/** The writers' own connections (PostgreSQL): a pool apart from the app's, which the reader uses. */
let writers: DatabaseHandle | null = null;
let writerDb: Kysely<Database>;

beforeAll(async () => {
  t = await buildTestApp();
  if (testDatabaseUrl && t.db.schema) {
    writers = openDatabase(
      { kind: 'postgres', connectionString: testDatabaseUrl },
      { searchPath: t.db.schema, poolSize: 8 },
    );
    writerDb = writers.db;
  } else {
    // SQLite has one connection: its transactions run one at a time, in the order they begin.
    writerDb = t.app.ctx.database.db;
  }
});
afterAll(async () => {
  await writers?.close();
  await t?.close();
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const positionOf = (event: Event) => parseEventId(event.id)?.position ?? Number.NaN;

class RolledBack extends Error {}

/**
 * Keeps a transaction open `ms` after it has taken its event numbers (the UPDATE of event_log),
 * before its inserts and commit: the window in which numbers taken before commit (a sequence, a
 * UUIDv7) would let a reader pass a smaller number that has not committed yet.
 */
class HoldAfterNumbering implements KyselyPlugin {
  private readonly numbering = new Set<unknown>();
  constructor(private readonly ms: number) {}
  transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
    if (node.kind === 'UpdateQueryNode' && JSON.stringify(node).includes('"event_log"'))
      this.numbering.add(queryId);
    return node;
  }
  async transformResult({ queryId, result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.numbering.delete(queryId)) await sleep(this.ms);
    return result;
  }
}

interface WriterSpec {
  events: number;
  commit: boolean;
  /** Time the transaction stays open once released (ms). */
  hold: number;
  /** Time it stays open once it has taken its numbers (ms). */
  numbered: number;
}

interface Schedule {
  writers: WriterSpec[];
  /** The order in which the writers are let go: a permutation of their indexes. */
  releaseOrder: number[];
  /** Pauses between two releases (ms). */
  gaps: number[];
  /** After how many releases the syncer reads the head, then "lists". */
  syncAfter: number;
}

const schedule: fc.Arbitrary<Schedule> = fc
  .array(
    fc.record({
      events: fc.integer({ min: 1, max: 3 }),
      commit: fc.boolean(),
      hold: fc.integer({ min: 0, max: 15 }),
      numbered: fc.integer({ min: 0, max: 15 }),
    }),
    { minLength: 2, maxLength: 6 },
  )
  .chain((ws) =>
    fc.record({
      writers: fc.constant(ws),
      releaseOrder: fc.shuffledSubarray(
        ws.map((_, i) => i),
        { minLength: ws.length, maxLength: ws.length },
      ),
      gaps: fc.array(fc.integer({ min: 0, max: 8 }), { minLength: ws.length, maxLength: ws.length }),
      syncAfter: fc.integer({ min: 0, max: ws.length }),
    }),
  );

describe('the feed under concurrent writers', () => {
  it('serves every committed event once, in id order, none rolled back; head + list + feed misses nothing', async () => {
    const owner = await signedIn(t.app);
    const reader = await signedIn(t.app);
    const syncer = await signedIn(t.app);
    const p = await createProject(t.app, owner.user.id);
    await addMember(t.app, p, reader.user.id, 'viewer');
    await addMember(t.app, p, syncer.user.id, 'viewer');

    await fc.assert(
      fc.asyncProperty(schedule, async (s) => {
        const start = await headOf(t.app, reader.headers);
        const committed = new Set<string>();
        const rolledBack = new Set<string>();
        const gates = s.writers.map(() => {
          let open = () => {};
          const promise = new Promise<void>((resolve) => {
            open = resolve;
          });
          return { promise, open };
        });

        const run = (spec: WriterSpec, i: number, started: () => void) => {
          const changes: MarkedChange[] = Array.from({ length: spec.events }, () => change(p));
          return t.app.ctx.changes
            .transaction(writerDb.withPlugin(new HoldAfterNumbering(spec.numbered)), async (trx) => {
              // A statement of its own: the transaction has begun and holds its connection.
              await sql`select 1`.execute(trx);
              started();
              for (const c of changes) t.app.ctx.changes.record(trx, c);
              await gates[i]?.promise;
              await sleep(spec.hold);
              if (!spec.commit) throw new RolledBack();
            })
            .then(
              () => {
                for (const c of changes) committed.add(c.data.mark);
              },
              (error: unknown) => {
                if (!(error instanceof RolledBack)) throw error;
                for (const c of changes) rolledBack.add(c.data.mark);
              },
            );
        };

        // Begun in index order: on PostgreSQL each waits until the one before has begun.
        const running: Promise<void>[] = [];
        for (const [i, spec] of s.writers.entries()) {
          let started = () => {};
          const begun = new Promise<void>((resolve) => {
            started = resolve;
          });
          running.push(run(spec, i, started));
          if (writers) await begun;
        }

        // The follower: reads with `next` while the writers run, then once more to the head.
        let done = false;
        const served: Event[] = [];
        const follower = (async () => {
          let next = start;
          for (;;) {
            const finished = done;
            const page = await getJson<FeedPage>(t.app, `/events?after=${next}&limit=3`, reader.headers);
            served.push(...page.items);
            expect(page.next >= next).toBe(true);
            next = page.next;
            if (finished && !page.hasMore) return;
            if (!page.hasMore) await sleep(1);
          }
        })();

        // The syncer: head, then the "list" (what has committed by then), then the feed from head.
        let sync: { head: string; listed: Set<string> } | null = null;
        const takeSync = async () => {
          const head = await headOf(t.app, syncer.headers);
          const rows = await t.app.ctx.database.db.selectFrom('events').select('data').execute();
          const listed = new Set(rows.map((r) => (JSON.parse(r.data) as { mark?: string }).mark ?? ''));
          sync = { head, listed };
        };

        // Not awaited here: on SQLite it waits for the connection an unreleased writer holds.
        let syncing: Promise<void> | null = null;
        for (const [k, i] of s.releaseOrder.entries()) {
          if (k === s.syncAfter) syncing = takeSync();
          gates[i]?.open();
          await sleep(s.gaps[k] ?? 0);
        }
        await Promise.all(running);
        await (syncing ?? takeSync());
        done = true;
        await follower;

        // Every committed event once, in id order; none rolled back.
        const ours = served.filter((e) => {
          const mark = markOf(e);
          return mark !== undefined && (committed.has(mark) || rolledBack.has(mark));
        });
        const positions = served.map(positionOf);
        expect(positions).toEqual([...positions].sort((a, b) => a - b));
        expect(new Set(positions).size).toBe(positions.length);
        expect(ours.map(markOf).sort()).toEqual([...committed].sort());

        // Head, then list, then the feed from the head: each committed event is in one of them.
        const { head, listed } = sync as unknown as { head: string; listed: Set<string> };
        const { events: fromHead } = await follow(t.app, syncer.headers, head);
        const fed = new Set(fromHead.map(markOf));
        for (const mark of committed) expect(listed.has(mark) || fed.has(mark), mark).toBe(true);
        for (const e of fromHead) expect(e.id > head).toBe(true);
      }),
      { numRuns: writers ? 25 : 15 },
    );
  });
});

type Step =
  | { kind: 'join'; project: number }
  | { kind: 'leave'; project: number }
  | { kind: 'event'; project: number; namesReader: boolean }
  | { kind: 'read'; limit: number };

const PROJECTS = 3;
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('join' as const), project: fc.integer({ min: 0, max: PROJECTS - 1 }) }),
  fc.record({ kind: fc.constant('leave' as const), project: fc.integer({ min: 0, max: PROJECTS - 1 }) }),
  fc.record({
    kind: fc.constant('event' as const),
    project: fc.integer({ min: 0, max: PROJECTS - 1 }),
    namesReader: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('read' as const), limit: fc.integer({ min: 1, max: 4 }) }),
);

describe('the feed under membership changes', () => {
  it('serves each read exactly the events of its scan the reader may see at that moment', async () => {
    const owner = await signedIn(t.app);
    const reader = await signedIn(t.app);
    const projects: string[] = [];
    for (let i = 0; i < PROJECTS; i++) projects.push(await createProject(t.app, owner.user.id));

    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        // Each run starts with the reader a member of nothing.
        for (const project of projects) await removeMember(t.app, project, reader.user.id);
        const member = new Set<number>();
        /** Ours, by number: its project and whether it names the reader as a viewer. */
        const log = new Map<number, { mark: string; project: number; namesReader: boolean }>();
        let next = await headOf(t.app, reader.headers);

        const write = async (project: number, c: MarkedChange) => {
          await record(t.app, [c]);
          const head = (await t.app.ctx.services.events.state()).head;
          log.set(head, { mark: c.data.mark, project, namesReader: c.viewers.includes(reader.user.id) });
        };
        const read = async (limit: number) => {
          const from = parseEventId(next)?.position ?? Number.NaN;
          const page = await getJson<FeedPage>(t.app, `/events?after=${next}&limit=${limit}`, reader.headers);
          const to = parseEventId(page.next)?.position ?? Number.NaN;
          const expected = [...log.entries()]
            .filter(([n, e]) => n > from && n <= to && (member.has(e.project) || e.namesReader))
            .sort(([a], [b]) => a - b)
            .map(([, e]) => e.mark);
          const ours = new Set([...log.values()].map((e) => e.mark));
          const got = page.items.map(markOf).filter((m): m is string => m !== undefined && ours.has(m));
          expect(got).toEqual(expected);
          expect(page.items.length).toBeLessThanOrEqual(limit);
          next = page.next;
          return page;
        };

        for (const s of steps) {
          const about = { type: 'member' as const, id: reader.user.id };
          if (s.kind === 'join' && !member.has(s.project)) {
            const projectId = projects[s.project] as string;
            await addMember(t.app, projectId, reader.user.id, 'viewer');
            member.add(s.project);
            await write(
              s.project,
              change(projectId, {
                type: 'member.added',
                subject: about,
                taskId: null,
                viewers: [reader.user.id],
              }),
            );
          } else if (s.kind === 'leave' && member.has(s.project)) {
            const projectId = projects[s.project] as string;
            await removeMember(t.app, projectId, reader.user.id);
            member.delete(s.project);
            await write(
              s.project,
              change(projectId, {
                type: 'member.removed',
                subject: about,
                taskId: null,
                viewers: [reader.user.id],
              }),
            );
          } else if (s.kind === 'event') {
            const projectId = projects[s.project] as string;
            await write(s.project, change(projectId, { viewers: s.namesReader ? [reader.user.id] : [] }));
          } else if (s.kind === 'read') {
            await read(s.limit);
          }
        }
        // To the head, under the final memberships.
        for (;;) if (!(await read(4)).hasMore) break;
      }),
      { numRuns: 20 },
    );
  });
});
