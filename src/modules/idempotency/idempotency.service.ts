import { createHash, createHmac, hkdfSync, randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Database } from '../../db/schema.js';
import { ApiError } from '../../errors.js';
import { canonicalJson, type IdempotencyClaim, type StoredReply } from '../../lib/idempotency.js';
import type { AppContext } from '../../lib/module.js';
import * as repo from './idempotency.repository.js';

/** Contract §4: a crashed request's key can be used again after this. */
export const LEASE_MS = 60_000;
/** Contract §4: a stored reply replays for this long. */
export const RETENTION_MS = 24 * 60 * 60_000;
/** Claims that lose a race to another claim of the same key look again this often at most. */
const CLAIM_ATTEMPTS = 3;

/** What a request asks: compared with the stored fingerprint of its key. */
export interface RequestShape {
  method: string;
  /** The route's template, version prefix included (`/api/v1/tasks/:id/comments`). */
  route: string;
  params: unknown;
  body: unknown;
}

/** The first request's reply to send again, or the key this request now holds. */
export type Claim = { replay: StoredReply } | { lease: Lease };

/** The key a request holds: it completes in the transaction of the create, or is released. */
export class Lease implements IdempotencyClaim {
  constructor(
    private readonly service: IdempotencyService,
    readonly keyHash: string,
    readonly leaseId: string,
  ) {}

  async complete(trx: Transaction<Database>, reply: StoredReply): Promise<void> {
    const expires = new Date(this.service.now() + RETENTION_MS).toISOString();
    const stored = await repo.completeLease(trx, this.keyHash, this.leaseId, {
      status: reply.status,
      headers: JSON.stringify(reply.headers),
      body: reply.body,
      expires_at: expires,
    });
    // The lease ended and a retry took the key over: this request must not create a second row.
    if (!stored) throw inProgress('The lease of this Idempotency-Key ended and a retry holds it now');
  }

  /** Frees the key of a request that stored nothing (a no-op once a reply is stored). */
  release(): Promise<void> {
    return repo.releaseLease(this.service.db, this.keyHash, this.leaseId);
  }
}

function inProgress(detail: string): ApiError {
  return new ApiError('idempotency_in_progress', { detail, headers: { 'retry-after': '1' } });
}

/**
 * Idempotency keys (contract §4): a key is claimed with a lease (a committed row) before the
 * handler runs; the create stores its reply in the same row, in its own transaction, comparing
 * the lease it holds; a later request with the key replays that reply, or is refused.
 */
export class IdempotencyService {
  private key: Buffer | null = null;

  constructor(private readonly ctx: AppContext) {}

  get db() {
    return this.ctx.database.db;
  }

  now(): number {
    return this.ctx.clock();
  }

  /**
   * The request's fingerprint: an HMAC (a key derived from JWT_SECRET for this purpose only), as a
   * body may hold a password that a plain hash would expose to guessing.
   */
  fingerprint(shape: RequestShape): string {
    // Stryker disable next-line ConditionalExpression: deriving the key again gives the same key (it is only kept to save the work)
    if (!this.key) {
      const secret = this.ctx.config.jwtSecret;
      if (!secret) throw new Error('JWT_SECRET must be resolved before idempotency keys are used');
      this.key = Buffer.from(hkdfSync('sha256', secret, 'taskforge', 'idempotency-fingerprint-v1', 32));
    }
    const text = `${shape.method} ${shape.route}\n${canonicalJson(shape.params)}\n${canonicalJson(shape.body)}`;
    return createHmac('sha256', this.key).update(text).digest('hex');
  }

  /**
   * Claims `key` of `caller` for a request of `fingerprint`: a lease when the key is new, expired
   * or its holder's lease has ended; the stored reply when the same request completed within the
   * retention; 422 `idempotency_key_reused` for another request; 409 `idempotency_in_progress`
   * while the first still runs.
   */
  async claim(caller: string, key: string, fingerprint: string): Promise<Claim> {
    const keyHash = createHash('sha256').update(`${caller}\n${key}`).digest('hex');
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const now = this.now();
      const nowIso = new Date(now).toISOString();
      const row: repo.KeyRow = {
        key_hash: keyHash,
        fingerprint,
        lease_id: randomUUID(),
        lease_until: new Date(now + LEASE_MS).toISOString(),
        status: null,
        headers: null,
        body: null,
        expires_at: new Date(now + RETENTION_MS).toISOString(),
      };
      if (await repo.insertLease(this.db, row)) return { lease: new Lease(this, keyHash, row.lease_id) };
      const found = await repo.findKey(this.db, keyHash);
      // Released or cleaned up since the insert: claim again.
      if (!found) continue;
      const live = found.expires_at > nowIso;
      if (live) {
        if (found.fingerprint !== fingerprint) {
          throw new ApiError('idempotency_key_reused', {
            detail: 'This Idempotency-Key was used with another request (another body or route)',
          });
        }
        if (found.status !== null) {
          return {
            replay: {
              status: found.status,
              headers: JSON.parse(found.headers ?? '{}') as Record<string, string>,
              body: found.body ?? '',
            },
          };
        }
        if (found.lease_until > nowIso) {
          throw inProgress('A request with this Idempotency-Key is still running');
        }
      }
      if (await repo.takeOver(this.db, found.lease_id, nowIso, row)) {
        return { lease: new Lease(this, keyHash, row.lease_id) };
      }
    }
    throw inProgress('Another request with this Idempotency-Key claimed it at the same moment');
  }
}
