import { randomBytes } from 'node:crypto';
import { uuidv7 } from 'uuidv7';
import { ApiError, type FieldError, validationFailed } from '../../errors.js';
import { type CursorPage, type CursorRequest, type Page, type PageRequest, pageOf } from '../../lib/lists.js';
import type { AppContext } from '../../lib/module.js';
import type { Principal } from '../../lib/principal.js';
import { createWebhookTransport, type WebhookTransport } from './transport.js';
import { checkUrl } from './url-policy.js';
import * as repo from './webhooks.repository.js';
import {
  type CreateWebhook,
  MAX_WEBHOOKS_PER_USER,
  type NewWebhook,
  type PatchWebhook,
  type Webhook,
  type WebhookEvent,
} from './webhooks.schemas.js';

/** `whsec_` and 32 random bytes, base64url: the key of every Taskforge-Signature of the webhook. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** The API shape: never the secret (that is in the creation's reply only). */
export function toWebhook(row: Omit<repo.WebhookRow, 'since'>): Webhook {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as WebhookEvent[],
    projectId: row.project_id,
    description: row.description,
    active: Number(row.active) === 1,
    disabledReason: row.disabled_reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastDeliveryAt: row.last_delivery_at,
  };
}

/** `"*"` stands alone: with other types it is ambiguous, so it is refused where it stands. */
function eventsErrors(events: readonly WebhookEvent[] | undefined): FieldError[] {
  if (events === undefined || events.length < 2) return [];
  return events.flatMap((event, i) =>
    event === '*'
      ? [{ pointer: `/events/${i}`, code: 'enum', detail: '"*" must be the only item of events' }]
      : [],
  );
}

/**
 * Webhooks (contract §8): a user's own, at most 20, each with its URL checked by the url policy
 * when set; and the transport deliveries send with (the same policy, again at every attempt).
 */
export class WebhooksService {
  /**
   * What deliveries send with: SafeTransport, checking the URL and every address of its host
   * before each attempt and connecting to the checked address. Tests may replace it.
   */
  transport: WebhookTransport;

  constructor(private readonly ctx: AppContext) {
    this.transport = createWebhookTransport(this.policy, { clock: ctx.clock });
  }

  private get db(): repo.Db {
    return this.ctx.database.db;
  }

  private get policy() {
    const { config, resolve } = this.ctx;
    return { allowHttp: config.webhookAllowHttp, allowPrivate: config.webhookAllowPrivate, resolve };
  }

  private now(): string {
    return new Date(this.ctx.clock()).toISOString();
  }

  /** The url policy's verdict as a field error (none when the URL may be used). */
  private async urlErrors(url: string): Promise<FieldError[]> {
    const check = await checkUrl(url, this.policy);
    return check.ok ? [] : [{ pointer: '/url', code: 'url_not_allowed', detail: check.reason }];
  }

  private async projectErrors(
    caller: Principal,
    projectId: string | null | undefined,
  ): Promise<FieldError[]> {
    if (projectId === undefined || projectId === null) return [];
    const access = await this.ctx.services.projects.access(caller, projectId);
    return access && access.role !== null
      ? []
      : [{ pointer: '/projectId', code: 'not_found', detail: 'no project you may see has this id' }];
  }

  async create(caller: Principal, input: CreateWebhook): Promise<NewWebhook> {
    const errors = [
      ...(await this.urlErrors(input.url)),
      ...eventsErrors(input.events),
      ...(await this.projectErrors(caller, input.projectId)),
    ];
    if (errors.length > 0) throw validationFailed(errors);
    const now = this.now();
    const row: Omit<repo.WebhookRow, 'since'> = {
      id: uuidv7(),
      user_id: caller.userId,
      url: input.url,
      events: JSON.stringify(input.events),
      project_id: input.projectId ?? null,
      description: input.description ?? '',
      secret: newWebhookSecret(),
      active: 1,
      disabled_reason: null,
      created_at: now,
      updated_at: now,
      last_delivery_at: null,
    };
    const inserted = await this.db.transaction().execute(async (trx) => {
      if (this.ctx.database.dialect === 'postgres') await repo.lockOwner(trx, caller.userId);
      return repo.insertBelowLimit(trx, row, MAX_WEBHOOKS_PER_USER);
    });
    if (!inserted) {
      throw new ApiError('conflict', {
        detail: `At most ${MAX_WEBHOOKS_PER_USER} webhooks per user: delete one first`,
      });
    }
    return { ...toWebhook(row), secret: row.secret };
  }

  async get(caller: Principal, id: string): Promise<Webhook> {
    const row = await repo.findOwned(this.db, caller.userId, id);
    if (!row) throw new ApiError('not_found');
    return toWebhook(row);
  }

  async list(caller: Principal, request: PageRequest): Promise<Page<Webhook>> {
    const [rows, total] = await Promise.all([
      repo.listOwned(this.db, caller.userId, request.size, (request.page - 1) * request.size),
      repo.countOwned(this.db, caller.userId),
    ]);
    return pageOf(rows.map(toWebhook), total, request);
  }

  /** Version 2: newest first, a cursor page at a time. */
  async listAfter(caller: Principal, request: CursorRequest): Promise<CursorPage<Webhook>> {
    const { cursors } = this.ctx;
    const { limit, cursor } = request;
    const binding = { list: 'webhooks', caller: caller.userId };
    let after: { createdAt: string; id: string } | null = null;
    if (cursor !== undefined) {
      const p = cursors.open(binding, cursor) as { v?: unknown; id?: unknown } | null;
      if (typeof p?.v !== 'string' || typeof p.id !== 'string') throw new ApiError('invalid_cursor');
      after = { createdAt: p.v, id: p.id };
    }
    const rows = await repo.listOwned(this.db, caller.userId, limit + 1, 0, after);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > limit && last ? cursors.sign(binding, { v: last.created_at, id: last.id }) : null;
    return { items: page.map(toWebhook), nextCursor };
  }

  /**
   * Changes what the body holds; a body that changes nothing keeps `updatedAt`. `active: true`
   * clears `disabledReason`; a new `url` passes the url policy first.
   */
  async update(caller: Principal, id: string, input: PatchWebhook): Promise<Webhook> {
    const row = await repo.findOwned(this.db, caller.userId, id);
    if (!row) throw new ApiError('not_found');
    const errors = [
      ...(input.url !== undefined && input.url !== row.url ? await this.urlErrors(input.url) : []),
      ...eventsErrors(input.events),
    ];
    if (errors.length > 0) throw validationFailed(errors);
    const next = {
      url: input.url ?? row.url,
      events: input.events === undefined ? row.events : JSON.stringify(input.events),
      description: input.description ?? row.description,
      active: input.active === undefined ? Number(row.active) : input.active ? 1 : 0,
      disabled_reason: input.active === true ? null : row.disabled_reason,
    };
    const same =
      next.url === row.url &&
      next.events === row.events &&
      next.description === row.description &&
      next.active === Number(row.active) &&
      next.disabled_reason === row.disabled_reason;
    if (same) return toWebhook(row);
    const updated = await repo.updateOwned(this.db, caller.userId, id, { ...next, updated_at: this.now() });
    // Deleted between the read and the write.
    if (!updated) throw new ApiError('not_found');
    return toWebhook(updated);
  }

  async delete(caller: Principal, id: string): Promise<void> {
    if (!(await repo.deleteOwned(this.db, caller.userId, id))) throw new ApiError('not_found');
  }

  /** A webhook with its secret, by id alone: for the delivery code, never for a reply. */
  async deliveryTarget(id: string): Promise<repo.WebhookRow | undefined> {
    return repo.findById(this.db, id);
  }
}
