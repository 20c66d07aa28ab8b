import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ResolvedAddress, Resolver } from '../../src/lib/dns.js';
import type { AppContext } from '../../src/lib/module.js';
import type { Principal } from '../../src/lib/principal.js';
import { newWebhookSecret, toWebhook, WebhooksService } from '../../src/modules/webhooks/webhooks.service.js';
import { testDatabaseUrl } from '../helpers/database.js';
import { buildTestServices, failure, type TestServices } from '../helpers/services.js';

/**
 * The webhooks service called directly, with its real repository and the other modules' services
 * (test/helpers/services.ts), a fixed Date and a resolver of the test's own (names resolve to the
 * addresses a test gives, without any network): each rule's outcome and the rows it leaves.
 */

const T0 = Date.UTC(2026, 11, 4, 9, 0, 0);
const PASSWORD = 'correct horse battery staple 42';
/** A global unicast address: the url policy allows it (nothing connects to it here). */
const PUBLIC = '93.184.216.34';
const URL_A = `https://${PUBLIC}/hooks/a`;
const MISSING = '01935e1f-2b3e-7d4e-8f5a-6b7e8d9e0f1a';

let services: TestServices;
let ctx: AppContext;
let webhooks: WebhooksService;
let counter = 0;
/** What each name resolves to; a name not here does not resolve. */
const names = new Map<string, ResolvedAddress[]>();
/** Run once, before the next resolution answers (then forgotten). */
let onResolve: (() => Promise<void>) | null = null;
const resolved: string[] = [];

const resolver: Resolver = async (host) => {
  resolved.push(host);
  const hook = onResolve;
  onResolve = null;
  if (hook) await hook();
  const addresses = names.get(host);
  if (!addresses) throw new Error(`ENOTFOUND ${host}`);
  return addresses;
};

beforeAll(async () => {
  services = await buildTestServices();
  ctx = services.ctx;
  // The service reads the resolver from the context at each check.
  (ctx as { resolve: Resolver }).resolve = resolver;
  webhooks = ctx.services.webhooks;
});
afterAll(async () => services.close());
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
  names.clear();
  names.set('hooks.example.org', [{ address: PUBLIC, family: 4 }]);
  names.set('inside.example.org', [
    { address: PUBLIC, family: 4 },
    { address: '10.1.2.3', family: 4 },
  ]);
  onResolve = null;
  resolved.length = 0;
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const at = (ms: number) => new Date(T0 + ms).toISOString();

async function person(role: 'user' | 'admin' = 'user'): Promise<Principal> {
  counter += 1;
  const u = await ctx.services.users.create({
    email: `hooks-unit-${counter}@example.com`,
    password: PASSWORD,
    name: `h${counter}`,
    role,
  });
  return { userId: u.id, role, sessionId: null, scopes: null, apiKeyId: null, tokenExpiresAt: null };
}

const rowOf = (id: string) =>
  ctx.database.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();

const countOf = async (userId: string) =>
  (await ctx.database.db.selectFrom('webhooks').select('id').where('user_id', '=', userId).execute()).length;

describe('newWebhookSecret and toWebhook', () => {
  it('makes a whsec_ secret of 32 random bytes, new each time', () => {
    const a = newWebhookSecret();
    const b = newWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.slice('whsec_'.length), 'base64url')).toHaveLength(32);
    expect(b).not.toBe(a);
  });

  it('maps a row to the API shape without its secret; active is 1 exactly', () => {
    const row = {
      id: 'w1',
      user_id: 'u1',
      url: URL_A,
      events: '["task.created","task.updated"]',
      project_id: 'p1',
      description: 'd',
      secret: 'whsec_x',
      active: 1,
      disabled_reason: null,
      created_at: at(0),
      updated_at: at(1),
      last_delivery_at: at(2),
    };
    expect(toWebhook(row)).toEqual({
      id: 'w1',
      url: URL_A,
      events: ['task.created', 'task.updated'],
      projectId: 'p1',
      description: 'd',
      active: true,
      disabledReason: null,
      createdAt: at(0),
      updatedAt: at(1),
      lastDeliveryAt: at(2),
    });
    expect(toWebhook({ ...row, active: 0, disabled_reason: 'gone' })).toMatchObject({
      active: false,
      disabledReason: 'gone',
    });
    // PostgreSQL may hand the column back as text.
    expect(toWebhook({ ...row, active: '1' as unknown as number }).active).toBe(true);
  });
});

describe('create', () => {
  it('stores the webhook with a fresh secret and the event head of the moment, and answers it once with the secret', async () => {
    const caller = await person();
    const head = (await ctx.services.events.state()).head;
    const created = await webhooks.create(caller, { url: URL_A, events: ['task.created'] });
    expect(created).toEqual({
      id: expect.any(String),
      url: URL_A,
      events: ['task.created'],
      projectId: null,
      description: '',
      active: true,
      disabledReason: null,
      createdAt: at(0),
      updatedAt: at(0),
      lastDeliveryAt: null,
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9_-]{43}$/),
    });
    const row = await rowOf(created.id);
    expect(row).toEqual({
      id: created.id,
      user_id: caller.userId,
      url: URL_A,
      events: '["task.created"]',
      project_id: null,
      description: '',
      secret: created.secret,
      active: 1,
      disabled_reason: null,
      created_at: at(0),
      updated_at: at(0),
      last_delivery_at: null,
      since: expect.anything(),
    });
    expect(Number(row?.since)).toBe(head);
    const { secret, ...shown } = created;
    expect(await webhooks.get(caller, created.id)).toEqual(shown);
    // The delivery code gets the row, secret included; an unknown id gives nothing.
    expect(await webhooks.deliveryTarget(created.id)).toEqual(row);
    expect(await webhooks.deliveryTarget(MISSING)).toBeUndefined();
  });

  it('keeps a description and a project the caller may see', async () => {
    const caller = await person();
    const project = await ctx.services.projects.create(caller, { name: 'Hooked' });
    const created = await webhooks.create(caller, {
      url: 'https://hooks.example.org/p',
      events: ['*'],
      projectId: project.id,
      description: 'for the project',
    });
    expect(created).toMatchObject({ projectId: project.id, description: 'for the project', events: ['*'] });
    expect(resolved).toEqual(['hooks.example.org']);
    expect(await rowOf(created.id)).toMatchObject({ project_id: project.id, description: 'for the project' });
    // projectId null is no project at all.
    const all = await webhooks.create(caller, { url: URL_A, events: ['*'], projectId: null });
    expect(all.projectId).toBeNull();
    // An admin sees every project.
    const admin = await person('admin');
    const byAdmin = await webhooks.create(admin, { url: URL_A, events: ['*'], projectId: project.id });
    expect(byAdmin.projectId).toBe(project.id);
  });

  it('refuses a project the caller is not a member of, and one that does not exist', async () => {
    const owner = await person();
    const stranger = await person();
    const project = await ctx.services.projects.create(owner, { name: 'Private' });
    for (const projectId of [project.id, MISSING]) {
      const error = await failure(webhooks.create(stranger, { url: URL_A, events: ['*'], projectId }));
      expect(error.code).toBe('validation_failed');
      expect(error.status).toBe(422);
      expect(error.errors).toEqual([
        { pointer: '/projectId', code: 'not_found', detail: 'no project you may see has this id' },
      ]);
    }
    expect(await countOf(stranger.userId)).toBe(0);
  });

  it('refuses a URL the policy does not allow, with its reason', async () => {
    const caller = await person();
    const cases: [string, string][] = [
      [`http://${PUBLIC}/x`, 'must be an https:// URL'],
      ['https://127.0.0.1/x', 'its host 127.0.0.1 has the address 127.0.0.1, which is not global unicast'],
      ['https://nowhere.example.org/x', 'its host nowhere.example.org does not resolve'],
      [
        'https://inside.example.org/x',
        'its host inside.example.org has the address 10.1.2.3, which is not global unicast',
      ],
    ];
    for (const [url, reason] of cases) {
      const error = await failure(webhooks.create(caller, { url, events: ['*'] }));
      expect(error.code).toBe('validation_failed');
      expect(error.detail).toBe('1 field is invalid');
      expect(error.errors).toEqual([{ pointer: '/url', code: 'url_not_allowed', detail: reason }]);
    }
    expect(resolved).toEqual(['nowhere.example.org', 'inside.example.org']);
    expect(await countOf(caller.userId)).toBe(0);
  });

  it('refuses "*" beside other types, where it stands; alone it is every type', async () => {
    const caller = await person();
    const first = await failure(webhooks.create(caller, { url: URL_A, events: ['*', 'task.created'] }));
    expect(first.errors).toEqual([
      { pointer: '/events/0', code: 'enum', detail: '"*" must be the only item of events' },
    ]);
    const second = await failure(
      webhooks.create(caller, { url: URL_A, events: ['task.created', 'task.deleted', '*'] }),
    );
    expect(second.errors).toEqual([
      { pointer: '/events/2', code: 'enum', detail: '"*" must be the only item of events' },
    ]);
    const two = await webhooks.create(caller, { url: URL_A, events: ['task.created', 'task.deleted'] });
    expect(two.events).toEqual(['task.created', 'task.deleted']);
    expect(await countOf(caller.userId)).toBe(1);
  });

  it('lists every invalid field at once: url, events, then project', async () => {
    const caller = await person();
    const error = await failure(
      webhooks.create(caller, {
        url: 'https://10.0.0.1/x',
        events: ['task.created', '*'],
        projectId: MISSING,
      }),
    );
    expect(error.detail).toBe('3 fields are invalid');
    expect(error.errors?.map((e) => e.pointer)).toEqual(['/url', '/events/1', '/projectId']);
  });

  it('allows 20 webhooks per user, then 409 conflict; other users are not counted', async () => {
    const caller = await person();
    for (let i = 0; i < 20; i += 1) await webhooks.create(caller, { url: `${URL_A}/${i}`, events: ['*'] });
    const error = await failure(webhooks.create(caller, { url: URL_A, events: ['*'] }));
    expect(error.code).toBe('conflict');
    expect(error.status).toBe(409);
    expect(error.detail).toBe('At most 20 webhooks per user: delete one first');
    expect(await countOf(caller.userId)).toBe(20);
    const other = await person();
    expect((await webhooks.create(other, { url: URL_A, events: ['*'] })).url).toBe(URL_A);
  });
});

describe.runIf(testDatabaseUrl)('create on PostgreSQL', () => {
  it('holds the owner’s row to the commit, so that a second creation waits and counts the first', async () => {
    const caller = await person();
    let settled = false;
    let blocked = false;
    let creation: Promise<unknown> = Promise.resolve();
    // Another transaction holds the row as lockOwner's FOR UPDATE would (FOR NO KEY UPDATE lets the
    // insert's foreign-key check through): the creation must wait for it.
    await ctx.database.db.transaction().execute(async (trx) => {
      await sql`SELECT id FROM users WHERE id = ${caller.userId} FOR NO KEY UPDATE`.execute(trx);
      const { rows } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx);
      const holder = Number(rows[0]?.pid);
      creation = webhooks.create(caller, { url: URL_A, events: ['*'] }).finally(() => {
        settled = true;
      });
      creation.catch(() => undefined);
      for (let i = 0; i < 500 && !settled && !blocked; i += 1) {
        const waiting = await sql<{ n: number | string }>`
          SELECT count(*) AS n FROM pg_stat_activity WHERE ${holder} = ANY(pg_blocking_pids(pid))`.execute(
          ctx.database.db,
        );
        blocked = Number(waiting.rows[0]?.n) > 0;
      }
      expect(blocked).toBe(true);
      expect(settled).toBe(false);
    });
    expect(await creation).toMatchObject({ url: URL_A });
    expect(await countOf(caller.userId)).toBe(1);
  });
});

describe('get, list and delete', () => {
  it('gets only the caller’s own webhook', async () => {
    const owner = await person();
    const other = await person();
    const hook = await webhooks.create(owner, { url: URL_A, events: ['*'] });
    expect((await webhooks.get(owner, hook.id)).id).toBe(hook.id);
    for (const [caller, id] of [
      [other, hook.id],
      [owner, MISSING],
    ] as const) {
      const error = await failure(webhooks.get(caller, id));
      expect(error.code).toBe('not_found');
      expect(error.status).toBe(404);
    }
  });

  it('lists the caller’s webhooks newest first, a page at a time, with the total', async () => {
    const caller = await person();
    const other = await person();
    await webhooks.create(other, { url: URL_A, events: ['*'] });
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      vi.setSystemTime(T0 + i * 1000);
      ids.push((await webhooks.create(caller, { url: `${URL_A}/${i}`, events: ['*'] })).id);
    }
    const first = await webhooks.list(caller, { page: 1, size: 2 });
    expect(first).toMatchObject({ total: 3, page: 1, size: 2, pages: 2 });
    expect(first.items.map((w) => w.id)).toEqual([ids[2], ids[1]]);
    expect(first.items[0]).toEqual(await webhooks.get(caller, ids[2] as string));
    const second = await webhooks.list(caller, { page: 2, size: 2 });
    expect(second).toMatchObject({ total: 3, page: 2, pages: 2 });
    expect(second.items.map((w) => w.id)).toEqual([ids[0]]);
    const empty = await webhooks.list(await person(), { page: 1, size: 10 });
    expect(empty).toEqual({ items: [], total: 0, page: 1, size: 10, pages: 0 });
  });

  it('deletes the caller’s own webhook once; not another’s', async () => {
    const owner = await person();
    const other = await person();
    const hook = await webhooks.create(owner, { url: URL_A, events: ['*'] });
    const kept = await failure(webhooks.delete(other, hook.id));
    expect(kept.code).toBe('not_found');
    expect(await rowOf(hook.id)).toBeDefined();
    await webhooks.delete(owner, hook.id);
    expect(await rowOf(hook.id)).toBeUndefined();
    expect((await failure(webhooks.delete(owner, hook.id))).code).toBe('not_found');
  });
});

describe('listAfter (version 2)', () => {
  async function three(caller: Principal, sameTime = false): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      vi.setSystemTime(sameTime ? T0 : T0 + i * 1000);
      ids.push((await webhooks.create(caller, { url: `${URL_A}/${i}`, events: ['*'] })).id);
    }
    return ids.reverse();
  }

  it('pages newest first with a signed cursor, null after the last page', async () => {
    const caller = await person();
    await webhooks.create(await person(), { url: URL_A, events: ['*'] });
    const ids = await three(caller);
    const first = await webhooks.listAfter(caller, { limit: 2, cursor: undefined });
    expect(first.items.map((w) => w.id)).toEqual(ids.slice(0, 2));
    expect(first.items[0]).toEqual(await webhooks.get(caller, ids[0] as string));
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await webhooks.listAfter(caller, { limit: 2, cursor: first.nextCursor as string });
    expect(second).toEqual({ items: [await webhooks.get(caller, ids[2] as string)], nextCursor: null });
    // A page that holds exactly what is left has no next one.
    expect((await webhooks.listAfter(caller, { limit: 3, cursor: undefined })).nextCursor).toBeNull();
    // The cursor is the last item's (createdAt, id): with equal times the id decides.
    const same = await person();
    const tied = await three(same, true);
    const one = await webhooks.listAfter(same, { limit: 1, cursor: undefined });
    const two = await webhooks.listAfter(same, { limit: 1, cursor: one.nextCursor as string });
    expect([...one.items, ...two.items].map((w) => w.id)).toEqual(tied.slice(0, 2));
    expect(ctx.cursors.open({ list: 'webhooks', caller: same.userId }, one.nextCursor as string)).toEqual({
      v: at(0),
      id: tied[0],
    });
  });

  it('refuses a cursor of another caller, of another list, or of another shape', async () => {
    const caller = await person();
    const other = await person();
    await three(caller);
    const page = await webhooks.listAfter(caller, { limit: 1, cursor: undefined });
    const foreign = await failure(webhooks.listAfter(other, { limit: 1, cursor: page.nextCursor as string }));
    expect(foreign.code).toBe('invalid_cursor');
    const binding = { list: 'webhooks', caller: caller.userId };
    const elsewhere = ctx.cursors.sign(
      { list: 'webhook-deliveries', caller: caller.userId },
      { v: at(0), id: 'x' },
    );
    expect((await failure(webhooks.listAfter(caller, { limit: 1, cursor: elsewhere }))).code).toBe(
      'invalid_cursor',
    );
    for (const position of [null, 'x', { v: at(0) }, { id: 'x' }, { v: 1, id: 'x' }, { v: at(0), id: 2 }]) {
      const error = await failure(
        webhooks.listAfter(caller, { limit: 1, cursor: ctx.cursors.sign(binding, position) }),
      );
      expect(error.code).toBe('invalid_cursor');
      expect(error.status).toBe(400);
    }
    // A cursor of the right list and shape is taken as it is.
    const far = ctx.cursors.sign(binding, { v: at(-1000), id: MISSING });
    expect(await webhooks.listAfter(caller, { limit: 5, cursor: far })).toEqual({
      items: [],
      nextCursor: null,
    });
  });
});

describe('update', () => {
  it('changes what the body holds and updatedAt; keeps the rest', async () => {
    const caller = await person();
    const hook = await webhooks.create(caller, {
      url: URL_A,
      events: ['task.created'],
      description: 'first',
    });
    vi.setSystemTime(T0 + 5000);
    const url = await webhooks.update(caller, hook.id, { url: 'https://hooks.example.org/b' });
    expect(url).toMatchObject({
      url: 'https://hooks.example.org/b',
      events: ['task.created'],
      description: 'first',
      active: true,
      createdAt: at(0),
      updatedAt: at(5000),
    });
    expect(resolved).toEqual(['hooks.example.org']);
    vi.setSystemTime(T0 + 6000);
    const events = await webhooks.update(caller, hook.id, { events: ['task.updated', 'task.deleted'] });
    expect(events).toMatchObject({ events: ['task.updated', 'task.deleted'], updatedAt: at(6000) });
    vi.setSystemTime(T0 + 7000);
    const described = await webhooks.update(caller, hook.id, { description: '' });
    expect(described).toMatchObject({ description: '', updatedAt: at(7000) });
    vi.setSystemTime(T0 + 8000);
    const off = await webhooks.update(caller, hook.id, { active: false });
    expect(off).toMatchObject({
      url: 'https://hooks.example.org/b',
      events: ['task.updated', 'task.deleted'],
      description: '',
      active: false,
      updatedAt: at(8000),
    });
    expect(await webhooks.get(caller, hook.id)).toEqual(off);
    expect(await rowOf(hook.id)).toMatchObject({
      url: 'https://hooks.example.org/b',
      events: '["task.updated","task.deleted"]',
      description: '',
      active: 0,
      updated_at: at(8000),
    });
    vi.setSystemTime(T0 + 9000);
    const on = await webhooks.update(caller, hook.id, { active: true });
    expect(on).toMatchObject({ active: true, updatedAt: at(9000) });
  });

  it('keeps updatedAt for a body that changes nothing, and does not check an unchanged URL again', async () => {
    const caller = await person();
    const hook = await webhooks.create(caller, {
      url: 'https://hooks.example.org/same',
      events: ['task.created', 'task.updated'],
      description: 'kept',
    });
    const { secret, ...shown } = hook;
    // The name no longer resolves: only a new URL would be checked.
    names.delete('hooks.example.org');
    resolved.length = 0;
    vi.setSystemTime(T0 + 5000);
    for (const input of [
      {},
      { url: 'https://hooks.example.org/same' },
      { events: ['task.created', 'task.updated'] as ('task.created' | 'task.updated')[] },
      { description: 'kept' },
      { active: true },
      {
        url: 'https://hooks.example.org/same',
        events: ['task.created', 'task.updated'] as ('task.created' | 'task.updated')[],
        description: 'kept',
        active: true,
      },
    ]) {
      expect(await webhooks.update(caller, hook.id, input)).toEqual(shown);
    }
    expect(resolved).toEqual([]);
    expect((await rowOf(hook.id))?.updated_at).toBe(at(0));
    // The same types in another order are another list.
    const reordered = await webhooks.update(caller, hook.id, { events: ['task.updated', 'task.created'] });
    expect(reordered).toMatchObject({ events: ['task.updated', 'task.created'], updatedAt: at(5000) });
  });

  it('active: true clears the reason a webhook was disabled; active: false keeps it', async () => {
    const caller = await person();
    const hook = await webhooks.create(caller, { url: URL_A, events: ['*'] });
    const disable = () =>
      ctx.database.db
        .updateTable('webhooks')
        .set({ active: 0, disabled_reason: 'failing for 24 hours' })
        .where('id', '=', hook.id)
        .execute();
    await disable();
    vi.setSystemTime(T0 + 1000);
    const still = await webhooks.update(caller, hook.id, { active: false });
    expect(still).toMatchObject({ active: false, disabledReason: 'failing for 24 hours', updatedAt: at(0) });
    const described = await webhooks.update(caller, hook.id, { description: 'x' });
    expect(described).toMatchObject({
      active: false,
      disabledReason: 'failing for 24 hours',
      updatedAt: at(1000),
    });
    vi.setSystemTime(T0 + 2000);
    const on = await webhooks.update(caller, hook.id, { active: true });
    expect(on).toMatchObject({ active: true, disabledReason: null, updatedAt: at(2000) });
    expect(await rowOf(hook.id)).toMatchObject({ active: 1, disabled_reason: null });
    // An active webhook that still holds a reason: active: true clears that alone.
    await ctx.database.db
      .updateTable('webhooks')
      .set({ disabled_reason: 'left over' })
      .where('id', '=', hook.id)
      .execute();
    vi.setSystemTime(T0 + 3000);
    const cleared = await webhooks.update(caller, hook.id, { active: true });
    expect(cleared).toMatchObject({ active: true, disabledReason: null, updatedAt: at(3000) });
  });

  it('checks a new URL and the events, refusing both at once; nothing is changed', async () => {
    const caller = await person();
    const hook = await webhooks.create(caller, { url: URL_A, events: ['*'] });
    const error = await failure(
      webhooks.update(caller, hook.id, { url: 'https://inside.example.org/', events: ['task.created', '*'] }),
    );
    expect(error.code).toBe('validation_failed');
    expect(error.errors).toEqual([
      {
        pointer: '/url',
        code: 'url_not_allowed',
        detail: 'its host inside.example.org has the address 10.1.2.3, which is not global unicast',
      },
      { pointer: '/events/1', code: 'enum', detail: '"*" must be the only item of events' },
    ]);
    expect(toWebhook((await rowOf(hook.id)) as NonNullable<Awaited<ReturnType<typeof rowOf>>>)).toMatchObject(
      {
        url: URL_A,
        events: ['*'],
      },
    );
  });

  it('404 for another’s webhook, a missing one, and one deleted before the write', async () => {
    const owner = await person();
    const other = await person();
    const hook = await webhooks.create(owner, { url: URL_A, events: ['*'] });
    expect((await failure(webhooks.update(other, hook.id, { description: 'mine' }))).code).toBe('not_found');
    expect((await failure(webhooks.update(owner, MISSING, { description: 'x' }))).code).toBe('not_found');
    expect((await rowOf(hook.id))?.description).toBe('');
    // Deleted while the new URL was being checked.
    onResolve = async () => {
      await ctx.database.db.deleteFrom('webhooks').where('id', '=', hook.id).execute();
    };
    const gone = await failure(webhooks.update(owner, hook.id, { url: 'https://hooks.example.org/late' }));
    expect(gone.code).toBe('not_found');
    expect(await rowOf(hook.id)).toBeUndefined();
  });
});

describe('transport', () => {
  it('sends with the url policy: a refused address is not connected to', async () => {
    const outcome = await webhooks.transport.send({
      url: 'https://127.0.0.1:9/x',
      headers: {},
      body: '{}',
    });
    expect(outcome).toMatchObject({ ok: false, status: null, body: null });
    expect(outcome.error).toMatch(/^address not allowed: /);
  });

  it('checks with the context’s resolver and times the attempt on the context’s clock', async () => {
    let now = T0;
    const clock = () => {
      now += 250;
      return now;
    };
    const own = new WebhooksService({ ...ctx, clock });
    const outcome = await own.transport.send({
      url: 'https://inside.example.org/x',
      headers: {},
      body: '{}',
    });
    expect(outcome).toEqual({
      ok: false,
      status: null,
      durationMs: 250,
      error: 'address not allowed: 10.1.2.3',
      body: null,
    });
    expect(resolved).toEqual(['inside.example.org']);
  });
});
