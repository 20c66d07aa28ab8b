import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

export interface TestSmtp {
  url: string;
  mails: ReceivedMail[];
  /** Connections made, accepted or not. */
  connections: number;
  /** Refuses the next `n` connections with a 421 (the sender must try again later). */
  refuse(n: number): void;
  /** Holds new connections before the greeting until `release()`: a slow server. */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

/** A real SMTP server on loopback, in this process: what the service sends is what it receives. */
export async function startSmtp(): Promise<TestSmtp> {
  let refusals = 0;
  let held: (() => void)[] | null = null;
  const state: TestSmtp = {
    url: '',
    mails: [],
    connections: 0,
    refuse: (n) => {
      refusals = n;
    },
    hold: () => {
      held ??= [];
    },
    release: () => {
      const waiting = held ?? [];
      held = null;
      for (const go of waiting) go();
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onConnect(_session, callback) {
      state.connections += 1;
      if (refusals > 0) {
        refusals -= 1;
        const error = new Error('try again later') as Error & { responseCode: number };
        error.responseCode = 421;
        callback(error);
        return;
      }
      if (held) held.push(() => callback());
      else callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        state.mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  return state;
}
