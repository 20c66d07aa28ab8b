import type { Kysely } from 'kysely';

/**
 * Idempotency keys (contract §4): one row per caller and key. Written as a lease before the
 * handler runs, turned into the stored reply in the transaction of the row it guards, deleted by
 * the hourly cleanup once `expires_at` has passed.
 */
// biome-ignore lint/suspicious/noExplicitAny: a migration must not depend on today's schema types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('idempotency_keys')
    // SHA-256 of the caller and the key: neither the key nor the client's address is kept.
    .addColumn('key_hash', 'text', (c) => c.primaryKey())
    // HMAC of the method, the route and the canonical body (which may hold a password).
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    // Who holds the key now: a claim compares and sets it, so a lease taken over cannot complete.
    .addColumn('lease_id', 'text', (c) => c.notNull())
    .addColumn('lease_until', 'text', (c) => c.notNull())
    // The stored reply: null while the first request runs.
    .addColumn('status', 'integer')
    .addColumn('headers', 'text')
    .addColumn('body', 'text')
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('idempotency_keys_expires')
    .on('idempotency_keys')
    .column('expires_at')
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('idempotency_keys').execute();
}
