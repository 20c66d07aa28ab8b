import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { ApiError } from '../../errors.js';
import { type CursorPage, type CursorRequest, type Page, type PageRequest, pageOf } from '../../lib/lists.js';
import type { AppContext } from '../../lib/module.js';
import type { Principal } from '../../lib/principal.js';
import * as repo from './events.repository.js';
import type { Event } from './events.schemas.js';
import { toEvent } from './events.service.js';

/**
 * A task's activity (contract §8): its events and its comments', oldest first, for whoever may
 * read the task (the tasks service decides: 404 otherwise). Events older than the retention are
 * gone, so an old task's activity starts later than the task.
 */
export class ActivityService {
  constructor(private readonly ctx: AppContext) {}

  private get db(): Kysely<Database> {
    return this.ctx.database.db;
  }

  async list(caller: Principal, taskId: string, request: PageRequest): Promise<Page<Event>> {
    await this.ctx.services.tasks.access(caller, taskId);
    const { page, size } = request;
    const [log, rows, total] = await Promise.all([
      repo.logState(this.db),
      repo.taskActivity(this.db, taskId, size, (page - 1) * size),
      repo.countTaskActivity(this.db, taskId),
    ]);
    return pageOf(
      rows.map((row) => toEvent(row, log.tag)),
      total,
      request,
    );
  }

  /** Version 2: the events after the cursor's; every page costs the same. */
  async listAfter(caller: Principal, taskId: string, request: CursorRequest): Promise<CursorPage<Event>> {
    await this.ctx.services.tasks.access(caller, taskId);
    const { limit, cursor } = request;
    const { cursors } = this.ctx;
    const binding = { list: 'activity', caller: caller.userId, taskId };
    const after = cursor === undefined ? null : positionFrom(cursors.open(binding, cursor));
    const [log, rows] = await Promise.all([
      repo.logState(this.db),
      repo.taskActivity(this.db, taskId, limit + 1, 0, after),
    ]);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > limit && last ? cursors.sign(binding, { n: Number(last.position) }) : null;
    return { items: page.map((row) => toEvent(row, log.tag)), nextCursor };
  }
}

/** The event number a (signed) cursor carries, checked for its shape. */
function positionFrom(value: unknown): number {
  const p = value as { n?: unknown } | null;
  if (
    // Stryker disable next-line ConditionalExpression: equivalent, a primitive has no `n` and the checks below refuse it
    typeof p !== 'object' ||
    p === null ||
    // Stryker disable next-line ConditionalExpression: equivalent, Number.isSafeInteger refuses what is not a number
    typeof p.n !== 'number' ||
    !Number.isSafeInteger(p.n)
  ) {
    throw new ApiError('invalid_cursor');
  }
  return p.n;
}
