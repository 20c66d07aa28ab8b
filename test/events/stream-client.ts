import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { uuidv7 } from 'uuidv7';
import type { Change } from '../../src/lib/change-log.js';
import { until } from '../helpers/wait.js';

/** A raw HTTP client of GET /events/stream on a listening server, and what the tests record. */

export interface Frame {
  id: string;
  event: string;
  data: { id: string; type: string; projectId: string; subject: { id: string } };
}

export interface StreamClient {
  status: number;
  headers: IncomingHttpHeaders;
  /** Everything received so far. */
  text: string;
  /** The comment lines received so far (without the colon). */
  comments(): string[];
  /** The events received so far. */
  frames(): Frame[];
  /** Set once the server ended the reply (or the connection closed). */
  ended: boolean;
  /** Waits until an event with this id (or any of these) has arrived. */
  waitFor(predicate: (frames: Frame[]) => boolean, timeoutMs?: number): Promise<void>;
  waitEnded(timeoutMs?: number): Promise<void>;
  close(): void;
}

/** Listens on a free port of 127.0.0.1 (once) and returns the server's base URL. */
export async function baseUrlOf(app: FastifyInstance): Promise<string> {
  if (!app.server.listening) await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}

function parse(text: string): { frames: Frame[]; comments: string[] } {
  const frames: Frame[] = [];
  const comments: string[] = [];
  // Only complete blocks (ended by a blank line) count.
  const blocks = text.split('\n\n');
  blocks.pop();
  for (const block of blocks) {
    const fields: Record<string, string> = {};
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        comments.push(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      fields[line.slice(0, colon)] = line.slice(colon + 2);
    }
    if (fields.data !== undefined) {
      frames.push({
        id: fields.id ?? '',
        event: fields.event ?? '',
        data: JSON.parse(fields.data) as Frame['data'],
      });
    }
  }
  return { frames, comments };
}

/** Opens a stream; resolves once the status and headers are in (and, for a 200, the first bytes). */
export function openStream(
  base: string,
  headers: Record<string, string>,
  path = '/api/v1/events/stream',
): Promise<StreamClient> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method: 'GET', headers, agent: false }, (res) => {
      res.setEncoding('utf8');
      const client: StreamClient = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        text: '',
        ended: false,
        comments: () => parse(client.text).comments,
        frames: () => parse(client.text).frames,
        waitFor: (predicate, timeoutMs = 10_000) => until(() => predicate(client.frames()), timeoutMs),
        waitEnded: (timeoutMs = 10_000) => until(() => client.ended, timeoutMs),
        close: () => req.destroy(),
      };
      let resolved = false;
      const settle = () => {
        if (resolved) return;
        resolved = true;
        resolve(client);
      };
      res.on('data', (chunk: string) => {
        client.text += chunk;
        settle();
      });
      const finish = () => {
        client.ended = true;
        settle();
      };
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Records one change directly through the change log (until the write paths record their own). */
export async function recordChange(
  app: FastifyInstance,
  projectId: string,
  overrides: Partial<Change> = {},
): Promise<void> {
  const id = uuidv7();
  const change: Change = {
    type: 'task.created',
    at: new Date().toISOString(),
    actor: { type: 'system', id: null },
    projectId,
    subject: { type: 'task', id },
    taskId: id,
    changes: null,
    data: { id, projectId },
    viewers: [],
    ...overrides,
  };
  await app.ctx.changes.transaction(app.ctx.database.db, async (trx) => app.ctx.changes.record(trx, change));
}

/** The id of the newest event (what a stream's frames carry). */
export async function headId(app: FastifyInstance): Promise<string> {
  const { tag, head } = await app.ctx.services.events.state();
  return `${tag}-${String(head).padStart(16, '0')}`;
}
