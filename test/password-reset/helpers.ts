import type { FastifyInstance } from 'fastify';
import { type CompiledQuery, sql } from 'kysely';
import type { DatabaseHandle } from '../../src/db/database.js';
import type { ReceivedMail } from '../helpers/smtp.js';

export const RESET_URL = 'https://app.example.com/reset-password#token={token}';

export function requestReset(app: FastifyInstance, email: string, version = 'v1') {
  return app.inject({ method: 'POST', url: `/api/${version}/auth/password-reset`, payload: { email } });
}

export function confirmReset(app: FastifyInstance, token: string, newPassword: string, version = 'v1') {
  return app.inject({
    method: 'POST',
    url: `/api/${version}/auth/password-reset/confirm`,
    payload: { token, newPassword },
  });
}

/** The token of the link in a received mail (quoted-printable soft breaks undone). */
export function tokenOf(mail: ReceivedMail): string {
  const body = mail.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
  const match = /https:\/\/app\.example\.com\/reset-password#token=([A-Za-z0-9_-]+)/.exec(body);
  if (!match?.[1]) throw new Error(`no reset link in the mail:\n${mail.raw}`);
  return match[1];
}

/** Reset-mail jobs not finished yet (queued, retrying or running), in either engine. */
export async function pendingMailJobs(handle: DatabaseHandle): Promise<number> {
  if (handle.dialect === 'sqlite') {
    const rows = await handle.db
      .selectFrom('jobs')
      .select('id')
      .where('name', '=', 'password-reset-mail')
      .where('state', '!=', 'dead')
      .execute();
    return rows.length;
  }
  const { rows } = await sql<{ n: string }>`select count(*) as n from job
    where name = 'password-reset-mail' and state in ('created', 'retry', 'active')`.execute(handle.db);
  return Number(rows[0]?.n ?? 0);
}

/** Makes every waiting retry due now (instead of waiting out its backoff). */
export async function retriesDueNow(handle: DatabaseHandle): Promise<void> {
  if (handle.dialect === 'sqlite') {
    await handle.db
      .updateTable('jobs')
      .set({ run_at: 0 })
      .where('name', '=', 'password-reset-mail')
      .where('state', '=', 'queued')
      .execute();
    return;
  }
  await sql`update job set start_after = now() where state = 'retry'`.execute(handle.db);
}

/**
 * Records the SQL every Kysely executor of this process runs while `work` runs (transactions
 * included: they share the executor's prototype).
 */
export async function statementsOf(handle: DatabaseHandle, work: () => Promise<unknown>): Promise<string[]> {
  let proto: object | null = Object.getPrototypeOf(handle.db.getExecutor());
  while (proto && !Object.hasOwn(proto, 'executeQuery')) proto = Object.getPrototypeOf(proto);
  if (!proto) throw new Error('no executeQuery on the executor');
  const target = proto as { executeQuery: (query: CompiledQuery, ...rest: unknown[]) => Promise<unknown> };
  const original = target.executeQuery;
  const seen: string[] = [];
  target.executeQuery = function (this: unknown, query: CompiledQuery, ...rest: unknown[]) {
    seen.push(query.sql);
    return original.call(this, query, ...rest);
  };
  try {
    await work();
  } finally {
    target.executeQuery = original;
  }
  return seen;
}
