/**
 * npm run bench:scale — what lists, the change feed and stats cost at a million tasks (a benchmark,
 * not a test, not in CI). Against the database DATABASE_URL names (default: a SQLite file in the
 * temporary folder), seeded first when it is not yet (`npm run seed -- --users 1000 --projects
 * 10000 --tasks 1000000 --events 10000000`, which continues an interrupted seed and does nothing on a
 * complete one). Prints, through the repositories the routes use (no HTTP):
 *
 *   - version 2 pages: the first 1,000 pages walked by cursor position (each fetch timed), the fetch
 *     at pages 1, 1,000 and 50,000 timed (median of 5; page 50,000 from a position read off the sort's
 *     index, as reading the 999,980 rows before it takes minutes of disk on a busy machine), for an
 *     admin (1M tasks) and for user 1 (~100,000 tasks in ~50 projects)
 *   - version 1 pages at the same depths (offset), and the count each one also makes
 *   - the query plan of every list filter alone and every sort alone, for user 1 and for an admin
 *   - the change feed (a page of 100 after the start, the middle and near the head of the log)
 *   - stats, with and without the stats cache (the service's path through src/modules/tasks/stats-cache.ts)
 *
 *   npm run bench:scale
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/scale npm run bench:scale
 *   npm run bench:scale -- --sorts -createdAt,dueAt   # walk fewer sorts (each admin walk is 50,000 pages)
 *   npm run bench:scale -- --no-seed                  # the database as it is, seeded in part or not
 *   npm run bench:scale -- --no-seed --only due,feed  # only these sections (due: due ranges sorted by another key; feed: the change feed)
 *   DATABASE_URL=sqlite:/tmp/small.db npm run bench:scale -- --users 50 --projects 100 --tasks 20000 --events 50000
 */
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CompiledQuery, type Kysely, sql } from 'kysely';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { type DatabaseHandle, openDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import type { Database } from '../src/db/schema.js';
import type { Principal } from '../src/lib/principal.js';
import { visibleBetween } from '../src/modules/events/events.repository.js';
import { SCAN_LIMIT } from '../src/modules/events/events.service.js';
import { SORTS, type Sort, sortColumn, type TaskFilter } from '../src/modules/tasks/task-fields.js';
import {
  countTasks,
  listTasks,
  type Position,
  positionOf,
  taskStats,
  type Visibility,
} from '../src/modules/tasks/tasks.repository.js';

const ROOT = resolve(import.meta.dirname, '..');
const PAGE = 20;
const DEPTHS = [1, 1_000, 50_000];
const RUNS = 5;
/** Pages walked by cursor, each fetch timed; deeper pages start from a position read off the index. */
const WALK = 1_000;
const DEEP = 50_000;

const databaseUrl = process.env.DATABASE_URL || `sqlite:${join(tmpdir(), 'taskforge-scale.db')}`;

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
/** The seed's sizes: the issue's by default; smaller ones (`--tasks 20000`) try the benchmark out. */
const SIZES = Object.entries({ users: 1000, projects: 10_000, tasks: 1_000_000, events: 10_000_000 }).flatMap(
  ([name, size]) => [`--${name}`, flag(name) ?? String(size)],
);
const ALL_SORTS = SORTS.flatMap((key) => [key, `-${key}`]);
const sorts = (flag('sorts')?.split(',') ?? ALL_SORTS).filter((s) => ALL_SORTS.includes(s));
const toSort = (s: string): Sort => ({
  key: s.replace(/^-/, '') as Sort['key'],
  descending: s.startsWith('-'),
});

function seed(): void {
  process.stderr.write(`seeding (or checking the seed of) ${databaseUrl}…\n`);
  const run = spawnSync('npm', ['run', '--silent', 'seed', '--', ...SIZES], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl, NODE_ENV: process.env.NODE_ENV ?? 'development' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (run.status !== 0) throw new Error(`the seed failed (exit ${run.status})`);
}

function open(): DatabaseHandle {
  if (databaseUrl.startsWith('sqlite:')) {
    return openDatabase(
      { kind: 'sqlite', filename: databaseUrl.slice('sqlite:'.length) },
      { statementTimeoutMs: 0 },
    );
  }
  return openDatabase(
    { kind: 'postgres', connectionString: databaseUrl },
    { statementTimeoutMs: 0, poolSize: 2 },
  );
}

async function ms<T>(work: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const result = await work();
  return [performance.now() - start, result];
}

/** Median of RUNS runs, in ms. */
async function median(work: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i += 1) times.push((await ms(work))[0]);
  times.sort((a, b) => a - b);
  return times[Math.floor(RUNS / 2)] ?? Number.NaN;
}

const f = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

function table(head: string[], rows: (string | number)[][]): void {
  console.log(`| ${head.join(' | ')} |`);
  console.log(`| ${head.map(() => '---').join(' | ')} |`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  console.log();
}

/**
 * The position of the row at `offset` of an unfiltered list in the sort's order, read off the sort's
 * index alone (key and id; an admin's list, without the archived projects' check): where the walk
 * arrives after `offset / PAGE` pages, give or take the archived projects' tasks, without reading
 * every row before it. Undefined past the end (user 1 has no page 50,000).
 */
async function positionAt(
  db: Kysely<Database>,
  visibility: Visibility,
  sort: Sort,
  offset: number,
): Promise<Position | undefined> {
  if (!visibility.all) return undefined;
  const { column, nullable } = sortColumn(sort.key);
  const dir = sort.descending ? sql.raw('desc') : sql.raw('asc');
  const key = sql.ref(`tasks.${column}`);
  const nulls = sort.descending ? sql`(${key} is not null) desc,` : sql`(${key} is null) asc,`;
  const { rows } = await sql<{ v: string | number | null; id: string }>`select ${key} as v, tasks.id as id
    from tasks order by ${nullable ? nulls : sql``} ${key} ${dir}, tasks.id ${dir} limit 1 offset ${offset}`.execute(
    db,
  );
  return rows[0];
}

/** A statement's plan, repeated lines (one per project branch) folded into `n×`. */
async function plan(handle: DatabaseHandle, query: CompiledQuery): Promise<string[]> {
  const lines =
    handle.dialect === 'sqlite'
      ? (
          await handle.db.executeQuery<{ detail: string }>(
            CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]),
          )
        ).rows.map((row) => row.detail)
      : (
          await handle.db.executeQuery<{ 'QUERY PLAN': string }>(
            CompiledQuery.raw(`explain ${query.sql}`, [...query.parameters]),
          )
        ).rows.map((row) => row['QUERY PLAN'].replace(/\s+\(cost=.*$/, '').trimEnd());
  const folded: { line: string; n: number }[] = [];
  for (const line of lines) {
    const key = line.replace(/\bb\d+\b/g, 'b…').replace(/\$\d+/g, '$…');
    const last = folded.at(-1);
    const same = folded.find((entry) => entry.line === key);
    if (same && (last === same || /b…/.test(key) || /tasks_project_/.test(key))) same.n += 1;
    else folded.push({ line: key, n: 1 });
  }
  return folded.map(({ line, n }) => (n > 1 ? `${n}× ${line}` : line));
}

/** The statements one call sends, caught by a logging executor over the same connection pool. */
function catching(handle: DatabaseHandle): { db: Kysely<Database>; caught: CompiledQuery[] } {
  const caught: CompiledQuery[] = [];
  const db = handle.db.withPlugin({
    transformQuery: (args) => args.node,
    transformResult: async (args) => args.result,
  });
  const executor = db.getExecutor();
  const original = executor.executeQuery.bind(executor);
  executor.executeQuery = <R>(query: CompiledQuery<R>) => {
    caught.push(query);
    return original(query);
  };

  return { db, caught };
}

/** Pages walked by cursor in the due-range cases; the last one is the deep page timed. */
const DUE_WALK = 50;

/**
 * A due range sorted by another key (due dates follow creation dates, so the early range's matches
 * sit at the far end of `-createdAt`): page 1 on the first fetch and warm (median of 3), then the
 * walk of DUE_WALK pages by cursor (mean, slowest) and its last page again (median of 3).
 */
async function dueRanges(db: Kysely<Database>, callers: [string, Visibility][]): Promise<void> {
  const from = new Date(Date.UTC(2026, 5, 1)).toISOString();
  const to = new Date(Date.UTC(2026, 5, 8)).toISOString();
  const cases: [string, TaskFilter][] = [
    [`dueBefore ${from.slice(0, 10)}`, { dueBefore: from }],
    ['a week', { dueAfter: from, dueBefore: to }],
    [`dueAfter ${to.slice(0, 10)}`, { dueAfter: to }],
  ];
  const three = async (work: () => Promise<unknown>) => {
    const times: number[] = [];
    for (let i = 0; i < 3; i += 1) times.push((await ms(work))[0]);
    return times.sort((a, b) => a - b)[1] ?? Number.NaN;
  };
  console.log(`## Due ranges sorted by another key (page ${PAGE}; walk of ${DUE_WALK} pages by cursor)\n`);
  const rows: (string | number)[][] = [];
  for (const [who, visibility] of callers) {
    for (const [name, filter] of cases) {
      for (const s of ['-createdAt', 'title', 'priority']) {
        const sort = toSort(s);
        const page1 = () => listTasks(db, visibility, filter, sort, PAGE + 1, 0);
        const [first] = await ms(page1);
        const warm = await three(page1);
        let after: Position | null = null;
        let total = 0;
        let slowest = 0;
        let pages = 0;
        for (; pages < DUE_WALK; pages += 1) {
          const position = after;
          const [took, page] = await ms(() => listTasks(db, visibility, filter, sort, PAGE + 1, 0, position));
          total += took;
          slowest = Math.max(slowest, took);
          const last = page[PAGE - 1];
          if (page.length <= PAGE || !last) break;
          after = positionOf(last, sort);
        }
        const deep = after;
        const deepMs = deep
          ? f(await three(() => listTasks(db, visibility, filter, sort, PAGE + 1, 0, deep)))
          : '—';
        rows.push([
          who,
          name,
          s,
          f(first),
          f(warm),
          deepMs,
          `${f(total / Math.max(1, pages))} / ${f(slowest)}`,
        ]);
        process.stderr.write(`due ${who} ${name} ${s}: done\n`);
      }
    }
  }
  table(
    [
      'caller',
      'range',
      'sort',
      'page 1, first fetch',
      'page 1, warm',
      `page ${DUE_WALK}`,
      'mean / slowest page of the walk',
    ],
    rows,
  );
}

async function changeFeed(
  db: Kysely<Database>,
  callers: [string, Visibility][],
  events: number,
): Promise<void> {
  console.log(
    `## Change feed (${events.toLocaleString('en')} events; a page of 100 scans at most ${SCAN_LIMIT} numbers)\n`,
  );
  const state = await db.selectFrom('event_log').select(['head']).executeTakeFirstOrThrow();
  const head = Number(state.head);
  const feedRows: (string | number)[][] = [];
  for (const [who, visibility] of callers) {
    const viewer = { userId: visibility.all ? 'admin' : visibility.userId, admin: visibility.all };
    const cells: string[] = [];
    for (const after of [0, Math.floor(head / 2), Math.max(0, head - 2000)]) {
      const through = Math.min(head, after + SCAN_LIMIT);
      cells.push(f(await median(() => visibleBetween(db, viewer, after, through, 100))));
    }
    feedRows.push([who, ...cells]);
  }
  table(['caller', 'after 0', 'after head/2', 'after head − 2,000'], feedRows);
}

async function main(): Promise<void> {
  // A complete seed checks its sizes and returns; an absent or interrupted one is made or continued.
  // --no-seed measures the database as it is (a partly seeded one: the header gives its counts).
  if (!process.argv.includes('--no-seed')) seed();
  const handle = open();
  // A database seeded by an earlier version: the service's migrations since (the seed applies them too).
  await migrateToLatest(handle);
  const db = handle.db;
  const dialect = handle.dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL';
  const userRow = await db
    .selectFrom('users')
    .select('id')
    .where('email', '=', 'user-1@seed.invalid')
    .executeTakeFirstOrThrow();
  const USER: Visibility = { all: false, userId: userRow.id };
  const ADMIN: Visibility = { all: true };
  const callers: [string, Visibility][] = [
    ['admin', ADMIN],
    ['user 1', USER],
  ];
  const [tasks = 0, projects = 0, events = 0] = await Promise.all(
    ['tasks', 'project_members', 'events'].map(async (t) =>
      Number((await sql<{ n: string }>`select count(*) as n from ${sql.table(t)}`.execute(db)).rows[0]?.n),
    ),
  );
  const userProjects = Number(
    (
      await db
        .selectFrom('project_members')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('user_id', '=', USER.userId)
        .executeTakeFirst()
    )?.n,
  );
  const visibleToUser = await countTasks(db, USER, {});
  console.log(`# bench:scale on ${dialect} (${databaseUrl.replace(/\/\/[^@/]*@/, '//…@')})\n`);
  console.log(
    `${tasks.toLocaleString('en')} tasks, ${projects.toLocaleString('en')} memberships, ${events.toLocaleString('en')} events; user 1: ${userProjects} projects, ${visibleToUser.toLocaleString('en')} visible tasks. Page size ${PAGE}; times are medians of ${RUNS} fetches, ms.\n`,
  );

  // --only due,feed: those sections alone (the walks and plans take most of an hour at 1M tasks).
  const only = flag('only')?.split(',');
  if (!only || only.includes('due')) await dueRanges(db, callers);
  if (only?.includes('feed')) await changeFeed(db, callers, events);
  if (only) {
    await handle.close();
    return;
  }

  console.log(
    `## Version 2: pages walked by cursor (the first ${WALK.toLocaleString('en')}; page 50,000 from its position)\n`,
  );
  const v2Rows: (string | number)[][] = [];
  for (const [who, visibility] of callers) {
    for (const s of sorts) {
      const sort = toSort(s);
      const at: Record<number, number> = {};
      let after: Position | null = null;
      let page = 1;
      const walkStart = performance.now();
      let slowest = 0;
      for (; page <= WALK; page += 1) {
        const position = after;
        const [took, rows] = await ms(() => listTasks(db, visibility, {}, sort, PAGE + 1, 0, position));
        slowest = Math.max(slowest, took);
        if (DEPTHS.includes(page)) {
          at[page] = await median(() => listTasks(db, visibility, {}, sort, PAGE + 1, 0, position));
        }
        const last = rows[PAGE - 1];
        if (rows.length <= PAGE || !last) break;
        after = positionOf(last, sort);
      }
      const walked = performance.now() - walkStart;
      const deep = await positionAt(db, visibility, sort, (DEEP - 1) * PAGE - 1);
      if (deep) at[DEEP] = await median(() => listTasks(db, visibility, {}, sort, PAGE + 1, 0, deep));
      v2Rows.push([
        who,
        s,
        ...DEPTHS.map((d) => (at[d] === undefined ? '—' : f(at[d]))),
        Math.min(page, WALK).toLocaleString('en'),
        f(walked / Math.min(page, WALK)),
        f(slowest),
      ]);
      process.stderr.write(
        `v2 ${who} ${s}: ${Math.min(page, WALK)} pages in ${(walked / 1000).toFixed(1)} s\n`,
      );
    }
  }
  table(
    ['caller', 'sort', 'page 1', 'page 1,000', 'page 50,000', 'pages walked', 'mean/page', 'slowest page'],
    v2Rows,
  );

  console.log('## Version 1: offset pages (rows; the total each page also counts)\n');
  const v1Rows: (string | number)[][] = [];
  for (const [who, visibility] of callers) {
    for (const s of sorts.filter((x) => ['-createdAt', 'dueAt'].includes(x))) {
      const sort = toSort(s);
      const cells: string[] = [];
      for (const depth of DEPTHS) {
        const offset = (depth - 1) * PAGE;
        const total = visibility.all ? tasks : visibleToUser;
        // The deepest page reads every row before it: once (minutes of disk on a busy machine).
        const fetch = () => listTasks(db, visibility, {}, sort, PAGE, offset);
        if (offset >= total) cells.push('—');
        else cells.push(f(depth === DEEP ? (await ms(fetch))[0] : await median(fetch)));
      }
      v1Rows.push([who, s, ...cells]);
    }
    v1Rows.push([
      who,
      'count (every v1 page)',
      f(await median(() => countTasks(db, visibility, {}))),
      '',
      '',
    ]);
  }
  table(['caller', 'sort', 'page 1', 'page 1,000', 'page 50,000'], v1Rows);

  console.log('## Query plans: each filter alone (sort -createdAt), each sort alone\n');
  const dueFrom = new Date(Date.UTC(2026, 5, 1)).toISOString();
  const dueTo = new Date(Date.UTC(2026, 5, 8)).toISOString();
  const someProject = await db
    .selectFrom('project_members')
    .select('project_id')
    .where('user_id', '=', USER.userId)
    .orderBy('project_id')
    .executeTakeFirstOrThrow();
  const FILTER_CASES: [string, TaskFilter][] = [
    ['status=todo', { status: ['todo'] }],
    ['priority=high', { priority: [3] }],
    ['tag=urgent', { tag: 'urgent' }],
    ['assigneeId', { assigneeId: USER.userId }],
    ['ownerId', { ownerId: USER.userId }],
    ['projectId', { projectId: [someProject.project_id] }],
    ['parentId=none', { parentId: 'none' }],
    ['dueAfter', { dueAfter: dueTo }],
    ['dueBefore', { dueBefore: dueFrom }],
    ['dueAfter+dueBefore (a week)', { dueAfter: dueFrom, dueBefore: dueTo }],
    ['q=invoice', { q: 'invoice' }],
  ];
  const cases: [string, TaskFilter, Sort][] = [
    ...FILTER_CASES.map(([name, filter]): [string, TaskFilter, Sort] => [name, filter, toSort('-createdAt')]),
    ...ALL_SORTS.map((s): [string, TaskFilter, Sort] => [`sort=${s}`, {}, toSort(s)]),
  ];
  const planRows: (string | number)[][] = [];
  for (const [who, visibility] of callers) {
    for (const [name, filter, sort] of cases) {
      const { db: logged, caught } = catching(handle);
      const [took] = await ms(() => listTasks(logged, visibility, filter, sort, PAGE + 1, 0));
      const page = caught.at(-1);
      planRows.push([who, name, f(took)]);
      console.log(`### ${who}, ${name} (page 1: ${f(took)} ms)\n`);
      console.log('```');
      if (page) for (const line of await plan(handle, page)) console.log(line);
      console.log('```\n');
    }
  }
  table(['caller', 'case', 'page 1 (ms, one fetch)'], planRows);

  await changeFeed(db, callers, events);

  console.log('## Stats\n');
  // The service's own path (src/modules/tasks/stats-cache.ts): the first call computes and keeps
  // the entry, later calls check the change log's head and the events since, then answer from it.
  const app = await buildApp(
    loadConfig({
      ...process.env,
      DATABASE_URL: databaseUrl,
      JWT_SECRET: 'bench-scale-secret-of-at-least-32-bytes-0123',
      NODE_ENV: 'production',
      PUBLIC_URL: 'http://127.0.0.1',
      LOG_LEVEL: 'warn',
      WORKER: 'off',
    }),
  );
  await app.ready();
  const statsRows: (string | number)[][] = [];
  try {
    for (const [who, visibility] of callers) {
      const now = new Date().toISOString();
      const caller: Principal = {
        userId: USER.userId,
        role: visibility.all ? 'admin' : 'user',
        sessionId: null,
        scopes: null,
        apiKeyId: null,
        tokenExpiresAt: null,
      };
      const uncached = await median(() => taskStats(db, visibility, {}, now));
      const [first] = await ms(() => app.ctx.services.tasks.stats(caller));
      const cached = await median(() => app.ctx.services.tasks.stats(caller));
      statsRows.push([who, f(uncached), f(first), f(cached)]);
    }
    const { hits, misses } = app.ctx.services.statsCache.counts();
    table(
      ['caller', 'uncached (repository)', 'service, first call (miss)', 'service, cached (hit)'],
      statsRows,
    );
    console.log(`stats cache: ${hits} hits, ${misses} misses\n`);
  } finally {
    await app.close();
  }
  await handle.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
