import { lookup } from 'node:dns/promises';

/**
 * Name resolution, injectable: webhook URLs are checked against the addresses their host resolves
 * to, and tests make a public-looking name resolve to a private address without any network.
 */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/** The operating system's resolver (getaddrinfo), every address, in its order. */
export const systemResolver: Resolver = async (hostname) => {
  const found = await lookup(hostname, { all: true, verbatim: true });
  return found.map((entry) => ({ address: entry.address, family: entry.family === 6 ? 6 : 4 }));
};
