import { describe, expect, it } from 'vitest';
import { parseSse, type SseItem } from '../../clients/typescript/src/index.js';

/** The SDK's event-stream parser on the line forms of the WHATWG format, split at awkward places. */

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function parse(chunks: string[]): Promise<SseItem[]> {
  const items: SseItem[] = [];
  for await (const item of parseSse(streamOf(chunks))) items.push(item);
  return items;
}

describe('parseSse', () => {
  it('reads id, event and data, skips comments, and ends messages at blank lines', async () => {
    const text = ': events after 1\n\nid: 2\nevent: task.created\ndata: {"a":1}\n\n: heartbeat\n\n';
    expect(await parse([text])).toEqual([{ message: { id: '2', event: 'task.created', data: '{"a":1}' } }]);
  });

  it('takes CR LF, CR and LF line ends, even when a chunk ends between CR and LF', async () => {
    const items = await parse(['id: 1\r', '\ndata: one\r\n\r', '\nid: 2\rdata: two\r\r', 'data: three\n\n']);
    expect(items).toEqual([
      { message: { id: '1', event: 'message', data: 'one' } },
      { message: { id: '2', event: 'message', data: 'two' } },
      // The last id stays in force for a message without one (the spec's last event ID).
      { message: { id: '2', event: 'message', data: 'three' } },
    ]);
  });

  it('joins data lines, keeps a value without a leading space as it is, and reads retry', async () => {
    const items = await parse(['retry: 2500\ndata:first\ndata: second\ndata\n\nretry: soon\n\nevent: x\n\n']);
    expect(items).toEqual([
      { retryMs: 2500 },
      { message: { id: null, event: 'message', data: 'first\nsecond\n' } },
    ]);
  });

  it('drops a message the stream ended before its blank line', async () => {
    expect(await parse(['id: 1\ndata: whole\n\n', 'id: 2\ndata: cut'])).toEqual([
      { message: { id: '1', event: 'message', data: 'whole' } },
    ]);
  });

  it('decodes characters split across chunks', async () => {
    const bytes = new TextEncoder().encode('data: Milch — 2 l\n\n');
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, 14));
        controller.enqueue(bytes.slice(14));
        controller.close();
      },
    });
    const items: SseItem[] = [];
    for await (const item of parseSse(stream)) items.push(item);
    expect(items).toEqual([{ message: { id: null, event: 'message', data: 'Milch — 2 l' } }]);
  });
});
