import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNotesTable, notesModule } from '../fixtures/notes-module/index.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { signedIn } from '../helpers/factories.js';

/**
 * Issue 8's proof that the house takes a new resource with one line: a throwaway module from
 * test/fixtures (its own table, CRUD, a v1 and a v2 list, a subscription to the users port) is
 * registered by `modules: [notesModule]` and nothing else. The docs tests (test/docs) and the
 * observed-status check (test/global-setup.ts) hold its routes to the rules of every other route.
 */

let t: TestApp;
beforeAll(async () => {
  t = await buildTestApp({ modules: [notesModule] });
  await createNotesTable(t.db.handle.db);
});
afterAll(async () => t.close());

interface Note {
  id: string;
  ownerId: string;
  text: string;
  createdAt: string;
}

async function write(headers: Record<string, string>, text: string, version = 'v1'): Promise<Note> {
  const res = await t.app.inject({
    method: 'POST',
    url: `/api/${version}/notes`,
    headers,
    payload: { text },
  });
  expect(res.statusCode).toBe(201);
  return res.json() as Note;
}

function countNotes(ownerId: string): Promise<number> {
  return t.db.handle.db
    .withTables<{ notes: { owner_id: string } }>()
    .selectFrom('notes')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('owner_id', '=', ownerId)
    .executeTakeFirstOrThrow()
    .then((row) => Number(row.n));
}

describe('a module from test/fixtures, registered with one line', () => {
  it('answers its CRUD routes under both versions, with the house rules (auth, validation, 404)', async () => {
    const { user, headers } = await signedIn(t.app);
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v2/notes',
      headers,
      payload: { text: '  remember the milk  ' },
    });
    expect(created.statusCode).toBe(201);
    const note = created.json() as Note;
    expect(note).toEqual({
      id: expect.any(String),
      ownerId: user.id,
      text: 'remember the milk',
      createdAt: expect.any(String),
    });
    expect(created.headers.location).toBe(`/api/v2/notes/${note.id}`);

    const read = await t.app.inject({ method: 'GET', url: `/api/v1/notes/${note.id}`, headers });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toEqual(note);

    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/notes/${note.id}`,
      headers,
      payload: { text: 'and the bread' },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ id: note.id, text: 'and the bread' });

    // The shared machinery applies to it as to every route: auth, validation, 405, problem details.
    const anonymous = await t.app.inject({ method: 'GET', url: `/api/v1/notes/${note.id}` });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['content-type']).toMatch(/^application\/problem\+json/);
    const invalid = await t.app.inject({
      method: 'POST',
      url: '/api/v1/notes',
      headers,
      payload: { text: '', x: 1 },
    });
    expect(invalid.statusCode).toBe(422);
    expect(invalid.json().code).toBe('validation_failed');
    const wrongMethod = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/notes/${note.id}`,
      headers,
      payload: {},
    });
    expect(wrongMethod.statusCode).toBe(405);
    const other = await signedIn(t.app);
    const hidden = await t.app.inject({
      method: 'GET',
      url: `/api/v1/notes/${note.id}`,
      headers: other.headers,
    });
    expect(hidden.statusCode).toBe(404);

    const deleted = await t.app.inject({ method: 'DELETE', url: `/api/v1/notes/${note.id}`, headers });
    expect(deleted.statusCode).toBe(204);
    const gone = await t.app.inject({ method: 'GET', url: `/api/v2/notes/${note.id}`, headers });
    expect(gone.statusCode).toBe(404);
  });

  it('lists by page in v1 and by cursor in v2, from one declaration', async () => {
    const { headers } = await signedIn(t.app);
    const written: Note[] = [];
    for (const text of ['one', 'two', 'three', 'four', 'five']) written.push(await write(headers, text));
    const newestFirst = [...written].sort((a, b) =>
      a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1,
    );

    const page = await t.app.inject({ method: 'GET', url: '/api/v1/notes?page=2&size=2', headers });
    expect(page.statusCode).toBe(200);
    expect(page.json()).toEqual({ items: newestFirst.slice(2, 4), total: 5, page: 2, size: 2, pages: 3 });

    const walked: Note[] = [];
    let url = '/api/v2/notes?limit=2';
    for (let pages = 0; pages < 5; pages += 1) {
      const res = await t.app.inject({ method: 'GET', url, headers });
      expect(res.statusCode).toBe(200);
      const body = res.json() as { items: Note[]; nextCursor: string | null };
      walked.push(...body.items);
      if (body.nextCursor === null) {
        expect(res.headers.link).toBeUndefined();
        break;
      }
      expect(res.headers.link).toContain('rel="next"');
      url = `/api/v2/notes?limit=2&cursor=${encodeURIComponent(body.nextCursor)}`;
    }
    expect(walked).toEqual(newestFirst);

    // v1 takes no cursor and v2 no page number; a cursor of another caller is refused.
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/notes?cursor=x', headers })).statusCode).toBe(
      422,
    );
    expect((await t.app.inject({ method: 'GET', url: '/api/v2/notes?page=2', headers })).statusCode).toBe(
      422,
    );
    const first = (await t.app.inject({ method: 'GET', url: '/api/v2/notes?limit=1', headers })).json() as {
      nextCursor: string;
    };
    const other = await signedIn(t.app);
    const stolen = await t.app.inject({
      method: 'GET',
      url: `/api/v2/notes?cursor=${encodeURIComponent(first.nextCursor)}`,
      headers: other.headers,
    });
    expect(stolen.statusCode).toBe(400);
    expect(stolen.json().code).toBe('invalid_cursor');
  });

  it('appears in the OpenAPI document under its own tag, with its schemas, in each version', async () => {
    const full = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      tags: { name: string; description: string }[];
      paths: Record<string, Record<string, { tags?: string[]; operationId?: string }>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(full.tags).toContainEqual({
      name: 'notes',
      description: 'Notes: a fixture resource that proves a module plugs in',
    });
    for (const path of ['/api/v1/notes', '/api/v1/notes/{id}', '/api/v2/notes', '/api/v2/notes/{id}']) {
      const item = full.paths[path] ?? {};
      expect(Object.keys(item).length, path).toBeGreaterThan(0);
      for (const operation of Object.values(item)) expect(operation.tags).toEqual(['notes']);
    }
    expect(full.paths['/api/v2/notes']?.get?.operationId).toBe('v2ListNotes');
    expect(Object.keys(full.components.schemas)).toEqual(
      expect.arrayContaining(['Note', 'NotePage', 'NoteCursorPage']),
    );
    const v1 = (await t.app.inject({ method: 'GET', url: '/openapi/v1.json' })).json() as typeof full;
    expect(Object.keys(v1.components.schemas)).toEqual(expect.arrayContaining(['Note', 'NotePage']));
    expect(Object.keys(v1.components.schemas)).not.toContain('NoteCursorPage');
    expect(v1.tags.map((tag) => tag.name)).toContain('notes');
  });

  it('removes a deleted user’s notes inside the deletion’s transaction, through the users port', async () => {
    const admin = await signedIn(t.app, 'admin');
    const { user, headers } = await signedIn(t.app);
    await write(headers, 'mine');
    await write(headers, 'also mine');
    expect(await countNotes(user.id)).toBe(2);
    const res = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/users/${user.id}`,
      headers: admin.headers,
    });
    expect(res.statusCode).toBe(204);
    expect(await countNotes(user.id)).toBe(0);
  });

  it('keeps them when the deletion is refused: the listener’s write rolls back with the change', async () => {
    // The only enabled admin: the last-admin rule refuses its deletion after the listeners ran.
    const fresh = await buildTestApp({ modules: [notesModule] });
    try {
      await createNotesTable(fresh.db.handle.db);
      const only = await signedIn(fresh.app, 'admin');
      const note = await fresh.app.inject({
        method: 'POST',
        url: '/api/v1/notes',
        headers: only.headers,
        payload: { text: 'kept' },
      });
      expect(note.statusCode).toBe(201);
      await expect(fresh.app.ctx.services.users.delete(only.user.id, 'another-caller')).rejects.toMatchObject(
        {
          code: 'last_admin',
        },
      );
      const kept = await fresh.app.inject({ method: 'GET', url: '/api/v1/notes', headers: only.headers });
      expect(kept.json().total).toBe(1);
    } finally {
      await fresh.close();
    }
  });
});
