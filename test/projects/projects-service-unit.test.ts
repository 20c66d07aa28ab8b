import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  type MockInstance,
  vi,
} from 'vitest';
import { ApiError } from '../../src/errors.js';
import type { Change } from '../../src/lib/change-log.js';
import type { AppContext } from '../../src/lib/module.js';
import type { Principal, Role } from '../../src/lib/principal.js';
import {
  PERSONAL_PROJECT_NAME,
  ProjectsService,
  positionFrom,
  requireOwner,
} from '../../src/modules/projects/projects.service.js';
import { buildTestServices, failure, type TestServices } from '../helpers/services.js';

/**
 * The projects service called directly, with its real repository and the other modules' services
 * (test/helpers/services.ts: in-memory SQLite, or a PostgreSQL schema), and a fixed Date: each
 * rule's outcome, the rows it leaves and the events it records.
 */

const T0 = Date.UTC(2026, 11, 4, 9, 0, 0);
const PASSWORD = 'correct horse battery staple 42';

let services: TestServices;
let ctx: AppContext;
let projects: ProjectsService;
let counter = 0;
let recordSpy: MockInstance<AppContext['changes']['record']>;

beforeAll(async () => {
  services = await buildTestServices();
  ctx = services.ctx;
  projects = ctx.services.projects;
});
afterAll(async () => services.close());
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
  recordSpy = vi.spyOn(ctx.changes, 'record');
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const at = (ms: number) => new Date(T0 + ms).toISOString();
const recorded = (): Change[] => recordSpy.mock.calls.map(([, change]) => change);
const ofType = (type: Change['type']) => recorded().filter((change) => change.type === type);

interface TestUser {
  id: string;
  role: Role;
  email: string;
}

async function user(role: Role = 'user'): Promise<TestUser> {
  counter += 1;
  const created = await ctx.services.users.create({
    email: `projects-unit-${counter}@example.com`,
    password: PASSWORD,
    name: `p${counter}`,
    role,
  });
  return { id: created.id, role, email: created.email };
}

function as(u: TestUser, apiKeyId: string | null = null): Principal {
  return { userId: u.id, role: u.role, sessionId: null, scopes: null, apiKeyId, tokenExpiresAt: null };
}

async function shared(owner: TestUser, name = `shared ${counter}`, description?: string) {
  return projects.create(as(owner), { name, ...(description !== undefined ? { description } : {}) });
}

async function addMember(
  project: string,
  member: TestUser,
  role: 'viewer' | 'commenter' | 'editor' | 'owner',
) {
  await ctx.database.db
    .insertInto('project_members')
    .values({ project_id: project, user_id: member.id, role, added_at: at(0) })
    .execute();
}

const projectRow = (id: string) =>
  ctx.database.db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
const memberRows = (projectId: string) =>
  ctx.database.db
    .selectFrom('project_members')
    .select(['user_id', 'role'])
    .where('project_id', '=', projectId)
    .orderBy('user_id')
    .execute();
const sorted = (ids: readonly string[]) => [...ids].sort();

describe('helpers', () => {
  it('reads a cursor position only when both parts are strings', () => {
    expect(positionFrom({ v: '2026-01-01T00:00:00.000Z', id: 'a' })).toEqual({
      v: '2026-01-01T00:00:00.000Z',
      id: 'a',
    });
    for (const bad of [
      null,
      undefined,
      'x',
      {},
      { v: 1, id: 'a' },
      { v: 'a', id: 2 },
      { v: 'a' },
      { id: 'a' },
    ]) {
      expect(() => positionFrom(bad)).toThrow(ApiError);
      try {
        positionFrom(bad);
      } catch (error) {
        expect((error as ApiError).code).toBe('invalid_cursor');
      }
    }
  });

  it('lets only an owner through requireOwner', () => {
    expect(() => requireOwner('owner', 'do it')).not.toThrow();
    for (const role of ['viewer', 'commenter', 'editor'] as const) {
      let caught: unknown = null;
      try {
        requireOwner(role, 'do it');
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ApiError);
      expect((caught as ApiError).code).toBe('forbidden');
      expect((caught as ApiError).detail).toBe('Only an owner of the project may do it');
    }
  });

  it('locks rows on PostgreSQL only', () => {
    expect(projects.lockRows).toBe(ctx.database.dialect === 'postgres');
    const on = (dialect: 'sqlite' | 'postgres') =>
      new ProjectsService({ ...ctx, database: { ...ctx.database, dialect } } as AppContext).lockRows;
    expect(on('postgres')).toBe(true);
    expect(on('sqlite')).toBe(false);
  });
});

describe('personal projects', () => {
  it('makes an Inbox with each account, its user the owner, recorded by the system', async () => {
    const u = await user();
    const id = await projects.personalProjectId(u.id);
    expect(await projectRow(id)).toMatchObject({
      name: PERSONAL_PROJECT_NAME,
      description: '',
      owner_id: u.id,
      personal: 1,
      archived: 0,
      search_text: 'inbox',
      created_at: at(0),
      updated_at: at(0),
    });
    expect(Number((await projectRow(id))?.version)).toBe(1);
    expect(await memberRows(id)).toEqual([{ user_id: u.id, role: 'owner' }]);
    const [created] = ofType('project.created');
    expect(created).toEqual({
      type: 'project.created',
      at: at(0),
      actor: { type: 'system', id: null },
      projectId: id,
      subject: { type: 'project', id },
      taskId: null,
      changes: null,
      data: {
        id,
        name: 'Inbox',
        description: '',
        ownerId: u.id,
        personal: true,
        archived: false,
        createdAt: at(0),
        updatedAt: at(0),
        version: 1,
      },
      viewers: [],
    });
    expect(await projects.get(as(u), id)).toMatchObject({ personal: true, archived: false, role: 'owner' });
  });

  it('fails loudly for a user without one', async () => {
    await expect(projects.personalProjectId('no-such-user')).rejects.toThrow(
      'user no-such-user has no personal project',
    );
  });
});

describe('create and get', () => {
  it('writes the project, its owner membership and one event', async () => {
    const u = await user();
    vi.setSystemTime(T0 + 5);
    const p = await projects.create(as(u), { name: 'Launch Plan', description: 'the plan' });
    expect(p).toEqual({
      id: expect.any(String),
      name: 'Launch Plan',
      description: 'the plan',
      ownerId: u.id,
      personal: false,
      archived: false,
      role: 'owner',
      createdAt: at(5),
      updatedAt: at(5),
      version: 1,
    });
    expect(await projectRow(p.id)).toMatchObject({ search_text: 'launch plan', personal: 0, archived: 0 });
    expect(await memberRows(p.id)).toEqual([{ user_id: u.id, role: 'owner' }]);
    const { role: _role, ...data } = p;
    expect(ofType('project.created').at(-1)).toEqual({
      type: 'project.created',
      at: at(5),
      actor: { type: 'user', id: u.id },
      projectId: p.id,
      subject: { type: 'project', id: p.id },
      taskId: null,
      changes: null,
      data,
      viewers: [],
    });
    expect(await projects.get(as(u), p.id)).toEqual(p);
  });

  it('defaults the description, names an API key as actor and records the reply in the transaction', async () => {
    const u = await user();
    const seen: string[] = [];
    const p = await projects.create(as(u, 'key-1'), { name: 'Keyed' }, async (trx, reply) => {
      seen.push(reply.id);
      // Inside the transaction: the row is already there.
      expect(
        await trx.selectFrom('projects').select('id').where('id', '=', reply.id).executeTakeFirst(),
      ).toEqual({ id: reply.id });
    });
    expect(seen).toEqual([p.id]);
    expect(p.description).toBe('');
    expect(ofType('project.created').at(-1)?.actor).toEqual({ type: 'api_key', id: 'key-1' });
  });

  it('tells access, visibility and roles apart', async () => {
    const owner = await user();
    const editor = await user();
    const guest = await user('guest');
    const stranger = await user();
    const admin = await user('admin');
    const p = await shared(owner);
    await addMember(p.id, editor, 'editor');
    await addMember(p.id, guest, 'owner');

    expect(await projects.access(as(owner), 'no-such-project')).toBeNull();
    const mine = await projects.access(as(owner), p.id);
    expect(mine?.role).toBe('owner');
    expect(mine?.project).toMatchObject({ id: p.id, name: p.name, owner_id: owner.id });
    expect(mine?.project).not.toHaveProperty('member_role');
    expect((await projects.access(as(editor), p.id))?.role).toBe('editor');
    // A guest's owner membership means commenter; an admin acts as owner everywhere.
    expect((await projects.access(as(guest), p.id))?.role).toBe('commenter');
    expect((await projects.access(as(admin), p.id))?.role).toBe('owner');
    expect(await projects.access(as(stranger), p.id)).toMatchObject({ role: null });

    expect((await failure(projects.visible(as(stranger), p.id))).code).toBe('not_found');
    expect((await failure(projects.visible(as(owner), 'no-such-project'))).code).toBe('not_found');
    expect((await failure(projects.get(as(stranger), p.id))).code).toBe('not_found');
    expect((await projects.visible(as(editor), p.id)).role).toBe('editor');
    expect(await projects.get(as(editor), p.id)).toEqual({ ...p, role: 'editor' });
    expect(await projects.get(as(guest), p.id)).toEqual({ ...p, role: 'commenter' });
    expect(await projects.get(as(admin), p.id)).toEqual({ ...p, role: 'owner' });
  });
});

describe('lists', () => {
  it('pages the caller’s projects newest first, with its role, filtered by archived and q', async () => {
    const u = await user();
    const other = await user();
    const made = [];
    for (let i = 0; i < 3; i++) {
      vi.setSystemTime(T0 + 1000 + i);
      made.push(await projects.create(as(u), { name: `Zeta Alpha ${i}` }));
    }
    vi.setSystemTime(T0 + 2000);
    const foreign = await projects.create(as(other), { name: 'Zeta Alpha foreign' });
    await addMember(foreign.id, u, 'viewer');
    const [m0, m1, m2] = made as [(typeof made)[0], (typeof made)[0], (typeof made)[0]];
    await projects.update(as(u), m1.id, { archived: true }, undefined);

    const first = await projects.list(as(u), {}, { page: 1, size: 2 });
    expect(first.total).toBe(5);
    expect(first.page).toBe(1);
    expect(first.size).toBe(2);
    expect(first.pages).toBe(3);
    expect(first.items.map((p) => [p.id, p.role])).toEqual([
      [foreign.id, 'viewer'],
      [m2.id, 'owner'],
    ]);
    const second = await projects.list(as(u), {}, { page: 2, size: 2 });
    expect(second.items.map((p) => p.id)).toEqual([m1.id, m0.id]);
    const third = await projects.list(as(u), {}, { page: 3, size: 2 });
    expect(third.items.map((p) => p.name)).toEqual(['Inbox']);

    const archived = await projects.list(as(u), { archived: true }, { page: 1, size: 10 });
    expect(archived.items.map((p) => p.id)).toEqual([m1.id]);
    expect(archived.total).toBe(1);
    const active = await projects.list(as(u), { archived: false }, { page: 1, size: 10 });
    expect(active.total).toBe(4);
    expect(active.items.map((p) => p.id)).not.toContain(m1.id);
    // q is matched case-insensitively against the name.
    const q = await projects.list(as(u), { q: 'ZETA ALPHA 1' }, { page: 1, size: 10 });
    expect(q.items.map((p) => p.id)).toEqual([m1.id]);
    expect(q.total).toBe(1);
    const both = await projects.list(as(u), { q: 'zeta', archived: false }, { page: 1, size: 10 });
    expect(both.items.map((p) => p.id)).toEqual([foreign.id, m2.id, m0.id]);

    // An admin lists every project, as owner, member or not.
    const admin = await user('admin');
    const all = await projects.list(as(admin), { q: 'zeta alpha' }, { page: 1, size: 10 });
    expect(all.total).toBe(4);
    expect(all.items.map((p) => [p.id, p.role])).toEqual([
      [foreign.id, 'owner'],
      [m2.id, 'owner'],
      [m1.id, 'owner'],
      [m0.id, 'owner'],
    ]);
    expect(all.items[0]).toEqual({ ...foreign, role: 'owner' });
  });

  it('pages version 2 with signed cursors bound to the caller and the filter', async () => {
    const u = await user();
    const editorOf = await user();
    const made = [];
    for (let i = 0; i < 3; i++) {
      vi.setSystemTime(T0 + 3000 + i);
      made.push(await projects.create(as(u), { name: `Omega Cursor ${i}` }));
    }
    const [m0, m1, m2] = made as [(typeof made)[0], (typeof made)[0], (typeof made)[0]];
    await addMember(m1.id, editorOf, 'editor');
    const filter = { q: 'omega CURSOR' };
    const first = await projects.listAfter(as(u), filter, { limit: 2, cursor: undefined });
    expect(first.items).toEqual([m2, m1]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await projects.listAfter(as(u), filter, { limit: 2, cursor: first.nextCursor ?? '' });
    expect(second).toEqual({ items: [m0], nextCursor: null });
    // Exactly a page left: no next cursor.
    expect((await projects.listAfter(as(u), filter, { limit: 3, cursor: undefined })).nextCursor).toBeNull();
    const single = await projects.listAfter(as(u), filter, { limit: 1, cursor: undefined });
    expect(single.items).toEqual([m2]);
    const next = await projects.listAfter(as(u), filter, { limit: 1, cursor: single.nextCursor ?? '' });
    expect(next.items).toEqual([m1]);
    expect(next.nextCursor).toEqual(expect.any(String));
    // The caller's own role on each item.
    expect((await projects.listAfter(as(editorOf), filter, { limit: 5, cursor: undefined })).items).toEqual([
      { ...m1, role: 'editor' },
    ]);

    const cursor = first.nextCursor ?? '';
    expect((await failure(projects.listAfter(as(editorOf), filter, { limit: 2, cursor }))).code).toBe(
      'invalid_cursor',
    );
    expect((await failure(projects.listAfter(as(u), {}, { limit: 2, cursor }))).code).toBe('invalid_cursor');
    const binding = { list: 'projects', caller: u.id, filter: { q: 'omega cursor' } };
    // The binding and position as the service signs them, and a well-signed cursor of a bad position.
    const mine = ctx.cursors.sign(binding, { v: m2.createdAt, id: m2.id });
    expect((await projects.listAfter(as(u), filter, { limit: 5, cursor: mine })).items).toEqual([m1, m0]);
    const bad = ctx.cursors.sign(binding, { v: 1, id: m2.id });
    expect((await failure(projects.listAfter(as(u), filter, { limit: 5, cursor: bad }))).code).toBe(
      'invalid_cursor',
    );
    const archivedBinding = { list: 'projects', caller: u.id, filter: { archived: false } };
    const archived = ctx.cursors.sign(archivedBinding, { v: m2.createdAt, id: m2.id });
    const page = await projects.listAfter(as(u), { archived: false }, { limit: 1, cursor: archived });
    expect(page.items).toEqual([m1]);
  });
});

describe('update', () => {
  it('changes the given fields, bumps the version and records the difference', async () => {
    const owner = await user();
    const p = await shared(owner, 'Before', 'old text');
    vi.setSystemTime(T0 + 60_000);
    recordSpy.mockClear();
    const renamed = await projects.update(as(owner), p.id, { name: 'After Name' }, '"1"');
    expect(renamed).toEqual({ ...p, name: 'After Name', version: 2, updatedAt: at(60_000) });
    expect(await projectRow(p.id)).toMatchObject({
      name: 'After Name',
      description: 'old text',
      archived: 0,
      search_text: 'after name',
      updated_at: at(60_000),
    });
    const { role: _role, ...data } = renamed;
    expect(recorded()).toEqual([
      {
        type: 'project.updated',
        at: at(60_000),
        actor: { type: 'user', id: owner.id },
        projectId: p.id,
        subject: { type: 'project', id: p.id },
        taskId: null,
        changes: { name: { from: 'Before', to: 'After Name' } },
        data,
        viewers: [],
      },
    ]);

    recordSpy.mockClear();
    const described = await projects.update(as(owner, 'k9'), p.id, { description: 'new text' }, undefined);
    expect(described).toMatchObject({
      name: 'After Name',
      description: 'new text',
      archived: false,
      version: 3,
    });
    expect(recorded()[0]?.changes).toEqual({ description: { from: 'old text', to: 'new text' } });
    expect(recorded()[0]?.actor).toEqual({ type: 'api_key', id: 'k9' });

    recordSpy.mockClear();
    const archived = await projects.update(as(owner), p.id, { archived: true }, undefined);
    expect(archived).toMatchObject({
      archived: true,
      version: 4,
      name: 'After Name',
      description: 'new text',
    });
    expect((await projectRow(p.id))?.archived).toBe(1);
    expect(recorded()[0]?.changes).toEqual({ archived: { from: false, to: true } });

    recordSpy.mockClear();
    const restored = await projects.update(as(owner), p.id, { archived: false, name: undefined }, '"4"');
    expect(restored).toMatchObject({ archived: false, version: 5 });
    expect((await projectRow(p.id))?.archived).toBe(0);

    recordSpy.mockClear();
    const all = await projects.update(
      as(owner),
      p.id,
      { name: 'Third', description: 'third text', archived: true },
      undefined,
    );
    expect(all).toMatchObject({ name: 'Third', description: 'third text', archived: true, version: 6 });
    expect(recorded()[0]?.changes).toEqual({
      name: { from: 'After Name', to: 'Third' },
      description: { from: 'new text', to: 'third text' },
      archived: { from: false, to: true },
    });
  });

  it('returns the stored project, same version and no event, when nothing changes', async () => {
    const owner = await user();
    const p = await shared(owner, 'Same', 'same text');
    vi.setSystemTime(T0 + 1000);
    recordSpy.mockClear();
    for (const input of [
      {},
      { name: 'Same' },
      { description: 'same text' },
      { archived: false },
      { name: 'Same', description: 'same text', archived: false },
    ]) {
      expect(await projects.update(as(owner), p.id, input, '"1"')).toEqual(p);
    }
    expect(recorded()).toEqual([]);
    expect(Number((await projectRow(p.id))?.version)).toBe(1);
    // An admin that is no member acts as owner.
    const admin = await user('admin');
    expect(await projects.update(as(admin), p.id, {}, undefined)).toEqual(p);
    const archived = await projects.update(as(admin), p.id, { archived: true }, undefined);
    expect(archived).toMatchObject({ archived: true, role: 'owner', version: 2 });
  });

  it('refuses, in order: not visible, not owner, archived, If-Match, archiving a personal project', async () => {
    const owner = await user();
    const editor = await user();
    const stranger = await user();
    const p = await shared(owner, 'Rules');
    await addMember(p.id, editor, 'editor');

    expect((await failure(projects.update(as(stranger), p.id, { name: 'x' }, undefined))).code).toBe(
      'not_found',
    );
    const forbidden = await failure(projects.update(as(editor), p.id, { name: 'x' }, '"9"'));
    expect(forbidden.code).toBe('forbidden');
    expect(forbidden.detail).toBe('Only an owner of the project may change it');

    const stale = await failure(projects.update(as(owner), p.id, { name: 'x' }, '"9"'));
    expect(stale.code).toBe('precondition_failed');
    expect(stale.headers).toEqual({ etag: '"1"' });
    expect(await projects.update(as(owner), p.id, { name: 'ok' }, '*')).toMatchObject({ version: 2 });

    await projects.update(as(owner), p.id, { archived: true }, undefined);
    for (const input of [
      { name: 'y' },
      { archived: false, name: 'y' },
      { archived: true },
      { description: 'd' },
    ]) {
      const archived = await failure(projects.update(as(owner), p.id, input, '"1"'));
      expect(archived.code).toBe('project_archived');
      expect(archived.detail).toBe('An archived project only takes {"archived": false}');
    }
    // Unarchiving still checks If-Match.
    const staleUnarchive = await failure(projects.update(as(owner), p.id, { archived: false }, '"1"'));
    expect(staleUnarchive.code).toBe('precondition_failed');
    expect(staleUnarchive.headers).toEqual({ etag: '"3"' });
    expect((await projects.get(as(owner), p.id)).archived).toBe(true);

    const personalId = await projects.personalProjectId(owner.id);
    const personal = await failure(projects.update(as(owner), personalId, { archived: true }, undefined));
    expect(personal.code).toBe('conflict');
    expect(personal.detail).toBe('A personal project cannot be archived');
    expect((await failure(projects.update(as(owner), personalId, { archived: true }, '"7"'))).code).toBe(
      'precondition_failed',
    );
    // A personal project takes a new name or description.
    expect(
      await projects.update(as(owner), personalId, { name: 'My Inbox', archived: false }, '"1"'),
    ).toMatchObject({ name: 'My Inbox', personal: true, archived: false, version: 2 });
  });

  it('answers 412 when the conditional write finds another version', async () => {
    const owner = await user();
    const p = await shared(owner, 'Raced');
    const found = await projects.visible(as(owner), p.id);
    // Another writer got in between the read and the write: the row is no longer at version 0.
    vi.spyOn(projects, 'visible').mockResolvedValueOnce({
      ...found,
      project: { ...found.project, version: 0 },
    });
    recordSpy.mockClear();
    const error = await failure(projects.update(as(owner), p.id, { name: 'lost' }, undefined));
    expect(error.code).toBe('precondition_failed');
    expect(error.headers).toEqual({ etag: '"0"' });
    expect(recorded()).toEqual([]);
    expect((await projectRow(p.id))?.name).toBe('Raced');
  });
});

describe('delete', () => {
  it('deletes the project with its members and tasks, in one event its members and assignees see', async () => {
    const owner = await user();
    const member = await user();
    const p = await shared(owner, 'Doomed');
    await addMember(p.id, member, 'editor');
    const task = await ctx.services.tasks.create(as(owner), {
      title: 't',
      projectId: p.id,
      assigneeId: member.id,
    });
    vi.setSystemTime(T0 + 9000);
    recordSpy.mockClear();
    await projects.delete(as(owner, 'key-d'), p.id, '"1"');
    expect(await projectRow(p.id)).toBeUndefined();
    expect(await memberRows(p.id)).toEqual([]);
    expect(
      await ctx.database.db.selectFrom('tasks').select('id').where('id', '=', task.id).executeTakeFirst(),
    ).toBeUndefined();
    const { role: _role, ...data } = p;
    expect(recorded()).toEqual([
      {
        type: 'project.deleted',
        at: at(9000),
        actor: { type: 'api_key', id: 'key-d' },
        projectId: p.id,
        subject: { type: 'project', id: p.id },
        taskId: null,
        changes: null,
        data,
        viewers: expect.any(Array),
      },
    ]);
    expect(sorted(recorded()[0]?.viewers ?? [])).toEqual(sorted([owner.id, member.id, member.id]));
  });

  it('refuses, in order: not visible, not owner, personal, If-Match', async () => {
    const owner = await user();
    const editor = await user();
    const stranger = await user();
    const admin = await user('admin');
    const p = await shared(owner, 'Kept');
    await addMember(p.id, editor, 'editor');
    expect((await failure(projects.delete(as(stranger), p.id, undefined))).code).toBe('not_found');
    const forbidden = await failure(projects.delete(as(editor), p.id, '"5"'));
    expect(forbidden.code).toBe('forbidden');
    expect(forbidden.detail).toBe('Only an owner of the project may delete it');
    const stale = await failure(projects.delete(as(owner), p.id, '"5"'));
    expect(stale.code).toBe('precondition_failed');
    expect(stale.headers).toEqual({ etag: '"1"' });
    const personalId = await projects.personalProjectId(owner.id);
    const personal = await failure(projects.delete(as(admin), personalId, '"5"'));
    expect(personal.code).toBe('conflict');
    expect(personal.detail).toBe('A personal project cannot be deleted');
    expect(await projectRow(p.id)).toBeDefined();
    expect(await projectRow(personalId)).toBeDefined();
    // An admin acts as owner.
    await projects.delete(as(admin), p.id, undefined);
    expect(await projectRow(p.id)).toBeUndefined();
  });

  it('answers 404 when the row went between the read and the delete', async () => {
    const owner = await user();
    const p = await shared(owner, 'Gone');
    const found = await projects.visible(as(owner), p.id);
    vi.spyOn(projects, 'visible').mockResolvedValueOnce({
      ...found,
      project: { ...found.project, version: 0 },
    });
    const error = await failure(projects.delete(as(owner), p.id, undefined));
    expect(error.code).toBe('not_found');
    expect(await projectRow(p.id)).toBeDefined();
  });
});

describe('a user’s deletion', () => {
  it('takes its lone projects and its Inbox, leaves its memberships elsewhere, recorded by the system', async () => {
    const admin = await user('admin');
    const leaving = await user();
    const stays = await user();
    const alone = await shared(leaving, 'Alone');
    const withOthers = await shared(leaving, 'With Others');
    await addMember(withOthers.id, stays, 'owner');
    const joined = await shared(stays, 'Joined');
    await addMember(joined.id, leaving, 'viewer');
    const inbox = await projects.personalProjectId(leaving.id);
    // A personal project's assignee is not a member: it sees the Inbox go.
    await ctx.services.tasks.create(as(leaving), { title: 'for stays', assigneeId: stays.id });
    vi.setSystemTime(T0 + 7000);
    recordSpy.mockClear();
    await ctx.services.users.delete(leaving.id, admin.id);

    expect(await projectRow(alone.id)).toBeUndefined();
    expect(await projectRow(inbox)).toBeUndefined();
    expect(await projectRow(withOthers.id)).toBeDefined();
    expect(await memberRows(withOthers.id)).toEqual([{ user_id: stays.id, role: 'owner' }]);
    expect(await memberRows(joined.id)).toEqual([{ user_id: stays.id, role: 'owner' }]);

    const deleted = ofType('project.deleted');
    expect(deleted.map((e) => e.projectId)).toEqual([alone.id, inbox]);
    expect(deleted[0]).toMatchObject({
      at: at(7000),
      actor: { type: 'system', id: null },
      subject: { type: 'project', id: alone.id },
      data: { id: alone.id, name: 'Alone', personal: false },
      viewers: [leaving.id],
    });
    expect(deleted[1]).toMatchObject({
      actor: { type: 'system', id: null },
      data: { id: inbox, name: 'Inbox', personal: true },
      viewers: [leaving.id, stays.id],
    });
    const removed = ofType('member.removed');
    expect(sorted(removed.map((e) => e.projectId))).toEqual(sorted([withOthers.id, joined.id]));
    for (const event of removed) {
      expect(event).toMatchObject({
        at: at(7000),
        actor: { type: 'system', id: null },
        subject: { type: 'member', id: leaving.id },
        viewers: [leaving.id],
      });
    }
    expect(removed.find((e) => e.projectId === joined.id)?.data).toMatchObject({ role: 'viewer' });
  });

  it('refuses to delete the last owner of a shared project that has other members', async () => {
    const admin = await user('admin');
    const leaving = await user();
    const editor = await user();
    const p = await shared(leaving, 'Needs Owner');
    await addMember(p.id, editor, 'editor');
    const error = await failure(ctx.services.users.delete(leaving.id, admin.id));
    expect(error.code).toBe('last_owner');
    expect(error.detail).toBe(
      `The user is the last owner of project ${p.id}, which has other members: make another member owner first`,
    );
    expect(await projectRow(p.id)).toBeDefined();
    expect(await memberRows(p.id)).toHaveLength(2);
    expect(await ctx.services.users.exists(leaving.id)).toBe(true);

    // A guest's owner membership counts as no owner, and neither does the leaving one's.
    const guest = await user('guest');
    await addMember(p.id, guest, 'owner');
    expect((await failure(ctx.services.users.delete(leaving.id, admin.id))).code).toBe('last_owner');
    // Another owner (not a guest) lets it go.
    await ctx.database.db
      .updateTable('project_members')
      .set({ role: 'owner' })
      .where('project_id', '=', p.id)
      .where('user_id', '=', editor.id)
      .execute();
    await ctx.services.users.delete(leaving.id, admin.id);
    expect(await projectRow(p.id)).toBeDefined();
    expect(sorted((await memberRows(p.id)).map((m) => m.user_id))).toEqual(sorted([editor.id, guest.id]));
  });

  it('lets a member that is no owner go from a project without owners', async () => {
    const admin = await user('admin');
    const founder = await user();
    const leaving = await user();
    const viewer = await user();
    const p = await shared(founder, 'Ownerless');
    await addMember(p.id, leaving, 'editor');
    await addMember(p.id, viewer, 'viewer');
    await ctx.database.db.deleteFrom('project_members').where('user_id', '=', founder.id).execute();
    recordSpy.mockClear();
    await ctx.services.users.delete(leaving.id, admin.id);
    expect(await projectRow(p.id)).toBeDefined();
    expect(await memberRows(p.id)).toEqual([{ user_id: viewer.id, role: 'viewer' }]);
    expect(ofType('member.removed').map((e) => [e.projectId, e.subject.id])).toEqual([[p.id, leaving.id]]);
  });

  it('lets a user go that only a guest role keeps from owning a project', async () => {
    const admin = await user('admin');
    const leaving = await user();
    const editor = await user();
    const p = await shared(leaving, 'Guest Owner');
    await addMember(p.id, editor, 'editor');
    await ctx.services.users.update(leaving.id, { role: 'guest' });
    recordSpy.mockClear();
    await ctx.services.users.delete(leaving.id, admin.id);
    expect(await projectRow(p.id)).toBeDefined();
    expect(await memberRows(p.id)).toEqual([{ user_id: editor.id, role: 'editor' }]);
    expect(ofType('member.removed').map((e) => [e.projectId, e.subject.id])).toEqual([[p.id, leaving.id]]);
    expect(ofType('project.deleted')).toHaveLength(1);
  });

  it('takes lone projects of a non-owner member too and records nothing for what it does not have', async () => {
    await ctx.changes.transaction(ctx.database.db, async (trx) => {
      await projects.userDeleted(trx, 'no-such-user', at(0));
    });
    expect(recorded()).toEqual([]);
    const leaving = await user();
    const gone = await user();
    const p = await shared(gone, 'Left Behind');
    await addMember(p.id, leaving, 'viewer');
    await ctx.database.db.deleteFrom('project_members').where('user_id', '=', gone.id).execute();
    const inbox = await projects.personalProjectId(leaving.id);
    recordSpy.mockClear();
    await ctx.changes.transaction(ctx.database.db, async (trx) => {
      await projects.userDeleted(trx, leaving.id, at(1));
    });
    expect(await projectRow(p.id)).toBeUndefined();
    expect(await projectRow(inbox)).toBeUndefined();
    expect(ofType('project.deleted').map((e) => e.projectId)).toEqual([p.id, inbox]);
    expect(ofType('member.removed')).toEqual([]);
  });
});
