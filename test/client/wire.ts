import type { FetchLike } from '../../clients/typescript/src/index.js';

/** What the client sent, as seen on the wire (after the client's layer added its headers). */
export interface Sent {
  method: string;
  path: string;
  headers: Headers;
}

/**
 * A fetch for the client tests: it records every request and can simulate a network that fails
 * in the ways a client must survive: a reply lost after the server acted on the request, and an
 * event stream cut after its first event.
 */
export class Wire {
  readonly sent: Sent[] = [];
  private loseReply: ((sent: Sent) => boolean) | null = null;
  private cutStream = false;

  readonly fetch: FetchLike = async (request) => {
    const url = new URL(request.url);
    const sent = { method: request.method, path: url.pathname, headers: new Headers(request.headers) };
    this.sent.push(sent);
    const response = await fetch(request);
    if (this.loseReply?.(sent)) {
      this.loseReply = null;
      await response.arrayBuffer();
      throw new TypeError('fetch failed (the test lost the reply)');
    }
    if (this.cutStream && url.pathname.endsWith('/events/stream') && response.ok && response.body) {
      this.cutStream = false;
      return new Response(firstEventOnly(response.body), {
        status: response.status,
        headers: response.headers,
      });
    }
    return response;
  };

  /** The next request that matches reaches the server, but its reply never reaches the client. */
  loseNextReply(predicate: (sent: Sent) => boolean): void {
    this.loseReply = predicate;
  }

  /** The next event stream ends right after its first event (what follows it is lost). */
  cutNextStreamAfterFirstEvent(): void {
    this.cutStream = true;
  }

  count(method: string, pathEnd: string): number {
    return this.sent.filter((s) => s.method === method && s.path.endsWith(pathEnd)).length;
  }

  matching(method: string, pathEnd: string): Sent[] {
    return this.sent.filter((s) => s.method === method && s.path.endsWith(pathEnd));
  }
}

/** Passes the stream through up to the blank line that ends its first event, then ends it. */
function firstEventOnly(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let text = '';
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      // One pull per chunk given out: read until the first event is complete.
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          controller.close();
          return;
        }
        text += decoder.decode(value, { stream: true });
        const start = text.search(/(^|\n)id: /);
        const end = start === -1 ? -1 : text.indexOf('\n\n', start);
        if (end === -1) continue;
        controller.enqueue(encoder.encode(text.slice(0, end + 2)));
        controller.close();
        await reader.cancel();
        return;
      }
    },
    async cancel() {
      await reader.cancel();
    },
  });
}
