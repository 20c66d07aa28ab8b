import { createHash, createHmac, hkdfSync } from 'node:crypto';
import {
  AndNode,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  RawNode,
  SelectQueryNode,
  type UnknownRow,
  UpdateQueryNode,
  WhereNode,
} from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { StoredReply } from '../../src/lib/idempotency.js';
import type { AppContext } from '../../src/lib/module.js';
import {
  type Claim,
  IdempotencyService,
  LEASE_MS,
  type Lease,
  RETENTION_MS,
} from '../../src/modules/idempotency/idempotency.service.js';
import { TEST_SECRET } from '../helpers/app.js';
import { buildTestServices, failure, type TestServices } from '../helpers/services.js';

/**
 * The idempotency service called directly (test/helpers/services.ts: in-memory SQLite, or a
 * PostgreSQL schema) with a fixed Date: the fingerprint, each outcome of a claim, and the row a
 * lease leaves, completes or releases.
 */

const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
const FP = 'a'.repeat(64);
const OTHER_FP = 'b'.repeat(64);

let services: TestServices;
let ctx: AppContext;
let idem: IdempotencyService;
let counter = 0;

beforeAll(async () => {
  services = await buildTestServices();
  ctx = services.ctx;
  idem = ctx.services.idempotency;
});
afterAll(async () => services.close());
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const at = (ms: number) => new Date(T0 + ms).toISOString();
const hashOf = (caller: string, key: string) =>
  createHash('sha256').update(`${caller}\n${key}`).digest('hex');

function newKey(): string {
  counter += 1;
  return `key-${counter}`;
}

function leaseOf(claim: Claim): Lease {
  if (!('lease' in claim)) throw new Error(`expected a lease, got ${JSON.stringify(claim)}`);
  return claim.lease;
}

const rowOf = (keyHash: string) =>
  ctx.database.db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('key_hash', '=', keyHash)
    .executeTakeFirst();

async function completed(
  lease: Lease,
  reply: StoredReply = { status: 201, headers: { location: '/x/1' }, body: '{"id":1}' },
) {
  await ctx.database.db.transaction().execute((trx) => lease.complete(trx, reply));
}

describe('fingerprint', () => {
  it('is the HMAC of method, route, canonical params and body under a key derived from JWT_SECRET', () => {
    const key = Buffer.from(hkdfSync('sha256', TEST_SECRET, 'taskforge', 'idempotency-fingerprint-v1', 32));
    const expected = createHmac('sha256', key)
      .update('POST /api/v1/projects/:id/tasks\n{"id":"p1"}\n{"a":1,"b":[2,{"c":3}]}')
      .digest('hex');
    const shape = {
      method: 'POST',
      route: '/api/v1/projects/:id/tasks',
      params: { id: 'p1' },
      body: { b: [2, { c: 3 }], a: 1 },
    };
    expect(idem.fingerprint(shape)).toBe(expected);
    // The key is derived once and kept: the same request, the same fingerprint.
    expect(idem.fingerprint({ ...shape, body: { a: 1, b: [2, { c: 3 }] } })).toBe(expected);
    const others = [
      { ...shape, method: 'PUT' },
      { ...shape, route: '/api/v2/projects/:id/tasks' },
      { ...shape, params: { id: 'p2' } },
      { ...shape, body: { a: 2, b: [2, { c: 3 }] } },
    ].map((s) => idem.fingerprint(s));
    expect(new Set([expected, ...others]).size).toBe(5);
  });

  it('refuses to fingerprint without a JWT secret', () => {
    const keyless = new IdempotencyService({
      ...ctx,
      config: { ...ctx.config, jwtSecret: null },
    } as AppContext);
    expect(() => keyless.fingerprint({ method: 'POST', route: '/r', params: {}, body: {} })).toThrow(
      'JWT_SECRET must be resolved before idempotency keys are used',
    );
  });
});

describe('claim', () => {
  it('leases a new key: one row holding the lease, for LEASE_MS, kept for RETENTION_MS', async () => {
    const key = newKey();
    const lease = leaseOf(await idem.claim('user-1', key, FP));
    expect(lease.keyHash).toBe(hashOf('user-1', key));
    expect(lease.leaseId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await rowOf(lease.keyHash)).toEqual({
      key_hash: hashOf('user-1', key),
      fingerprint: FP,
      lease_id: lease.leaseId,
      lease_until: at(LEASE_MS),
      status: null,
      headers: null,
      body: null,
      expires_at: at(RETENTION_MS),
    });
    expect(idem.now()).toBe(T0);
    expect(idem.db).toBe(ctx.database.db);
    // Another caller's key of the same text is a key of its own.
    const other = leaseOf(await idem.claim('user-2', key, OTHER_FP));
    expect(other.keyHash).toBe(hashOf('user-2', key));
    expect(other.leaseId).not.toBe(lease.leaseId);
  });

  it('refuses the same key while its first request runs, until the lease ends', async () => {
    const key = newKey();
    const first = leaseOf(await idem.claim('u', key, FP));
    for (const ms of [0, LEASE_MS - 1]) {
      vi.setSystemTime(T0 + ms);
      const busy = await failure(idem.claim('u', key, FP));
      expect(busy.code).toBe('idempotency_in_progress');
      expect(busy.status).toBe(409);
      expect(busy.detail).toBe('A request with this Idempotency-Key is still running');
      expect(busy.headers).toEqual({ 'retry-after': '1' });
    }
    // The lease ended (its holder died): a retry takes the key over with a lease of its own.
    vi.setSystemTime(T0 + LEASE_MS);
    const retry = leaseOf(await idem.claim('u', key, FP));
    expect(retry.keyHash).toBe(first.keyHash);
    expect(retry.leaseId).not.toBe(first.leaseId);
    expect(await rowOf(first.keyHash)).toMatchObject({
      lease_id: retry.leaseId,
      lease_until: at(2 * LEASE_MS),
      expires_at: at(LEASE_MS + RETENTION_MS),
      status: null,
    });
    // The first holder can no longer store a reply, nor free the key.
    const late = await failure(completed(first));
    expect(late.code).toBe('idempotency_in_progress');
    expect(late.detail).toBe('The lease of this Idempotency-Key ended and a retry holds it now');
    expect(late.headers).toEqual({ 'retry-after': '1' });
    await first.release();
    expect((await rowOf(first.keyHash))?.lease_id).toBe(retry.leaseId);
  });

  it('refuses a live key sent with another request, running or completed', async () => {
    const key = newKey();
    const lease = leaseOf(await idem.claim('u', key, FP));
    const running = await failure(idem.claim('u', key, OTHER_FP));
    expect(running.code).toBe('idempotency_key_reused');
    expect(running.status).toBe(422);
    expect(running.detail).toBe('This Idempotency-Key was used with another request (another body or route)');
    await completed(lease);
    vi.setSystemTime(T0 + RETENTION_MS - 1);
    expect((await failure(idem.claim('u', key, OTHER_FP))).code).toBe('idempotency_key_reused');
  });

  it('replays a completed reply until the record expires, then leases the key again', async () => {
    const key = newKey();
    const lease = leaseOf(await idem.claim('u', key, FP));
    vi.setSystemTime(T0 + 5000);
    await completed(lease, { status: 201, headers: { location: '/a/1', etag: '"1"' }, body: '{"id":"a1"}' });
    expect(await rowOf(lease.keyHash)).toMatchObject({
      lease_id: lease.leaseId,
      status: 201,
      headers: '{"location":"/a/1","etag":"\\"1\\""}',
      body: '{"id":"a1"}',
      expires_at: at(5000 + RETENTION_MS),
    });
    const replay = {
      replay: { status: 201, headers: { location: '/a/1', etag: '"1"' }, body: '{"id":"a1"}' },
    };
    // Long after the lease: a stored reply is replayed, not taken over.
    vi.setSystemTime(T0 + 5000 + RETENTION_MS - 1);
    expect(await idem.claim('u', key, FP)).toEqual(replay);
    // A release after the reply is stored frees nothing.
    await lease.release();
    expect(await idem.claim('u', key, FP)).toEqual(replay);
    // Expired: the key is new again, even for another request; the stored reply is cleared.
    vi.setSystemTime(T0 + 5000 + RETENTION_MS);
    const again = leaseOf(await idem.claim('u', key, OTHER_FP));
    expect(await rowOf(lease.keyHash)).toEqual({
      key_hash: lease.keyHash,
      fingerprint: OTHER_FP,
      lease_id: again.leaseId,
      lease_until: at(5000 + RETENTION_MS + LEASE_MS),
      status: null,
      headers: null,
      body: null,
      expires_at: at(5000 + 2 * RETENTION_MS),
    });
  });

  it('takes over an expired record whose lease never ended', async () => {
    const key = newKey();
    const first = leaseOf(await idem.claim('u', key, FP));
    await ctx.database.db
      .updateTable('idempotency_keys')
      .set({ lease_until: at(2 * RETENTION_MS) })
      .where('key_hash', '=', first.keyHash)
      .execute();
    vi.setSystemTime(T0 + RETENTION_MS);
    const second = leaseOf(await idem.claim('u', key, OTHER_FP));
    expect((await rowOf(first.keyHash))?.lease_id).toBe(second.leaseId);
  });

  it('replays a stored reply without headers or body as an empty one', async () => {
    const key = newKey();
    const lease = leaseOf(await idem.claim('u', key, FP));
    await ctx.database.db
      .updateTable('idempotency_keys')
      .set({ status: 204, headers: null, body: null })
      .where('key_hash', '=', lease.keyHash)
      .execute();
    expect(await idem.claim('u', key, FP)).toEqual({ replay: { status: 204, headers: {}, body: '' } });
  });

  it('frees a key whose request stored nothing: the next claim leases it anew', async () => {
    const key = newKey();
    const lease = leaseOf(await idem.claim('u', key, FP));
    await lease.release();
    expect(await rowOf(lease.keyHash)).toBeUndefined();
    const next = leaseOf(await idem.claim('u', key, OTHER_FP));
    expect((await rowOf(lease.keyHash))?.fingerprint).toBe(OTHER_FP);
    expect(next.leaseId).not.toBe(lease.leaseId);
  });
});

/**
 * The service on a connection whose statements a test can race: `hide` makes the next reads of
 * idempotency_keys find nothing (the row was released in between), `lose` makes the next
 * take-overs match no row (another claim took the key a moment before).
 */
function racingService() {
  const state = { hide: 0, lose: 0 };
  const selects = new WeakSet<object>();
  const plugin: KyselyPlugin = {
    transformQuery({ node, queryId }: PluginTransformQueryArgs) {
      if (SelectQueryNode.is(node)) selects.add(queryId);
      if (UpdateQueryNode.is(node) && node.where && state.lose > 0) {
        state.lose -= 1;
        return {
          ...node,
          where: WhereNode.create(AndNode.create(node.where.where, RawNode.createWithSql('1 = 0'))),
        };
      }
      return node;
    },
    async transformResult({ result, queryId }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      if (!selects.has(queryId) || state.hide === 0) return result;
      state.hide -= 1;
      return { ...result, rows: [] };
    },
  };
  const db = ctx.database.db.withPlugin(plugin);
  const service = new IdempotencyService({ ...ctx, database: { ...ctx.database, db } } as AppContext);
  return { service, state };
}

describe('claim races', () => {
  it('claims again when the row it conflicted with is gone by the time it reads it', async () => {
    const { service, state } = racingService();
    const key = newKey();
    const first = leaseOf(await service.claim('u', key, FP));
    await completed(first);
    state.hide = 1;
    expect(await service.claim('u', key, FP)).toEqual({
      replay: { status: 201, headers: { location: '/x/1' }, body: '{"id":1}' },
    });
    expect(state.hide).toBe(0);
  });

  it('gives up with 409 after three claims lost to others at the same moment', async () => {
    const { service, state } = racingService();
    const key = newKey();
    const first = leaseOf(await service.claim('u', key, FP));
    vi.setSystemTime(T0 + LEASE_MS);
    state.lose = 3;
    const lost = await failure(service.claim('u', key, FP));
    expect(lost.code).toBe('idempotency_in_progress');
    expect(lost.detail).toBe('Another request with this Idempotency-Key claimed it at the same moment');
    expect(lost.headers).toEqual({ 'retry-after': '1' });
    expect(state.lose).toBe(0);
    expect((await rowOf(first.keyHash))?.lease_id).toBe(first.leaseId);
    // Two lost, the third wins.
    state.lose = 2;
    const won = leaseOf(await service.claim('u', key, FP));
    expect(state.lose).toBe(0);
    expect((await rowOf(first.keyHash))?.lease_id).toBe(won.leaseId);
  });
});
