import type { Generated } from 'kysely';

/**
 * The change log (contract §8). Numbers (`position`, `head`) are bigint columns: PostgreSQL's
 * driver returns them as strings, SQLite's as numbers; read them with Number().
 */

/** One row: the numbering of events and how far retention has removed them. */
export interface EventLogTable {
  id: number;
  /** 8 lower-case hex digits, random per database: part of every event id. */
  tag: string;
  head: number | string;
  pruned_through: number | string;
}

export interface EventsTable {
  position: number | string;
  type: string;
  occurred_at: string;
  actor_type: 'user' | 'api_key' | 'system';
  actor_id: string | null;
  project_id: string;
  subject_type: string;
  subject_id: string;
  task_id: string | null;
  /** JSON `{ field: { from, to } }`, or null */
  changes: string | null;
  /** JSON: the subject after the change (before it, for a deletion) */
  data: string;
}

export interface EventViewersTable {
  user_id: string;
  position: number | string;
}

export interface WebhooksTable {
  id: string;
  user_id: string;
  url: string;
  /** JSON array of event types, or ["*"] */
  events: string;
  project_id: string | null;
  description: string;
  secret: string;
  active: number;
  disabled_reason: string | null;
  created_at: string;
  updated_at: string;
  last_delivery_at: string | null;
  /** The event head when it was made: it receives the events numbered after it. */
  since: Generated<number | string>;
}

export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  event_id: string;
  position: number | string | null;
  type: string;
  payload: string;
  attempt: number;
  status: 'pending' | 'succeeded' | 'failed';
  response_status: number | null;
  duration_ms: number | null;
  error: string | null;
  response_body: string | null;
  next_attempt_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface WebhookDispatchTable {
  id: number;
  through: number | string;
}
