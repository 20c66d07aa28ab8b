import createClient, { type Client } from 'openapi-fetch';
import type { paths as V1Paths } from './generated/v1.js';
import type { components, operations, paths as V2Paths } from './generated/v2.js';
import { ApiKeysApi, EventsApi, ProjectsApi, SessionsApi, TasksApi } from './resources.js';
import { expectOk, unwrap } from './results.js';
import { type Credentials, type FetchLike, type TokenPair, Transport } from './transport.js';

export type User = components['schemas']['User'];
export type RegisterBody = NonNullable<
  operations['v2Register']['requestBody']
>['content']['application/json'];

export interface TaskforgeClientOptions {
  /** The service's base URL, e.g. `https://tasks.example.com`. */
  baseUrl: string;
  /** Start in API-key mode with this key (`tfk_…`). */
  apiKey?: string;
  /** Start from a stored refresh token (an access token is fetched on the first request). */
  refreshToken?: string;
  /** A fetch of your own (tests, proxies, instrumentation). */
  fetch?: FetchLike;
  /** Retries of requests that may be repeated (default 2); see TransportOptions. */
  retries?: number;
  retryDelayMs?: number;
  /** Told whenever the credentials change: keep the refresh token somewhere if the app must survive a reload. */
  onCredentials?: (credentials: Credentials) => void;
}

/**
 * The Taskforge client: `v1` and `v2` are typed openapi-fetch clients of every route (their
 * paths and bodies come from the OpenAPI documents); the helpers below cover sessions, keys,
 * tasks, projects and the change feed, and throw a ProblemError for an error reply.
 * Every request goes through one Transport: credentials, refresh, idempotency keys, retries.
 */
export class TaskforgeClient {
  readonly v1: Client<V1Paths>;
  readonly v2: Client<V2Paths>;
  readonly tasks: TasksApi;
  readonly projects: ProjectsApi;
  readonly apiKeys: ApiKeysApi;
  readonly sessions: SessionsApi;
  readonly events: EventsApi;
  private readonly transport: Transport;

  constructor(private readonly options: TaskforgeClientOptions) {
    this.transport = new Transport({
      baseUrl: options.baseUrl,
      version: 'v2',
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
      ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
      ...(options.onCredentials ? { onCredentials: options.onCredentials } : {}),
    });
    if (options.apiKey) this.transport.setCredentials({ kind: 'apiKey', key: options.apiKey });
    else if (options.refreshToken) {
      this.transport.setCredentials({
        kind: 'tokens',
        accessToken: null,
        refreshToken: options.refreshToken,
      });
    }
    const common = { baseUrl: this.transport.baseUrl, fetch: this.transport.fetch };
    this.v1 = createClient<V1Paths>(common);
    this.v2 = createClient<V2Paths>(common);
    const apis = { v1: this.v1, v2: this.v2 };
    this.tasks = new TasksApi(apis);
    this.projects = new ProjectsApi(apis);
    this.apiKeys = new ApiKeysApi(apis);
    this.sessions = new SessionsApi(apis);
    this.events = new EventsApi(apis);
  }

  /** What the client holds now (tokens stay in memory only). */
  get credentials(): Credentials {
    return this.transport.current;
  }

  /** Creates an account (safe to retry: an Idempotency-Key is sent). Does not log in. */
  async register(body: RegisterBody, options: { idempotencyKey?: string } = {}): Promise<User> {
    const headers = options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {};
    return unwrap(await this.v2.POST('/api/v2/auth/register', { body, headers }));
  }

  /** Logs in: the client keeps the token pair and refreshes it when the access token expires. */
  async login(email: string, password: string): Promise<TokenPair> {
    const pair = unwrap(await this.v2.POST('/api/v2/auth/login', { body: { email, password } }));
    this.transport.setTokens(pair);
    return pair;
  }

  /** Rotates the token pair now (requests do it by themselves on `token_expired`). */
  refresh(): Promise<void> {
    return this.transport.refresh();
  }

  /** Ends this session (its refresh and access tokens stop working) and forgets the tokens. */
  async logout(): Promise<void> {
    const credentials = this.transport.current;
    if (credentials.kind !== 'tokens') throw new Error('not logged in with a token pair');
    expectOk(await this.v2.POST('/api/v2/auth/logout', { body: { refreshToken: credentials.refreshToken } }));
    this.transport.setCredentials({ kind: 'none' });
  }

  /** Ends every session of the user (API keys stay) and forgets the tokens. */
  async logoutAll(): Promise<void> {
    expectOk(await this.v2.POST('/api/v2/auth/logout-all'));
    this.transport.setCredentials({ kind: 'none' });
  }

  async me(): Promise<User> {
    return unwrap(await this.v2.GET('/api/v2/users/me'));
  }

  /** From now on, send this API key instead of tokens. */
  useApiKey(key: string): void {
    this.transport.setCredentials({ kind: 'apiKey', key });
  }

  /** Another client of the same service, in API-key mode with `key` (this one keeps its credentials). */
  withApiKey(key: string): TaskforgeClient {
    const { refreshToken: _ignored, onCredentials: _own, ...rest } = this.options;
    return new TaskforgeClient({ ...rest, apiKey: key });
  }
}
