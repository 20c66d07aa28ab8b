import type { Client } from 'openapi-fetch';
import { problemOf } from './errors.js';
import type { paths as V1Paths, operations as v1Operations } from './generated/v1.js';
import type { components, operations, paths as V2Paths } from './generated/v2.js';
import { cursorItems, EventFeed, pageItems } from './pagination.js';
import { expectOk, unwrap, type Versioned, versioned } from './results.js';
import { type EventStreamOptions, EventStreamReader } from './sse.js';

type V2Schemas = components['schemas'];
export type Task = V2Schemas['Task'];
export type Project = V2Schemas['Project'];
export type ApiKey = V2Schemas['ApiKey'];
export type NewApiKey = V2Schemas['NewApiKey'];
export type Session = V2Schemas['Session'];
export type TaskforgeEvent = V2Schemas['Event'];

type Body<O> = O extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
type Query<O> = O extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

export type TaskCreate = Body<operations['v2CreateTask']>;
export type TaskPatch = Body<operations['v2UpdateTask']>;
export type TaskQuery = Omit<Query<operations['v2ListTasks']>, 'cursor'>;
export type TaskPageQuery = Omit<Query<v1Operations['v1ListTasks']>, 'page'>;
export type ProjectCreate = Body<operations['v2CreateProject']>;
export type ProjectPatch = Body<operations['v2UpdateProject']>;
export type ProjectQuery = Omit<Query<operations['v2ListProjects']>, 'cursor'>;
export type ProjectPageQuery = Omit<Query<v1Operations['v1ListProjects']>, 'page'>;
export type ApiKeyCreate = Body<operations['v2CreateApiKey']>;

/** Options of a create: the `Idempotency-Key` to send (default: one generated for this call and its retries). */
export interface CreateOptions {
  idempotencyKey?: string;
}

/** Options of a conditional write: the ETag the change is based on (a 412 throws PreconditionFailedError). */
export interface WriteOptions {
  ifMatch?: string;
}

const keyHeader = (options: CreateOptions) =>
  options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {};
const ifMatchHeader = (options: WriteOptions) => (options.ifMatch ? { 'if-match': options.ifMatch } : {});

interface Apis {
  v1: Client<V1Paths>;
  v2: Client<V2Paths>;
}

export class TasksApi {
  constructor(private readonly api: Apis) {}

  async create(body: TaskCreate, options: CreateOptions = {}): Promise<Versioned<Task>> {
    return versioned(await this.api.v2.POST('/api/v2/tasks', { body, headers: keyHeader(options) }));
  }

  async get(id: string): Promise<Versioned<Task>> {
    return versioned(await this.api.v2.GET('/api/v2/tasks/{id}', { params: { path: { id } } }));
  }

  /** A JSON merge patch; with `ifMatch`, only if the task is still at that version. */
  async update(id: string, patch: TaskPatch, options: WriteOptions = {}): Promise<Versioned<Task>> {
    return versioned(
      await this.api.v2.PATCH('/api/v2/tasks/{id}', {
        params: { path: { id } },
        body: patch,
        headers: ifMatchHeader(options),
      }),
    );
  }

  /** Changes the task as it was read: a 412 PreconditionFailedError if someone changed it since. */
  updateIfMatch(current: Versioned<Task>, patch: TaskPatch): Promise<Versioned<Task>> {
    return this.update(current.data.id, patch, { ifMatch: current.etag });
  }

  async delete(id: string, options: WriteOptions = {}): Promise<void> {
    expectOk(
      await this.api.v2.DELETE('/api/v2/tasks/{id}', {
        params: { path: { id } },
        headers: ifMatchHeader(options),
      }),
    );
  }

  /** Every matching task, through version 2's cursors. */
  list(query: TaskQuery = {}): AsyncGenerator<Task> {
    return cursorItems(async (cursor) =>
      unwrap(await this.api.v2.GET('/api/v2/tasks', { params: { query: { ...query, cursor } } })),
    );
  }

  /** Every matching task, through version 1's numbered pages. */
  pages(query: TaskPageQuery = {}): AsyncGenerator<Task> {
    return pageItems(async (page) =>
      unwrap(await this.api.v1.GET('/api/v1/tasks', { params: { query: { ...query, page } } })),
    );
  }
}

export class ProjectsApi {
  constructor(private readonly api: Apis) {}

  async create(body: ProjectCreate, options: CreateOptions = {}): Promise<Versioned<Project>> {
    return versioned(await this.api.v2.POST('/api/v2/projects', { body, headers: keyHeader(options) }));
  }

  async get(id: string): Promise<Versioned<Project>> {
    return versioned(await this.api.v2.GET('/api/v2/projects/{id}', { params: { path: { id } } }));
  }

  async update(id: string, patch: ProjectPatch, options: WriteOptions = {}): Promise<Versioned<Project>> {
    return versioned(
      await this.api.v2.PATCH('/api/v2/projects/{id}', {
        params: { path: { id } },
        body: patch,
        headers: ifMatchHeader(options),
      }),
    );
  }

  updateIfMatch(current: Versioned<Project>, patch: ProjectPatch): Promise<Versioned<Project>> {
    return this.update(current.data.id, patch, { ifMatch: current.etag });
  }

  async delete(id: string, options: WriteOptions = {}): Promise<void> {
    expectOk(
      await this.api.v2.DELETE('/api/v2/projects/{id}', {
        params: { path: { id } },
        headers: ifMatchHeader(options),
      }),
    );
  }

  list(query: ProjectQuery = {}): AsyncGenerator<Project> {
    return cursorItems(async (cursor) =>
      unwrap(await this.api.v2.GET('/api/v2/projects', { params: { query: { ...query, cursor } } })),
    );
  }

  pages(query: ProjectPageQuery = {}): AsyncGenerator<Project> {
    return pageItems(async (page) =>
      unwrap(await this.api.v1.GET('/api/v1/projects', { params: { query: { ...query, page } } })),
    );
  }
}

/** API keys (a bearer token only: a client in API-key mode gets 403 here). */
export class ApiKeysApi {
  constructor(private readonly api: Apis) {}

  /** The reply holds the secret `key`, shown this once. */
  async create(body: ApiKeyCreate): Promise<NewApiKey> {
    return unwrap(await this.api.v2.POST('/api/v2/api-keys', { body }));
  }

  async get(id: string): Promise<ApiKey> {
    return unwrap(await this.api.v2.GET('/api/v2/api-keys/{id}', { params: { path: { id } } }));
  }

  async revoke(id: string): Promise<void> {
    expectOk(await this.api.v2.DELETE('/api/v2/api-keys/{id}', { params: { path: { id } } }));
  }

  list(): AsyncGenerator<ApiKey> {
    return cursorItems(async (cursor) =>
      unwrap(await this.api.v2.GET('/api/v2/api-keys', { params: { query: { cursor } } })),
    );
  }

  pages(): AsyncGenerator<ApiKey> {
    return pageItems(async (page) =>
      unwrap(await this.api.v1.GET('/api/v1/api-keys', { params: { query: { page } } })),
    );
  }
}

/** The caller's sessions (one per login). */
export class SessionsApi {
  constructor(private readonly api: Apis) {}

  list(): AsyncGenerator<Session> {
    return cursorItems(async (cursor) =>
      unwrap(await this.api.v2.GET('/api/v2/auth/sessions', { params: { query: { cursor } } })),
    );
  }

  pages(): AsyncGenerator<Session> {
    return pageItems(async (page) =>
      unwrap(await this.api.v1.GET('/api/v1/auth/sessions', { params: { query: { page } } })),
    );
  }

  /** Ends that session at once (its tokens get 401 `token_revoked`). */
  async end(id: string): Promise<void> {
    expectOk(await this.api.v2.DELETE('/api/v2/auth/sessions/{id}', { params: { path: { id } } }));
  }
}

/** The change feed and its stream. */
export class EventsApi {
  constructor(private readonly api: Apis) {}

  /** The newest event id now: read it, then list, then follow the feed from it. */
  async head(): Promise<string> {
    return unwrap(await this.api.v2.GET('/api/v2/events/head')).head;
  }

  /** The events after `after` (default: the oldest retained), up to the head; see EventFeed. */
  feed(options: { after?: string; limit?: number } = {}): EventFeed<TaskforgeEvent> {
    const { limit } = options;
    return new EventFeed(
      async (after) =>
        unwrap(await this.api.v2.GET('/api/v2/events', { params: { query: { after, limit } } })),
      options.after,
    );
  }

  /** The events as they are committed (Server-Sent Events over fetch), resuming with Last-Event-ID. */
  stream(options: EventStreamOptions = {}): EventStreamReader<TaskforgeEvent> {
    return new EventStreamReader<TaskforgeEvent>(async (headers, signal) => {
      const result = await this.api.v2.GET('/api/v2/events/stream', {
        parseAs: 'stream',
        headers: Object.fromEntries(headers),
        signal,
      });
      // openapi-fetch has read an error reply's body already.
      if (result.error !== undefined || !result.response.ok) throw problemOf(result.response, result.error);
      return result.response;
    }, options);
  }
}
