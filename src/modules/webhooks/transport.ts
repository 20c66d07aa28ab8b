import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * One delivery attempt over HTTP: a POST, no redirect followed (a 3xx is a failure), success is a
 * 2xx within `timeoutMs`, and at most `maxReadBytes` of the reply are read (the first 1 KiB is
 * kept for the delivery log).
 *
 * The SSRF defences (the URL's host resolved and every address checked, the connection made to
 * the address that was checked) belong here too: see the webhooks module's url policy.
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

/** The transport without address checks (the url policy wraps it). */
export class HttpTransport implements WebhookTransport {
  private readonly timeoutMs: number;
  private readonly maxReadBytes: number;
  private readonly clock: () => number;

  constructor(options: TransportOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DELIVERY_TIMEOUT_MS;
    this.maxReadBytes = options.maxReadBytes ?? MAX_READ_BYTES;
    this.clock = options.clock ?? Date.now;
  }

  send(delivery: DeliveryRequest): Promise<DeliveryOutcome> {
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
      }, this.timeoutMs);
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
