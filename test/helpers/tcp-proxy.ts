import { connect, createServer, type Socket } from 'node:net';

export type ProxyMode = 'pass' | 'stall' | 'reset';

export interface TcpProxy {
  /** host:port to connect to instead of the target. */
  readonly port: number;
  /**
   * `pass` forwards both ways; `stall` keeps every connection open and forwards nothing (a server
   * that does not answer); `reset` drops every connection and each new one at once.
   */
  setMode(mode: ProxyMode): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a shared service (the CI Redis), for outage tests that must never stop
 * the service itself: other test files use it in parallel.
 */
export async function tcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  const pairs = new Set<[Socket, Socket]>();
  const dropAll = () => {
    for (const [client, upstream] of pairs) {
      client.destroy();
      upstream.destroy();
    }
  };
  const server = createServer((client) => {
    if (mode === 'reset') {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk) => {
      if (mode === 'pass') upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (mode === 'pass') client.write(chunk);
    });
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    setMode(next) {
      mode = next;
      if (next === 'reset') dropAll();
    },
    close: () =>
      new Promise<void>((resolve) => {
        dropAll();
        server.close(() => resolve());
      }),
  };
}
