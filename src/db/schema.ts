import type { ApiKeysTable } from './tables/api-keys.table.js';
import type {
  EventLogTable,
  EventsTable,
  EventViewersTable,
  WebhookDeliveriesTable,
  WebhookDispatchTable,
  WebhooksTable,
} from './tables/events.table.js';
import type { IdempotencyKeysTable } from './tables/idempotency-keys.table.js';
import type { JobsTable } from './tables/jobs.table.js';
import type { PasswordResetsTable } from './tables/password-resets.table.js';
import type { CommentsTable, ProjectMembersTable, ProjectsTable } from './tables/projects.table.js';
import type { RefreshTokensTable } from './tables/refresh-tokens.table.js';
import type { SessionsTable } from './tables/sessions.table.js';
import type { TasksTable, TaskTagsTable } from './tables/tasks.table.js';
import type { UsersTable } from './tables/users.table.js';

/** The whole database as Kysely sees it: one entry per table file in ./tables. */
export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  tasks: TasksTable;
  task_tags: TaskTagsTable;
  api_keys: ApiKeysTable;
  jobs: JobsTable;
  password_resets: PasswordResetsTable;
  projects: ProjectsTable;
  project_members: ProjectMembersTable;
  comments: CommentsTable;
  event_log: EventLogTable;
  events: EventsTable;
  event_viewers: EventViewersTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_dispatch: WebhookDispatchTable;
  idempotency_keys: IdempotencyKeysTable;
}
