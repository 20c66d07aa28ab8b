import { ProblemError, readProblem } from './errors.js';

/** One Server-Sent Events message (WHATWG HTML §9.2), as the stream sent it. */
export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

/** What the parser reads from a stream: a message, or a `retry:` instruction. */
export type SseItem = { message: SseMessage } | { retryMs: number };

/**
 * Parses an event stream: lines end with CR LF, LF or CR; `:` starts a comment; a blank line
 * ends a message, which is dispatched only when it has data.
 */
export async function* parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseItem> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let data: string[] = [];
  let event = '';
  let id: string | null = null;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      for (;;) {
        const end = buffer.search(/\r\n|\r|\n/);
        // A lone CR at the end of the buffer may be the first half of CR LF: wait for more.
        if (end === -1 || (end === buffer.length - 1 && buffer[end] === '\r')) break;
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + (buffer.startsWith('\r\n', end) ? 2 : 1));
        if (line === '') {
          if (data.length > 0) yield { message: { id, event: event || 'message', data: data.join('\n') } };
          data = [];
          event = '';
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data.push(value);
        else if (field === 'event') event = value;
        else if (field === 'id' && !value.includes('\0')) id = value;
        else if (field === 'retry' && /^[0-9]+$/.test(value)) yield { retryMs: Number(value) };
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

export interface EventStreamOptions {
  /** Resume after this event id (from an earlier stream, the feed or a webhook); default: from the head now. */
  lastEventId?: string;
  /** Stops the stream (the iteration then ends). */
  signal?: AbortSignal;
  /** How long to wait before reconnecting after the stream ended or failed (default 1000 ms; `retry:` overrides). */
  reconnectDelayMs?: number;
  /** Called each time a connection opens (the first and every reconnection). */
  onOpen?: (response: Response) => void;
}

/**
 * An event stream read with fetch (not EventSource, which cannot send an Authorization header):
 * it reconnects when the stream ends or the connection fails, sending `Last-Event-ID` so no event
 * is missed or repeated. `open` sends the request through the client (credentials, refresh).
 * An error reply (such as 410 `events_expired`: resync with a list) ends the iteration with a
 * ProblemError.
 */
export class EventStreamReader<T> implements AsyncIterable<T> {
  /** The id of the last event yielded: where a reconnection resumes. */
  lastEventId: string | undefined;

  constructor(
    private readonly open: (headers: Headers, signal: AbortSignal) => Promise<Response>,
    private readonly options: EventStreamOptions = {},
  ) {
    this.lastEventId = options.lastEventId;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    // Ours, so that a consumer's `break` closes the connection too.
    const controller = new AbortController();
    const outer = this.options.signal;
    const stop = () => controller.abort(outer?.reason);
    if (outer?.aborted) return;
    outer?.addEventListener('abort', stop, { once: true });
    let delayMs = this.options.reconnectDelayMs ?? 1000;
    try {
      while (!controller.signal.aborted) {
        try {
          const headers = new Headers({ accept: 'text/event-stream' });
          if (this.lastEventId !== undefined) headers.set('last-event-id', this.lastEventId);
          const response = await this.open(headers, controller.signal);
          if (!response.ok || !response.body) throw await readProblem(response);
          this.options.onOpen?.(response);
          for await (const item of parseSse(response.body)) {
            if ('retryMs' in item) {
              delayMs = item.retryMs;
              continue;
            }
            const event = JSON.parse(item.message.data) as T;
            if (item.message.id !== null) this.lastEventId = item.message.id;
            yield event;
          }
        } catch (error) {
          if (controller.signal.aborted) return;
          // A refusal of the service (4xx) is final; a broken connection or a 5xx is not.
          if (error instanceof ProblemError && error.status < 500) throw error;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delayMs);
          controller.signal.addEventListener(
            'abort',
            () => {
              clearTimeout(timer);
              resolve();
            },
            { once: true },
          );
        });
      }
    } finally {
      outer?.removeEventListener('abort', stop);
      controller.abort();
    }
  }
}
