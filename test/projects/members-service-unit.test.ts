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
import type { Change } from '../../src/lib/change-log.js';
import type { AppContext } from '../../src/lib/module.js';
import type { Principal, ProjectRole, Role } from '../../src/lib/principal.js';
import { type MembersService, toMember } from '../../src/modules/projects/members.service.js';
import type { ProjectsService } from '../../src/modules/projects/projects.service.js';
import { buildTestServices, failure, type TestServices } from '../helpers/services.js';

/**
 * The members service called directly, with its real repository and the other modules' services
 * (test/helpers/services.ts: in-memory SQLite, or a PostgreSQL schema), and a fixed Date: each
 * rule's outcome in the house order, the rows it leaves and the events it records.
 */

const T0 = Date.UTC(2026, 11, 4, 10, 0, 0);
const PASSWORD = 'correct horse battery staple 42';

let services: TestServices;
let ctx: AppContext;
let projects: ProjectsService;
let members: MembersService;
let counter = 0;
let recordSpy: MockInstance<AppContext['changes']['record']>;

beforeAll(async () => {
  services = await buildTestServices();
  ctx = services.ctx;
  projects = ctx.services.projects;
  members = ctx.services.projectMembers;
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

interface TestUser {
  id: string;
  role: Role;
  email: string;
  name: string;
}

async function user(role: Role = 'user'): Promise<TestUser> {
  counter += 1;
  const created = await ctx.services.users.create({
    email: `members-unit-${counter}@example.com`,
    password: PASSWORD,
    name: `m${counter}`,
    role,
  });
  return { id: created.id, role, email: created.email, name: created.name };
}

function as(u: TestUser, apiKeyId: string | null = null): Principal {
  return { userId: u.id, role: u.role, sessionId: null, scopes: null, apiKeyId, tokenExpiresAt: null };
}

async function shared(owner: TestUser) {
  return projects.create(as(owner), { name: `team ${counter}` });
}

async function put(projectId: string, member: TestUser, role: ProjectRole, ms = 0) {
  await ctx.database.db
    .insertInto('project_members')
    .values({ project_id: projectId, user_id: member.id, role, added_at: at(ms) })
    .execute();
}

const storedRole = async (projectId: string, userId: string) =>
  (
    await ctx.database.db
      .selectFrom('project_members')
      .select('role')
      .where('project_id', '=', projectId)
      .where('user_id', '=', userId)
      .executeTakeFirst()
  )?.role;

async function archive(owner: TestUser, projectId: string) {
  await projects.update(as(owner), projectId, { archived: true }, undefined);
}

describe('toMember', () => {
  it('maps a row to the API shape with the role its global role caps', () => {
    const row = {
      user_id: 'u1',
      name: 'N',
      email: 'n@example.com',
      role: 'owner' as const,
      user_role: 'guest' as const,
      added_at: at(3),
    };
    expect(toMember(row)).toEqual({
      userId: 'u1',
      name: 'N',
      email: 'n@example.com',
      role: 'commenter',
      addedAt: at(3),
    });
    expect(toMember({ ...row, user_role: 'user' }).role).toBe('owner');
  });
});

describe('reading', () => {
  it('lists a project’s members oldest first to any member, in pages', async () => {
    const owner = await user();
    const viewer = await user();
    const guest = await user('guest');
    const stranger = await user();
    const p = await shared(owner);
    await put(p.id, viewer, 'viewer', 10);
    await put(p.id, guest, 'owner', 20);

    const first = await members.list(as(viewer), p.id, { page: 1, size: 2 });
    expect(first).toEqual({
      items: [
        { userId: owner.id, name: owner.name, email: owner.email, role: 'owner', addedAt: at(0) },
        { userId: viewer.id, name: viewer.name, email: viewer.email, role: 'viewer', addedAt: at(10) },
      ],
      total: 3,
      page: 1,
      size: 2,
      pages: 2,
    });
    const second = await members.list(as(owner), p.id, { page: 2, size: 2 });
    expect(second.items).toEqual([
      { userId: guest.id, name: guest.name, email: guest.email, role: 'commenter', addedAt: at(20) },
    ]);
    expect(second.total).toBe(3);
    expect((await failure(members.list(as(stranger), p.id, { page: 1, size: 2 }))).code).toBe('not_found');

    expect(await members.get(as(guest), p.id, viewer.id)).toEqual(first.items[1]);
    expect((await failure(members.get(as(owner), p.id, stranger.id))).code).toBe('not_found');
    expect((await failure(members.get(as(stranger), p.id, owner.id))).code).toBe('not_found');
  });

  it('pages version 2 with cursors bound to the caller and the project', async () => {
    const owner = await user();
    const a = await user();
    const b = await user();
    const stranger = await user();
    const p = await shared(owner);
    const q = await shared(owner);
    await put(p.id, a, 'editor', 10);
    await put(p.id, b, 'viewer', 20);
    const first = await members.listAfter(as(owner), p.id, { limit: 2, cursor: undefined });
    expect(first.items.map((m) => m.userId)).toEqual([owner.id, a.id]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await members.listAfter(as(owner), p.id, { limit: 2, cursor: first.nextCursor ?? '' });
    expect(second.items).toEqual([
      { userId: b.id, name: b.name, email: b.email, role: 'viewer', addedAt: at(20) },
    ]);
    expect(second.nextCursor).toBeNull();
    expect((await members.listAfter(as(owner), p.id, { limit: 3, cursor: undefined })).nextCursor).toBeNull();
    const single = await members.listAfter(as(owner), p.id, { limit: 1, cursor: undefined });
    expect(single.items.map((m) => m.userId)).toEqual([owner.id]);
    const next = await members.listAfter(as(owner), p.id, { limit: 1, cursor: single.nextCursor ?? '' });
    expect(next.items.map((m) => m.userId)).toEqual([a.id]);
    expect(next.nextCursor).toEqual(expect.any(String));

    const cursor = first.nextCursor ?? '';
    expect((await failure(members.listAfter(as(a), p.id, { limit: 2, cursor }))).code).toBe('invalid_cursor');
    expect((await failure(members.listAfter(as(owner), q.id, { limit: 2, cursor }))).code).toBe(
      'invalid_cursor',
    );
    expect((await failure(members.listAfter(as(stranger), p.id, { limit: 2, cursor: undefined }))).code).toBe(
      'not_found',
    );
    const binding = { list: 'members', caller: owner.id, projectId: p.id };
    const signed = ctx.cursors.sign(binding, { v: at(0), id: owner.id });
    expect(
      (await members.listAfter(as(owner), p.id, { limit: 5, cursor: signed })).items.map((m) => m.userId),
    ).toEqual([a.id, b.id]);
    const bad = ctx.cursors.sign(binding, { v: at(0) });
    expect((await failure(members.listAfter(as(owner), p.id, { limit: 5, cursor: bad }))).code).toBe(
      'invalid_cursor',
    );
  });
});

describe('add', () => {
  it('adds an account by its email with a role, recording member.added for it', async () => {
    const owner = await user();
    const joining = await user();
    const p = await shared(owner);
    vi.setSystemTime(T0 + 500);
    recordSpy.mockClear();
    const added = await members.add(as(owner, 'key-a'), p.id, {
      email: joining.email.toUpperCase(),
      role: 'editor',
    });
    const expected = {
      userId: joining.id,
      name: joining.name,
      email: joining.email,
      role: 'editor',
      addedAt: at(500),
    };
    expect(added).toEqual(expected);
    expect(await members.get(as(owner), p.id, joining.id)).toEqual(expected);
    expect(recorded()).toEqual([
      {
        type: 'member.added',
        at: at(500),
        actor: { type: 'api_key', id: 'key-a' },
        projectId: p.id,
        subject: { type: 'member', id: joining.id },
        taskId: null,
        changes: null,
        data: { ...expected, projectId: p.id },
        viewers: [joining.id],
      },
    ]);
    // A guest may join up to commenter; an admin acts as owner.
    const guest = await user('guest');
    const admin = await user('admin');
    expect((await members.add(as(admin), p.id, { email: guest.email, role: 'commenter' })).role).toBe(
      'commenter',
    );
    expect(recorded().at(-1)?.actor).toEqual({ type: 'user', id: admin.id });
  });

  it('refuses, in order: not visible, not owner, archived, personal, unknown email, role cap, already a member', async () => {
    const owner = await user();
    const editor = await user();
    const stranger = await user();
    const guest = await user('guest');
    const p = await shared(owner);
    await put(p.id, editor, 'editor');

    expect(
      (await failure(members.add(as(stranger), p.id, { email: stranger.email, role: 'viewer' }))).code,
    ).toBe('not_found');
    const forbidden = await failure(members.add(as(editor), p.id, { email: stranger.email, role: 'viewer' }));
    expect(forbidden.code).toBe('forbidden');
    expect(forbidden.detail).toBe('Only an owner of the project may add members');

    const unknown = await failure(
      members.add(as(owner), p.id, { email: 'nobody@example.com', role: 'viewer' }),
    );
    expect(unknown.code).toBe('validation_failed');
    expect(unknown.errors).toEqual([{ pointer: '/email', code: 'not_found', detail: 'names no account' }]);

    for (const role of ['editor', 'owner'] as const) {
      const capped = await failure(members.add(as(owner), p.id, { email: guest.email, role }));
      expect(capped.code).toBe('validation_failed');
      expect(capped.detail).toBe('1 field is invalid');
      expect(capped.errors).toEqual([
        { pointer: '/role', code: 'role_not_allowed', detail: 'a guest may be at most commenter' },
      ]);
    }
    const again = await failure(members.add(as(owner), p.id, { email: editor.email, role: 'viewer' }));
    expect(again.code).toBe('conflict');
    expect(again.detail).toBe('That user is already a member of the project');
    expect(await storedRole(p.id, editor.id)).toBe('editor');

    const inbox = await projects.personalProjectId(owner.id);
    const personal = await failure(
      members.add(as(owner), inbox, { email: 'nobody@example.com', role: 'viewer' }),
    );
    expect(personal.code).toBe('conflict');
    expect(personal.detail).toBe('A personal project cannot be shared');

    await archive(owner, p.id);
    const archived = await failure(
      members.add(as(owner), p.id, { email: 'nobody@example.com', role: 'viewer' }),
    );
    expect(archived.code).toBe('project_archived');
    expect(archived.detail).toBe('The project is archived: its members stay as they are');
    expect(await storedRole(p.id, stranger.id)).toBeUndefined();
  });
});

describe('update', () => {
  it('changes a role and records member.changed with the difference', async () => {
    const owner = await user();
    const member = await user();
    const p = await shared(owner);
    await put(p.id, member, 'viewer');
    vi.setSystemTime(T0 + 800);
    recordSpy.mockClear();
    const changed = await members.update(as(owner), p.id, member.id, { role: 'owner' });
    const expected = {
      userId: member.id,
      name: member.name,
      email: member.email,
      role: 'owner',
      addedAt: at(0),
    };
    expect(changed).toEqual(expected);
    expect(await storedRole(p.id, member.id)).toBe('owner');
    expect(recorded()).toEqual([
      {
        type: 'member.changed',
        at: at(800),
        actor: { type: 'user', id: owner.id },
        projectId: p.id,
        subject: { type: 'member', id: member.id },
        taskId: null,
        changes: { role: { from: 'viewer', to: 'owner' } },
        data: { ...expected, projectId: p.id },
        viewers: [member.id],
      },
    ]);
    // With another owner, the first one may step down.
    const stepped = await members.update(as(owner), p.id, owner.id, { role: 'editor' });
    expect(stepped.role).toBe('editor');
    expect(await storedRole(p.id, owner.id)).toBe('editor');
  });

  it('changes nothing and records nothing for the same role or one the cap makes alike', async () => {
    const owner = await user();
    const member = await user();
    const p = await shared(owner);
    await put(p.id, member, 'owner');
    await ctx.services.users.update(member.id, { role: 'guest' });
    recordSpy.mockClear();
    expect(await members.update(as(owner), p.id, owner.id, { role: 'owner' })).toMatchObject({
      role: 'owner',
    });
    expect(await storedRole(p.id, owner.id)).toBe('owner');
    // Stored owner, shown commenter (a guest): commenter is stored, and shown the same.
    const same = await members.update(as(owner), p.id, member.id, { role: 'commenter' });
    expect(same).toMatchObject({ userId: member.id, role: 'commenter' });
    expect(await storedRole(p.id, member.id)).toBe('commenter');
    expect(recorded()).toEqual([]);
    // In a personal project, the same role is no change either.
    const inbox = await projects.personalProjectId(owner.id);
    expect(await members.update(as(owner), inbox, owner.id, { role: 'owner' })).toMatchObject({
      role: 'owner',
    });
  });

  it('refuses, in order: not visible, not owner, archived, no member, role cap, personal, last owner', async () => {
    const owner = await user();
    const editor = await user();
    const guest = await user('guest');
    const stranger = await user();
    const p = await shared(owner);
    await put(p.id, editor, 'editor');
    await put(p.id, guest, 'viewer');

    expect((await failure(members.update(as(stranger), p.id, editor.id, { role: 'viewer' }))).code).toBe(
      'not_found',
    );
    const forbidden = await failure(members.update(as(editor), p.id, editor.id, { role: 'owner' }));
    expect(forbidden.code).toBe('forbidden');
    expect(forbidden.detail).toBe('Only an owner of the project may change roles');
    expect((await failure(members.update(as(owner), p.id, stranger.id, { role: 'viewer' }))).code).toBe(
      'not_found',
    );
    const capped = await failure(members.update(as(owner), p.id, guest.id, { role: 'editor' }));
    expect(capped.code).toBe('validation_failed');
    expect(capped.errors).toEqual([
      { pointer: '/role', code: 'role_not_allowed', detail: 'a guest may be at most commenter' },
    ]);
    const last = await failure(members.update(as(owner), p.id, owner.id, { role: 'editor' }));
    expect(last.code).toBe('last_owner');
    expect(last.detail).toBe('This is the last owner of the project: make another member owner first');
    expect(await storedRole(p.id, owner.id)).toBe('owner');
    // A guest's owner membership does not count as another owner.
    await put(p.id, await user('guest'), 'owner');
    expect((await failure(members.update(as(owner), p.id, owner.id, { role: 'viewer' }))).code).toBe(
      'last_owner',
    );

    const inbox = await projects.personalProjectId(owner.id);
    const personal = await failure(members.update(as(owner), inbox, owner.id, { role: 'editor' }));
    expect(personal.code).toBe('last_owner');
    expect(personal.detail).toBe('The user of a personal project stays its owner');

    await archive(owner, p.id);
    const archived = await failure(members.update(as(owner), p.id, stranger.id, { role: 'viewer' }));
    expect(archived.code).toBe('project_archived');
    expect(archived.detail).toBe('The project is archived: its members stay as they are');
    expect(await storedRole(p.id, editor.id)).toBe('editor');
  });
});

describe('remove', () => {
  it('removes a member, records member.removed and unassigns its tasks there', async () => {
    const owner = await user();
    const member = await user();
    const p = await shared(owner);
    await put(p.id, member, 'editor', 5);
    const task = await ctx.services.tasks.create(as(owner), {
      title: 'theirs',
      projectId: p.id,
      assigneeId: member.id,
    });
    vi.setSystemTime(T0 + 900);
    recordSpy.mockClear();
    await members.remove(as(owner, 'key-r'), p.id, member.id);
    expect(await storedRole(p.id, member.id)).toBeUndefined();
    const removed = recorded().find((e) => e.type === 'member.removed');
    expect(removed).toEqual({
      type: 'member.removed',
      at: at(900),
      actor: { type: 'api_key', id: 'key-r' },
      projectId: p.id,
      subject: { type: 'member', id: member.id },
      taskId: null,
      changes: null,
      data: {
        userId: member.id,
        name: member.name,
        email: member.email,
        role: 'editor',
        addedAt: at(5),
        projectId: p.id,
      },
      viewers: [member.id],
    });
    const unassigned = recorded().filter((e) => e.type === 'task.updated');
    expect(unassigned).toHaveLength(1);
    expect(unassigned[0]).toMatchObject({
      at: at(900),
      actor: { type: 'api_key', id: 'key-r' },
      subject: { type: 'task', id: task.id },
      changes: { assigneeId: { from: member.id, to: null } },
    });
    const row = await ctx.database.db
      .selectFrom('tasks')
      .select(['assignee_id', 'version'])
      .where('id', '=', task.id)
      .executeTakeFirstOrThrow();
    expect(row.assignee_id).toBeNull();
    expect(Number(row.version)).toBe(2);
  });

  it('changes and removes members of a project left without an owner (an admin acts as owner)', async () => {
    const admin = await user('admin');
    const founder = await user();
    const editor = await user();
    const guest = await user('guest');
    const p = await shared(founder);
    await put(p.id, editor, 'editor');
    await put(p.id, guest, 'owner');
    // Its only owner that counts gone: no member is an owner that is not a guest.
    await ctx.database.db.deleteFrom('project_members').where('user_id', '=', founder.id).execute();
    // Neither the guest's owner membership nor an editor is an owner whose change needs another.
    expect((await members.update(as(admin), p.id, guest.id, { role: 'viewer' })).role).toBe('viewer');
    expect(await storedRole(p.id, guest.id)).toBe('viewer');
    expect((await members.update(as(admin), p.id, editor.id, { role: 'viewer' })).role).toBe('viewer');
    await put(p.id, await user('guest'), 'owner');
    const other = await user();
    await put(p.id, other, 'commenter');
    await members.remove(as(admin), p.id, other.id);
    expect(await storedRole(p.id, other.id)).toBeUndefined();
    await members.remove(as(admin), p.id, guest.id);
    expect(await storedRole(p.id, guest.id)).toBeUndefined();
  });

  it('lets a member leave by itself, and an owner when another owner stays', async () => {
    const owner = await user();
    const viewer = await user();
    const second = await user();
    const p = await shared(owner);
    await put(p.id, viewer, 'viewer');
    await put(p.id, second, 'owner');
    await members.remove(as(viewer), p.id, viewer.id);
    expect(await storedRole(p.id, viewer.id)).toBeUndefined();
    await members.remove(as(owner), p.id, owner.id);
    expect(await storedRole(p.id, owner.id)).toBeUndefined();
    // A guest's owner membership counts for nothing: removing it needs no other owner.
    const guest = await user('guest');
    await put(p.id, guest, 'owner');
    await members.remove(as(second), p.id, guest.id);
    expect(await storedRole(p.id, guest.id)).toBeUndefined();
  });

  it('refuses, in order: not visible, not owner, archived, no member, personal, last owner', async () => {
    const owner = await user();
    const editor = await user();
    const viewer = await user();
    const stranger = await user();
    const p = await shared(owner);
    await put(p.id, editor, 'editor');
    await put(p.id, viewer, 'viewer');

    expect((await failure(members.remove(as(stranger), p.id, editor.id))).code).toBe('not_found');
    const forbidden = await failure(members.remove(as(editor), p.id, viewer.id));
    expect(forbidden.code).toBe('forbidden');
    expect(forbidden.detail).toBe('Only an owner of the project may remove other members');
    expect((await failure(members.remove(as(owner), p.id, stranger.id))).code).toBe('not_found');
    const last = await failure(members.remove(as(owner), p.id, owner.id));
    expect(last.code).toBe('last_owner');
    expect(last.detail).toBe('This is the last owner of the project: make another member owner first');
    await put(p.id, await user('guest'), 'owner');
    expect((await failure(members.remove(as(owner), p.id, owner.id))).code).toBe('last_owner');
    expect(await storedRole(p.id, owner.id)).toBe('owner');

    const inbox = await projects.personalProjectId(owner.id);
    const personal = await failure(members.remove(as(owner), inbox, owner.id));
    expect(personal.code).toBe('last_owner');
    expect(personal.detail).toBe('The user of a personal project stays its owner');

    await archive(owner, p.id);
    const archived = await failure(members.remove(as(viewer), p.id, viewer.id));
    expect(archived.code).toBe('project_archived');
    expect(archived.detail).toBe('The project is archived: its members stay as they are');
    expect(await storedRole(p.id, viewer.id)).toBe('viewer');
    expect(await storedRole(p.id, editor.id)).toBe('editor');
  });
});
