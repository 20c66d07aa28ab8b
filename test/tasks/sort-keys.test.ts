import { randomBytes } from 'node:crypto';
import type { TSchema } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CursorSigner } from '../../src/lib/cursor.js';
import { FIELDS, SORTS, type SortKey, sortColumn } from '../../src/modules/tasks/task-fields.js';
import { insertTask } from '../../src/modules/tasks/tasks.repository.js';
import type { Task } from '../../src/modules/tasks/tasks.schemas.js';
import { toRow } from '../../src/modules/tasks/tasks.service.js';
import { buildTestApp, TEST_SECRET, type TestApp } from '../helpers/app.js';
import { personalProjectId, signedIn } from '../helpers/factories.js';
import { compareCodePoints } from '../helpers/order.js';

/**
 * Every sort key of the table of task fields, in both directions, walked through version 2 a few
 * items at a time with ties and (for nullable keys) nulls present: the walk must be the version 1
 * list and the promised order. The keys, their columns and their test values all come from the
 * table, so a key added there is walked here without a line of this file changing.
 */

type Headers = Record<string, string>;
type Stored = string | number | null;

const LIMIT = 3;
const SORT_PARAMS = SORTS.flatMap((key) => [key, `-${key}`]);

/** Mixed case and `-`: binary order differs from any locale's order for such ids. */
const ID_CHARS = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const randomId = () => Array.from(randomBytes(16), (byte) => ID_CHARS[byte % ID_CHARS.length]).join('');

const TIMES = [
  '2030-01-01T00:00:00.000Z',
  '2030-01-01T00:00:00.001Z',
  '2031-06-15T12:30:00.000Z',
  '2001-01-01T00:00:00.000Z',
];
/** Code points ≠ UTF-16 order (U+E000 and U+FF21 before U+1D49C), case, accents. */
const TEXTS = ['b', 'a', 'B', 'é', '😀 grin', '\uFF21 fullwidth', '\uE000 private', '𝒜 script'];

/** Values a field takes in the API, read from its reply schema: what this test seeds a key with. */
function valuesOf(key: SortKey): unknown[] {
  const declared = FIELDS[key].schema as TSchema & { anyOf?: TSchema[] };
  const schema = (declared.anyOf?.find((s) => s.type !== 'null') ?? declared) as TSchema & {
    enum?: unknown[];
    minimum?: number;
    maximum?: number;
  };
  if (Array.isArray(schema.enum)) return schema.enum;
  if (schema.type === 'string' && schema.format === 'date-time') return TIMES;
  if (schema.type === 'string') return TEXTS;
  if (schema.type === 'integer' || schema.type === 'number') {
    const min = schema.minimum ?? 0;
    const max = schema.maximum ?? min + 1000;
    return [...new Set([min, max, min + 1, Math.floor((min + max) / 2)])];
  }
  throw new Error(`sort key ${key}: no test values for its schema; teach valuesOf() its type`);
}

/** The order the contract promises: the stored value (nulls last both ways), then id, in the sort's direction. */
function expectedOrder(tasks: readonly Task[], param: string): string[] {
  const descending = param.startsWith('-');
  const key = (descending ? param.slice(1) : param) as SortKey;
  const { column } = sortColumn(key);
  const stored = (task: Task) => toRow(task)[column] as Stored;
  return [...tasks]
    .sort((a, b) => {
      const [x, y] = [stored(a), stored(b)];
      if ((x === null) !== (y === null)) return x === null ? 1 : -1;
      let byKey = 0;
      if (typeof x === 'number' && typeof y === 'number') byKey = x - y;
      else if (typeof x === 'string' && typeof y === 'string') byKey = compareCodePoints(x, y);
      return (byKey !== 0 ? byKey : compareCodePoints(a.id, b.id)) * (descending ? -1 : 1);
    })
    .map((task) => task.id);
}

let t: TestApp;
let user: Awaited<ReturnType<typeof signedIn>>;
let admin: Awaited<ReturnType<typeof signedIn>>;
const tasks: Task[] = [];

beforeAll(async () => {
  t = await buildTestApp();
  user = await signedIn(t.app);
  const other = await signedIn(t.app);
  admin = await signedIn(t.app, 'admin');
  const example = Object.fromEntries(Object.entries(FIELDS).map(([name, f]) => [name, f.example])) as Task;
  for (let i = 0; i < 22; i += 1) {
    // Owned by the user, or by the other and assigned to the user: the user's list merges both.
    const owned = i % 2 === 0;
    const task: Task = {
      ...example,
      id: randomId(),
      ownerId: owned ? user.user.id : other.user.id,
      projectId: await personalProjectId(t.app, owned ? user.user.id : other.user.id),
      parentId: null,
      assigneeId: !owned && i % 4 === 1 ? user.user.id : null,
    };
    for (const [j, key] of SORTS.entries()) {
      const values = valuesOf(key);
      const value = sortColumn(key).nullable && i % 3 === j % 3 ? null : values[(i * 5 + j) % values.length];
      Object.assign(task, { [key]: value });
    }
    await insertTask(t.db.handle.db, toRow(task));
    tasks.push(task);
  }
});
afterAll(async () => t.close());

const views = () =>
  [
    [
      'user (owned ∪ assigned)',
      user.headers,
      tasks.filter((x) => [x.ownerId, x.assigneeId].includes(user.user.id)),
    ],
    ['admin (all)', admin.headers, tasks],
  ] as const;

async function get(url: string, headers: Headers) {
  return t.app.inject({ method: 'GET', url, headers });
}

/** A version 2 walk: the ids in page order and the positions the cursors carried. */
async function walk(sort: string, headers: Headers): Promise<{ ids: string[]; positions: unknown[] }> {
  const ids: string[] = [];
  const positions: unknown[] = [];
  let url = `/api/v2/tasks?limit=${LIMIT}&sort=${encodeURIComponent(sort)}`;
  for (let n = 0; n < 100; n += 1) {
    const res = await get(url, headers);
    expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
    const page = res.json() as { items: Task[]; nextCursor: string | null };
    ids.push(...page.items.map((item) => item.id));
    if (!page.nextCursor) return { ids, positions };
    expect(page.items).toHaveLength(LIMIT);
    const [payload = ''] = page.nextCursor.split('.');
    positions.push((JSON.parse(Buffer.from(payload, 'base64url').toString()) as { p: { v: unknown } }).p.v);
    url = `/api/v2/tasks?limit=${LIMIT}&sort=${encodeURIComponent(sort)}&cursor=${encodeURIComponent(page.nextCursor)}`;
  }
  throw new Error('the walk did not end');
}

describe('every sort key of the table pages correctly in both versions', () => {
  it('the fixture has what each key needs: ties, and nulls enough to cross a page inside them', () => {
    for (const key of SORTS) {
      const { column, nullable } = sortColumn(key);
      for (const [name, , visible] of views()) {
        const values = visible.map((task) => toRow(task)[column]).filter((v) => v !== null);
        expect(new Set(values).size, `${key}, ${name}: ties`).toBeLessThan(values.length);
        expect(values.length, `${key}, ${name}: values`).toBeGreaterThan(LIMIT);
        const nulls = visible.length - values.length;
        if (nullable) expect(nulls, `${key}, ${name}: nulls`).toBeGreaterThan(LIMIT);
        else expect(nulls, `${key}, ${name}: nulls`).toBe(0);
      }
    }
    expect(views()[0][2].some((task) => task.ownerId !== user.user.id)).toBe(true);
  });

  it.each(SORT_PARAMS)('sort=%s: the v2 walk is the v1 list and the promised order', async (sort) => {
    const nullable = sortColumn(sort.replace(/^-/, '') as SortKey).nullable;
    for (const [name, headers, visible] of views()) {
      const expected = expectedOrder(visible, sort);
      const v1 = await get(`/api/v1/tasks?size=100&sort=${encodeURIComponent(sort)}`, headers);
      expect(v1.statusCode, v1.body).toBe(200);
      expect(
        (v1.json() as { items: Task[] }).items.map((item) => item.id),
        `${name}: v1`,
      ).toEqual(expected);
      const { ids, positions } = await walk(sort, headers);
      expect(ids, `${name}: v2`).toEqual(expected);
      // Pages started after a value, and (nullable keys) after a null: both kinds of position held.
      expect(
        positions.some((v) => v !== null),
        name,
      ).toBe(true);
      expect(
        positions.some((v) => v === null),
        name,
      ).toBe(nullable);
    }
  });

  it.each(SORT_PARAMS)('sort=%s: a cursor position must have the type the key declares', async (sort) => {
    const descending = sort.startsWith('-');
    const key = (descending ? sort.slice(1) : sort) as SortKey;
    const { column, position, nullable } = sortColumn(key);
    // Signed like the service signs, so only the position's type decides.
    const signer = new CursorSigner(TEST_SECRET);
    const binding = { list: 'tasks', caller: user.user.id, filter: {}, sort: { key, descending } };
    const real = toRow(tasks[0] as Task)[column];
    const cases: [unknown, number][] = [
      [real, 200],
      [null, nullable ? 200 : 400],
      [position === 'string' ? 1 : 'x', 400],
      [[real], 400],
    ];
    for (const [v, status] of cases) {
      const cursor = signer.sign(binding, { v, id: tasks[0]?.id });
      const res = await get(`/api/v2/tasks?sort=${encodeURIComponent(sort)}&cursor=${cursor}`, user.headers);
      expect(res.statusCode, `${JSON.stringify(v)}: ${res.body}`).toBe(status);
      if (status === 400) expect(res.json().code).toBe('invalid_cursor');
    }
  });
});
