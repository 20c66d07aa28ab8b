import { type FastifyReply, type FastifyRequest, type FastifyServerOptions, LogController } from 'fastify';
import type { DestinationStream } from 'pino';

/**
 * Pino JSON logs: one line per request with its id, route, status and latency. Credentials,
 * passwords and tokens are redacted wherever they appear in a logged object.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.password',
  '*.newPassword',
  '*.currentPassword',
  '*.refreshToken',
  '*.accessToken',
  '*.refresh_token',
  '*.access_token',
  '*.token',
  '*.key',
  '*.secret',
  '*.jwtSecret',
  'password',
  'token',
];

export function loggerOptions(level: string, stream?: DestinationStream): FastifyServerOptions['logger'] {
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...(stream ? { stream } : {}),
    serializers: {
      req: (req) => ({ method: req.method, url: req.url, remoteAddress: req.ip }),
      res: (res) => ({ statusCode: res.statusCode }),
    },
  };
}

/** One line per request, when it completes: id (the child logger's label), route, status, latency. */
/** What is known of a request when it completes: for the log line and for any observer (metrics). */
export interface CompletedRequest {
  method: string;
  /** The route pattern (`/api/v1/tasks/:id`), or null when no route matched. */
  route: string | null;
  statusCode: number;
  latencyMs: number;
}

export type RequestObserver = (completed: CompletedRequest) => void;

export class RequestLogController extends LogController {
  private readonly logs: boolean;

  constructor(
    level: string,
    private readonly observers: readonly RequestObserver[] = [],
  ) {
    super({ requestIdLogLabel: 'requestId' });
    this.logs = ['trace', 'debug', 'info'].includes(level);
  }

  override incomingRequest(): void {}

  override requestCompleted(
    _error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    // Nothing to build when no line is written and nobody observes (the hot path in production).
    if (!this.logs && this.observers.length === 0) return;
    const completed: CompletedRequest = {
      method: request.method,
      route: request.routeOptions.url ?? null,
      statusCode: reply.statusCode,
      latencyMs: Math.round(reply.elapsedTime * 100) / 100,
    };
    if (this.logs) {
      // The client's address and protocol as TRUST_PROXY resolves them (X-Forwarded-For, -Proto).
      const client = { remoteAddress: request.ip, protocol: request.protocol };
      request.log.info({ ...completed, url: request.url, ...client }, 'request completed');
    }
    for (const observe of this.observers) observe(completed);
  }
}
