export { type RegisterBody, TaskforgeClient, type TaskforgeClientOptions, type User } from './client.js';
export {
  type FieldError,
  PreconditionFailedError,
  type Problem,
  type ProblemCode,
  ProblemError,
} from './errors.js';
export type * as V1 from './generated/v1.js';
export type * as V2 from './generated/v2.js';
export {
  type CursorPage,
  cursorItems,
  EventFeed,
  type FeedPage,
  type Page,
  pageItems,
} from './pagination.js';
export type {
  ApiKey,
  ApiKeyCreate,
  CreateOptions,
  NewApiKey,
  Project,
  ProjectCreate,
  ProjectPatch,
  Session,
  Task,
  TaskCreate,
  TaskforgeEvent,
  TaskPatch,
  TaskQuery,
  WriteOptions,
} from './resources.js';
export { etagOf, type Versioned } from './results.js';
export {
  type EventStreamOptions,
  EventStreamReader,
  parseSse,
  type SseItem,
  type SseMessage,
} from './sse.js';
export { type Credentials, type FetchLike, type TokenPair, Transport } from './transport.js';
export { type VerifyWebhookOptions, verifyWebhook } from './webhooks.js';
