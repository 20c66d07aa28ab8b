import type { LookupAddress, LookupOptions } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ResolvedAddress } from '../../lib/dns.js';
import { checkUrl, RESOLVE_TIMEOUT_MS, type UrlPolicyOptions } from './url-policy.js';

/**
 * One delivery attempt over HTTP: a POST, no redirect followed (a 3xx is a failure), success is a
 * 2xx within `timeoutMs`, and at most `maxReadBytes` of the reply are read (the first 1 KiB is
 * kept for the delivery log).
 *
 * The SSRF defences are SafeTransport's: the URL's host resolved and every address checked
 * (url-policy.ts), then the connection made to the address that was checked, with no second
 * resolution. Deliveries use `createWebhookTransport` (the webhooks service's `transport`).
 */
export interface DeliveryRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface DeliveryOutcome {
  /** true exactly when the receiver answered 2xx in time. */
  ok: boolean;
  /** The receiver's status; null when none arrived (refused, timed out, not allowed). */
  status: number | null;
  durationMs: number;
  /** Why it failed, in one line (never a secret); null on success. */
  error: string | null;
  /** The first 1 KiB of the reply, as text. */
  body: string | null;
}

export interface WebhookTransport {
  send(delivery: DeliveryRequest): Promise<DeliveryOutcome>;
}

export const DELIVERY_TIMEOUT_MS = 10_000;
export const MAX_READ_BYTES = 64 * 1024;
export const KEPT_BODY_BYTES = 1024;

export interface TransportOptions {
  timeoutMs?: number;
  maxReadBytes?: number;
  clock?: () => number;
}

/**
 * Sends to a given address (resolved and checked by the caller), or resolves by itself (null),
 * within `remainingMs` (default: its whole timeout) of the attempt's time.
 */
export interface PinnedSender {
  sendTo(
    delivery: DeliveryRequest,
    address: ResolvedAddress | null,
    remainingMs?: number,
  ): Promise<DeliveryOutcome>;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` that answers the checked address whatever it is asked: the socket connects there
 * while the URL's name stays the `Host` header and the TLS server name (SNI and the certificate
 * check). Node's connection code may ask for all addresses (`all: true`, happy eyeballs).
 */
function pinnedLookup(pinned: ResolvedAddress) {
  return (_hostname: string, options: LookupOptions, callback: LookupCallback) => {
    if (options.all) callback(null, [{ address: pinned.address, family: pinned.family }]);
    else callback(null, pinned.address, pinned.family);
  };
}

/**
 * The transport without address checks (SafeTransport wraps it). No agent: every attempt opens
 * its own connection, so a pooled socket never carries a request to an address not checked for it.
 */
export class HttpTransport implements WebhookTransport, PinnedSender {
  private readonly timeoutMs: number;
  private readonly maxReadBytes: number;
  private readonly clock: () => number;

  constructor(options: TransportOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DELIVERY_TIMEOUT_MS;
    this.maxReadBytes = options.maxReadBytes ?? MAX_READ_BYTES;
    this.clock = options.clock ?? Date.now;
  }

  send(delivery: DeliveryRequest): Promise<DeliveryOutcome> {
    return this.sendTo(delivery, null);
  }

  sendTo(
    delivery: DeliveryRequest,
    address: ResolvedAddress | null,
    remainingMs = this.timeoutMs,
  ): Promise<DeliveryOutcome> {
    const started = this.clock();
    const url = new URL(delivery.url);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: Omit<DeliveryOutcome, 'durationMs'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...outcome, durationMs: Math.max(0, this.clock() - started) });
      };
      const req = request(
        url,
        {
          method: 'POST',
          agent: false,
          ...(address ? { lookup: pinnedLookup(address) } : {}),
          headers: { ...delivery.headers, 'content-length': String(Buffer.byteLength(delivery.body)) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let read = 0;
          const done = () => {
            const status = res.statusCode ?? 0;
            const ok = status >= 200 && status < 300;
            const body = Buffer.concat(chunks).subarray(0, KEPT_BODY_BYTES).toString('utf8');
            finish({ ok, status, error: ok ? null : `the receiver answered ${status}`, body });
          };
          res.on('data', (chunk: Buffer) => {
            read += chunk.length;
            if (chunks.reduce((n, c) => n + c.length, 0) < KEPT_BODY_BYTES) chunks.push(chunk);
            if (read >= this.maxReadBytes) {
              // Enough: the rest of a large reply is not read.
              done();
              res.destroy();
            }
          });
          res.on('end', done);
          res.on('error', () => done());
        },
      );
      const timer = setTimeout(() => {
        finish({ ok: false, status: null, error: `no reply within ${this.timeoutMs} ms`, body: null });
        req.destroy();
      }, remainingMs);
      req.on('error', (error: NodeJS.ErrnoException) => {
        finish({
          ok: false,
          status: null,
          error: `cannot connect: ${error.code ?? error.message}`,
          body: null,
        });
      });
      req.end(delivery.body);
    });
  }
}

/**
 * The transport deliveries use (contract §8): before every attempt the URL is checked again
 * (url-policy.ts: scheme, credentials, every address of its host), and the connection goes to the
 * address that passed. A refused URL is an outcome without any connection: `address not allowed:
 * <address>` (or why the URL itself is refused).
 */
export class SafeTransport implements WebhookTransport {
  private readonly clock: () => number;
  private readonly timeoutMs: number;

  constructor(
    private readonly sender: PinnedSender,
    private readonly policy: UrlPolicyOptions,
    options: { clock?: () => number; timeoutMs?: number } = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.timeoutMs = options.timeoutMs ?? DELIVERY_TIMEOUT_MS;
  }

  /** The whole attempt, name resolution included, takes at most `timeoutMs` (real time). */
  async send(delivery: DeliveryRequest): Promise<DeliveryOutcome> {
    const started = this.clock();
    const begun = Date.now();
    const check = await checkUrl(delivery.url, {
      ...this.policy,
      resolveTimeoutMs: Math.min(this.policy.resolveTimeoutMs ?? RESOLVE_TIMEOUT_MS, this.timeoutMs),
    });
    if (!check.ok) {
      return {
        ok: false,
        status: null,
        durationMs: Math.max(0, this.clock() - started),
        error: check.address ? `address not allowed: ${check.address}` : `url not allowed: ${check.reason}`,
        body: null,
      };
    }
    const [first] = check.addresses;
    if (!first) throw new Error('checkUrl passed a URL without addresses');
    const remaining = Math.max(1, this.timeoutMs - (Date.now() - begun));
    const outcome = await this.sender.sendTo(delivery, first, remaining);
    return { ...outcome, durationMs: Math.max(0, this.clock() - started) };
  }
}

/** The delivery transport of an app: its policy settings, its resolver, and the limits above. */
export function createWebhookTransport(
  policy: UrlPolicyOptions,
  options: TransportOptions = {},
): SafeTransport {
  return new SafeTransport(new HttpTransport(options), policy, options);
}
