import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { uuidv7 } from 'uuidv7';
import type { DatabaseHandle } from '../../src/db/database.js';
import { type Change, SYSTEM_ACTOR } from '../../src/lib/change-log.js';

/**
 * Webhooks for the delivery tests, written straight into the table of migration 0008 (the
 * webhooks API is another module's), a receiver on loopback, and ways to move retries along.
 */

export const WEBHOOK_ENV = { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_ALLOW_HTTP: 'true' };

export interface WebhookFixture {
  id: string;
  secret: string;
}

export async function insertWebhook(
  app: FastifyInstance,
  options: { userId: string; url: string; events?: string[]; projectId?: string | null; active?: boolean },
): Promise<WebhookFixture> {
  const id = uuidv7();
  const secret = `whsec_${randomBytes(24).toString('base64url')}`;
  const at = new Date().toISOString();
  await app.ctx.database.db
    .insertInto('webhooks')
    .values({
      id,
      user_id: options.userId,
      url: options.url,
      events: JSON.stringify(options.events ?? ['*']),
      project_id: options.projectId ?? null,
      description: '',
      secret,
      active: options.active === false ? 0 : 1,
      disabled_reason: null,
      created_at: at,
      updated_at: at,
      last_delivery_at: null,
      // As the API makes it: it receives the events committed after this.
      since: sql<number>`(select head from event_log where id = 1)`,
    })
    .execute();
  return { id, secret };
}

/** A change of a task in `projectId`, recorded through the change log (no task row is needed). */
export function taskChange(projectId: string, overrides: Partial<Change> = {}): Change {
  const id = uuidv7();
  return {
    type: 'task.created',
    at: new Date().toISOString(),
    actor: SYSTEM_ACTOR,
    projectId,
    subject: { type: 'task', id },
    taskId: id,
    changes: null,
    data: { id, title: 'A task' },
    viewers: [],
    ...overrides,
  };
}

/** Records the changes in one committed transaction of the app's change log. */
export async function record(app: FastifyInstance, ...changes: Change[]): Promise<void> {
  const { ctx } = app;
  await ctx.changes.transaction(ctx.database.db, async (trx) => {
    for (const change of changes) ctx.changes.record(trx, change);
  });
}

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Event ids received, each once. */
  eventIds(): Set<string>;
  /** The status the next requests get: a number, or a function of the request's index. */
  respond(status: number | ((index: number, request: Received) => number)): void;
  /** The body of the replies from now on (default "ok" for a 2xx, else "not now"). */
  answer(body: string | null): void;
  close(): Promise<void>;
}

/** An HTTP receiver on loopback that records every request and answers the status it is told. */
export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  let status: number | ((index: number, request: Received) => number) = 200;
  let answer: string | null = null;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      const index = received.length;
      received.push(request);
      const code = typeof status === 'number' ? status : status(index, request);
      res.writeHead(code, { 'content-type': 'text/plain' });
      res.end(answer ?? (code < 300 ? 'ok' : 'not now'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    eventIds: () => new Set(received.map((r) => String(r.headers['taskforge-event-id']))),
    respond(next) {
      status = next;
    },
    answer(body) {
      answer = body;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Makes every waiting delivery attempt due now (instead of waiting out its backoff), in either engine. */
export async function attemptsDueNow(handle: DatabaseHandle): Promise<void> {
  if (handle.dialect === 'sqlite') {
    await handle.db
      .updateTable('jobs')
      .set({ run_at: 0 })
      .where('state', '=', 'queued')
      .where('name', '=', 'webhook-delivery')
      .execute();
    return;
  }
  await sql`update job set start_after = now()
    where name = 'webhook-delivery' and state in ('created', 'retry') and start_after > now()`.execute(
    handle.db,
  );
}

export async function deliveriesOf(handle: DatabaseHandle, webhookId: string) {
  return handle.db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('webhook_id', '=', webhookId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}
