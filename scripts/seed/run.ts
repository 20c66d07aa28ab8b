import { CompiledQuery, type Kysely, PostgresAdapter, sql } from 'kysely';
import type { DatabaseHandle } from '../../src/db/database.js';
import type { Database } from '../../src/db/schema.js';
import { projectSearchText } from '../../src/modules/projects/projects.repository.js';
import { toRow } from '../../src/modules/tasks/task-state.js';
import { searchText } from '../../src/modules/users/users.repository.js';
import { SeedModel, type Sizes, SPAN_MS } from './model.js';
import { Progress } from './progress.js';

/**
 * Fills a database with the seed model's rows, straight into the tables (no HTTP, no per-user
 * hashing), phase by phase: users (each with its personal project), shared projects with their
 * members, tasks with their tags, and optionally events. Every batch is one transaction of
 * multi-row inserts; a stop request is honoured between batches, so what is committed is always
 * whole batches, and the next run counts what is there and continues.
 */

export interface SeedOptions extends Sizes {
  events: number;
  seed: number;
  /** The one argon2 hash every seeded user gets. */
  passwordHash: string;
  /** Checked between batches: true stops the run there. */
  stopRequested?: () => boolean;
  /** Rows per transaction at most (tests make small batches to stop between them). */
  batchSize?: number;
  out?: NodeJS.WriteStream;
}

export type SeedResult = { finished: true } | { finished: false; phase: string };

export class SeedError extends Error {}

type Db = Kysely<Database>;
type Tx = Kysely<Database>;

const SEED_DOMAIN = '@seed.invalid';
/** Rows per INSERT: within SQLite's 32,766 parameters and PostgreSQL's 65,535 for every table here. */
const CHUNK = 1000;

/** The sizes a database was seeded with, kept in the seed admin's Inbox description. */
const signature = (o: SeedOptions) =>
  `seed: users=${o.users} projects=${o.projects} tasks=${o.tasks} seed=${o.seed}`;

/**
 * Multi-row INSERTs of `rows` (all with the same keys, the table's columns), CHUNK rows a statement.
 * Compiled by hand: Kysely's compiler costs more than SQLite's insert of a thousand rows, and a full
 * chunk's text repeats, so the handle's statement cache prepares it once.
 */
async function insertChunks(db: Tx, table: keyof Database & string, rows: Record<string, unknown>[]) {
  const first = rows[0];
  if (!first) return;
  const columns = Object.keys(first);
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    const parameters: unknown[] = [];
    const tuples = chunk.map((row) => {
      const marks = columns.map((column) => {
        parameters.push(row[column] ?? null);
        return postgres ? `$${parameters.length}` : '?';
      });
      return `(${marks.join(',')})`;
    });
    const text = `insert into ${table} (${columns.join(', ')}) values ${tuples.join(',')}`;
    await db.executeQuery(CompiledQuery.raw(text, parameters));
  }
}

async function count(query: Promise<{ n: unknown } | undefined>): Promise<number> {
  return Number((await query)?.n ?? 0);
}

async function state(db: Db) {
  const users = await count(
    db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('email', 'like', `%${SEED_DOMAIN}`)
      .executeTakeFirst(),
  );
  const others = await count(
    db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('email', 'not like', `%${SEED_DOMAIN}`)
      .executeTakeFirst(),
  );
  const projects = await count(
    db
      .selectFrom('projects')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('personal', '=', 0)
      .executeTakeFirst(),
  );
  const tasks = await count(
    db
      .selectFrom('tasks')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst(),
  );
  const log = await db.selectFrom('event_log').select('head').where('id', '=', 1).executeTakeFirstOrThrow();
  const admin = await db
    .selectFrom('users')
    .innerJoin('projects', (j) =>
      j.onRef('projects.owner_id', '=', 'users.id').on('projects.personal', '=', 1),
    )
    .select(['users.created_at', 'projects.description'])
    .where('users.email', '=', `admin${SEED_DOMAIN}`)
    .executeTakeFirst();
  return { users, others, projects, tasks, events: Number(log.head), admin };
}

/** Runs (or continues) the seed; throws SeedError for a database it cannot seed, in words. */
export async function runSeed(handle: DatabaseHandle, options: SeedOptions): Promise<SeedResult> {
  const { db } = handle;
  const now = await state(db);
  if (now.others > 0) {
    throw new SeedError(
      `the database holds ${now.others} user(s) the seed did not make: seed an empty database (a new SQLite file or PostgreSQL schema)`,
    );
  }
  if (now.admin && now.admin.description !== signature(options)) {
    throw new SeedError(
      `this database was seeded with "${now.admin.description}": re-run with those sizes to continue, or seed an empty database`,
    );
  }
  if (!now.admin && (now.users > 0 || now.projects > 0 || now.tasks > 0)) {
    throw new SeedError('the database holds data but no seed admin: seed an empty database');
  }
  const base = now.admin ? Date.parse(now.admin.created_at) : Date.now() - SPAN_MS;
  const model = new SeedModel(options, options.seed, base);
  const stop = options.stopRequested ?? (() => false);
  const out = options.out ?? process.stderr;

  const phases: [string, number, number, number, (tx: Tx, from: number, to: number) => Promise<void>][] = [
    ['users', options.users, now.users, 500, (tx, a, b) => insertUsers(tx, model, options, a, b)],
    ['projects', options.projects, now.projects, 200, (tx, a, b) => insertProjects(tx, model, a, b)],
    ['tasks', options.tasks, now.tasks, 5000, (tx, a, b) => insertTasks(tx, model, a, b)],
    [
      'events',
      options.tasks > 0 ? options.events : 0,
      now.events,
      10_000,
      (tx, a, b) => insertEvents(tx, model, options.events, a, b),
    ],
  ];
  for (const [name, total, done] of phases) {
    if (done > total) {
      throw new SeedError(
        `the database holds ${done} ${name}, more than the ${total} asked for: seed an empty database`,
      );
    }
  }
  for (const [name, total, done, batch, insert] of phases) {
    if (done >= total) continue;
    const progress = new Progress(name, total, done, out);
    const step = Math.min(batch, options.batchSize ?? batch);
    for (let from = done; from < total; from += step) {
      // better-sqlite3 answers synchronously, so without a turn of the event loop a signal would
      // never be delivered: yield once per batch.
      await new Promise((resolve) => setImmediate(resolve));
      if (stop()) {
        progress.finish();
        return { finished: false, phase: name };
      }
      const to = Math.min(total, from + step);
      await db.transaction().execute((tx) => insert(tx, from, to));
      progress.add(to - from);
    }
    progress.finish();
  }
  return { finished: true };
}

async function insertUsers(tx: Tx, model: SeedModel, options: SeedOptions, from: number, to: number) {
  const users = model.users.slice(from, to);
  await insertChunks(
    tx,
    'users',
    users.map((u) => ({
      id: u.id,
      email: u.email,
      name: u.name,
      role: u.role,
      disabled: 0,
      password_hash: options.passwordHash,
      search_text: searchText(u.name, u.email),
      created_at: u.createdAt,
      updated_at: u.createdAt,
    })),
  );
  await insertChunks(
    tx,
    'projects',
    users.map((u, k) => ({
      id: u.inboxId,
      name: 'Inbox',
      // The seed admin's Inbox keeps the sizes, so a later run can tell whether it may continue.
      description: from + k === 0 ? signature(options) : '',
      owner_id: u.id,
      personal: 1,
      archived: 0,
      search_text: projectSearchText('Inbox'),
      version: 1,
      created_at: u.createdAt,
      updated_at: u.createdAt,
    })),
  );
  await insertChunks(
    tx,
    'project_members',
    users.map((u) => ({ project_id: u.inboxId, user_id: u.id, role: 'owner', added_at: u.createdAt })),
  );
}

async function insertProjects(tx: Tx, model: SeedModel, from: number, to: number) {
  const projects = model.projects.slice(from, to);
  await insertChunks(
    tx,
    'projects',
    projects.map((p) => ({
      id: p.id,
      name: p.name,
      description: '',
      owner_id: model.users[p.ownerIndex]?.id ?? null,
      personal: 0,
      archived: 0,
      search_text: projectSearchText(p.name),
      version: 1,
      created_at: p.createdAt,
      updated_at: p.createdAt,
    })),
  );
  await insertChunks(
    tx,
    'project_members',
    projects.flatMap((p) =>
      p.members.map(([u, role]) => ({
        project_id: p.id,
        user_id: model.users[u]?.id ?? '',
        role,
        added_at: p.createdAt,
      })),
    ),
  );
}

async function insertTasks(tx: Tx, model: SeedModel, from: number, to: number) {
  const tasks = Array.from({ length: to - from }, (_, k) => model.task(from + k));
  await insertChunks(
    tx,
    'tasks',
    tasks.map((t) => toRow(t) as Record<string, unknown>),
  );
  await insertChunks(
    tx,
    'task_tags',
    tasks.flatMap((t) => t.tags.map((tag) => ({ task_id: t.id, tag }))),
  );
}

/** Events numbered after the log's head, which moves in the same transaction (as the change log does). */
async function insertEvents(tx: Tx, model: SeedModel, total: number, from: number, to: number) {
  const { head } = await tx
    .updateTable('event_log')
    .set((eb) => ({ head: eb('head', '+', to - from) }))
    .where('id', '=', 1)
    .returning('head')
    .executeTakeFirstOrThrow();
  const first = Number(head) - (to - from) + 1;
  const events = Array.from({ length: to - from }, (_, k) => ({
    position: first + k,
    ...model.eventAt(from + k, total),
  }));
  await insertChunks(
    tx,
    'events',
    events.map(({ position, task, type, at }) => ({
      position,
      type,
      occurred_at: at,
      actor_type: task.ownerId ? 'user' : 'system',
      actor_id: task.ownerId,
      project_id: task.projectId,
      subject_type: 'task',
      subject_id: task.id,
      task_id: task.id,
      changes:
        type === 'task.updated'
          ? JSON.stringify({ title: { from: `${task.title} (draft)`, to: task.title } })
          : null,
      data: JSON.stringify(task),
    })),
  );
  // A task's assignee sees its events (contract §8), as the change log records it.
  await insertChunks(
    tx,
    'event_viewers',
    events.flatMap(({ position, task }) => (task.assigneeId ? [{ user_id: task.assigneeId, position }] : [])),
  );
}

/** SQLite: a larger page cache for the index inserts (the handle is the seed's own). */
export async function tuneForBulk(handle: DatabaseHandle): Promise<void> {
  if (handle.dialect === 'sqlite') await sql`pragma cache_size = -262144`.execute(handle.db);
}
