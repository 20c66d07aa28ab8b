import { readProblem } from './errors.js';
import type { components } from './generated/v2.js';

export type TokenPair = components['schemas']['TokenPair'];
export type FetchLike = (request: Request) => Promise<Response>;

/** What the client holds in memory: nothing, a token pair, or an API key. */
export type Credentials =
  | { kind: 'none' }
  | { kind: 'tokens'; accessToken: string | null; refreshToken: string }
  | { kind: 'apiKey'; key: string };

export interface TransportOptions {
  /** The service's base URL, e.g. `https://tasks.example.com` (no `/api/…`). */
  baseUrl: string;
  /** The version prefix of the refresh route (default `v2`). */
  version: 'v1' | 'v2';
  /** A fetch of your own (tests, proxies); default the global fetch. */
  fetch?: FetchLike;
  /** Retries of a request that may be repeated, after a network error, 502–504 or 409 `idempotency_in_progress` (default 2). */
  retries?: number;
  /** The first retry's delay in milliseconds, doubled for each further one (default 250); `Retry-After` wins when sent, capped at 5 s. */
  retryDelayMs?: number;
  /** Told every time the credentials change (a login, a refresh, a logout), so an app may keep the refresh token. */
  onCredentials?: (credentials: Credentials) => void;
}

/** The creates the service makes safe to retry with an `Idempotency-Key` (contract §4 and §7). */
const IDEMPOTENT_CREATE = /^\/api\/v\d+\/(?:tasks|users|auth\/register|projects|tasks\/[^/]+\/comments)$/;
/** The routes that take no credentials (contract §3): nothing is added to them, nothing refreshed. */
const CREDENTIAL_ROUTE = /^\/api\/v\d+\/auth\/(?:register|login|token|refresh|password-reset(?:\/confirm)?)$/;
const REPEATABLE_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
const MAX_RETRY_DELAY_MS = 5000;

function sleep(ms: number, signal: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

async function problemCode(response: Response): Promise<string | null> {
  try {
    const body = (await response.clone().json()) as { code?: unknown };
    return typeof body.code === 'string' ? body.code : null;
  } catch {
    return null;
  }
}

/**
 * The fetch every request of the client goes through: it adds the credentials, generates an
 * `Idempotency-Key` for each create (kept for that create's retries), retries what may be
 * repeated, and on a 401 `token_expired` refreshes once (one refresh in flight, shared by every
 * request that needs it) and sends the request again.
 */
export class Transport {
  readonly baseUrl: string;
  private credentials: Credentials = { kind: 'none' };
  private refreshing: Promise<void> | null = null;
  private readonly send: FetchLike;
  private readonly retries: number;
  private readonly retryDelayMs: number;

  constructor(private readonly options: TransportOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.send = options.fetch ?? ((request) => fetch(request));
    this.retries = options.retries ?? 2;
    this.retryDelayMs = options.retryDelayMs ?? 250;
  }

  get current(): Credentials {
    return this.credentials;
  }

  setCredentials(credentials: Credentials): void {
    this.credentials = credentials;
    this.options.onCredentials?.(credentials);
  }

  setTokens(pair: Pick<TokenPair, 'accessToken' | 'refreshToken'>): void {
    this.setCredentials({ kind: 'tokens', accessToken: pair.accessToken, refreshToken: pair.refreshToken });
  }

  /** Sends a request with the client's credentials (the fetch handed to openapi-fetch). */
  readonly fetch: FetchLike = async (request) => {
    const url = new URL(request.url);
    const method = request.method.toUpperCase();
    const headers = new Headers(request.headers);
    if (method === 'POST' && IDEMPOTENT_CREATE.test(url.pathname) && !headers.has('idempotency-key')) {
      headers.set('idempotency-key', crypto.randomUUID());
    }
    const repeatable = REPEATABLE_METHODS.has(method) || headers.has('idempotency-key');
    // Buffered once, so every attempt sends the same bytes.
    const buffered = method === 'GET' || method === 'HEAD' ? null : await request.arrayBuffer();
    const body = buffered && buffered.byteLength > 0 ? buffered : null;
    const credentialsAsGiven =
      headers.has('authorization') || headers.has('x-api-key') || CREDENTIAL_ROUTE.test(url.pathname);
    let refreshed = false;
    for (let attempt = 0; ; ) {
      if (!credentialsAsGiven) await this.authorize(headers);
      const sentWith = headers.get('authorization');
      let response: Response;
      try {
        response = await this.send(
          new Request(request.url, {
            method,
            headers,
            body,
            signal: request.signal,
            redirect: request.redirect,
          }),
        );
      } catch (error) {
        if (request.signal.aborted || !repeatable || attempt >= this.retries) throw error;
        await sleep(this.delay(attempt, null), request.signal);
        attempt += 1;
        continue;
      }
      if (
        response.status === 401 &&
        !credentialsAsGiven &&
        !refreshed &&
        this.credentials.kind === 'tokens' &&
        (await problemCode(response)) === 'token_expired'
      ) {
        // Another request may have refreshed since this one was sent: then its token is new already.
        await response.body?.cancel();
        if (sentWith === this.bearer()) await this.refresh();
        refreshed = true;
        continue;
      }
      if (repeatable && attempt < this.retries && (await this.mayRetry(response))) {
        await response.body?.cancel();
        await sleep(this.delay(attempt, response), request.signal);
        attempt += 1;
        continue;
      }
      return response;
    }
  };

  /** One refresh in flight: every caller that needs one while it runs waits for the same one. */
  refresh(): Promise<void> {
    this.refreshing ??= this.refreshNow().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async refreshNow(): Promise<void> {
    const credentials = this.credentials;
    if (credentials.kind !== 'tokens') throw new Error('no refresh token: log in first');
    const url = `${this.baseUrl}/api/${this.options.version}/auth/refresh`;
    const payload = JSON.stringify({ refreshToken: credentials.refreshToken });
    for (let attempt = 0; ; attempt += 1) {
      let response: Response;
      try {
        response = await this.send(
          new Request(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: payload,
          }),
        );
      } catch (error) {
        // A reply lost on the way: the refresh grace answers the same token again with its successor.
        if (attempt >= this.retries) throw error;
        await sleep(this.delay(attempt, null), null);
        continue;
      }
      if (response.ok) {
        this.setTokens((await response.json()) as TokenPair);
        return;
      }
      if (attempt < this.retries && response.status >= 502 && response.status <= 504) {
        await response.body?.cancel();
        await sleep(this.delay(attempt, response), null);
        continue;
      }
      const problem = await readProblem(response);
      // The session is over (reused, expired or revoked refresh token): a new login is needed.
      if (response.status === 401 && this.credentials === credentials) this.setCredentials({ kind: 'none' });
      throw problem;
    }
  }

  private bearer(): string | null {
    const c = this.credentials;
    if (c.kind === 'apiKey') return `Bearer ${c.key}`;
    if (c.kind === 'tokens' && c.accessToken) return `Bearer ${c.accessToken}`;
    return null;
  }

  private async authorize(headers: Headers): Promise<void> {
    // Restored from a refresh token alone: get an access token first.
    if (this.credentials.kind === 'tokens' && !this.credentials.accessToken) await this.refresh();
    const bearer = this.bearer();
    if (bearer) headers.set('authorization', bearer);
    else headers.delete('authorization');
  }

  private async mayRetry(response: Response): Promise<boolean> {
    if (response.status >= 502 && response.status <= 504) return true;
    return response.status === 409 && (await problemCode(response)) === 'idempotency_in_progress';
  }

  private delay(attempt: number, response: Response | null): number {
    const retryAfter = Number(response?.headers.get('retry-after'));
    const ms =
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : this.retryDelayMs * 2 ** attempt;
    return Math.min(ms, MAX_RETRY_DELAY_MS);
  }
}
