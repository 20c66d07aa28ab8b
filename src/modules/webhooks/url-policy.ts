import { BlockList, isIP, isIPv4, isIPv6 } from 'node:net';
import type { ResolvedAddress, Resolver } from '../../lib/dns.js';
import { withTimeout } from '../../lib/rate-limited-log.js';

/**
 * Where a webhook may send (contract §8): an absolute `https://` URL (`http://` too with
 * WEBHOOK_ALLOW_HTTP), no credentials in it, and a host whose every address is global unicast
 * (unless WEBHOOK_ALLOW_PRIVATE). Checked when a webhook is set and again at every delivery, where
 * the connection goes to the address that was checked (transport.ts, SafeTransport).
 */
export interface UrlPolicyOptions {
  allowHttp: boolean;
  allowPrivate: boolean;
  resolve: Resolver;
  /** How long a name may take to resolve before it counts as not resolving. */
  resolveTimeoutMs?: number;
}

export type UrlCheck =
  | { ok: true; url: URL; host: string; addresses: ResolvedAddress[] }
  | { ok: false; reason: string; address?: string };

/** How long a name may take to resolve (a delivery's own timeout caps it further). */
export const RESOLVE_TIMEOUT_MS = 5_000;

/** IPv4 ranges that are not global unicast (IANA special-purpose registry, RFC 6890 and later). */
const IPV4_NOT_GLOBAL: [string, number][] = [
  ['0.0.0.0', 8], // "this network", 0.0.0.0 unspecified
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // CGNAT shared space
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, 169.254.169.254 the cloud metadata address
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation (TEST-NET-1)
  ['192.31.196.0', 24], // AS112
  ['192.52.193.0', 24], // AMT
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // private
  ['192.175.48.0', 24], // AS112 direct delegation
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation (TEST-NET-2)
  ['203.0.113.0', 24], // documentation (TEST-NET-3)
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, 255.255.255.255 broadcast
];

/**
 * IPv6: only 2000::/3 is global unicast; within it these are not. Addresses outside it (::1, ::,
 * fe80::/10, fc00::/7 with fd00:ec2::254, ff00::/8, 100::/64, …) are refused before this list.
 * IPv4-mapped, NAT64 and 6to4 addresses are judged by the IPv4 address they carry.
 */
const IPV6_NOT_GLOBAL: [string, number][] = [
  ['2001::', 23], // IETF protocol assignments: Teredo, benchmarking, ORCHID
  ['2001:db8::', 32], // documentation
  ['3fff::', 20], // documentation (RFC 9637)
];

const ipv4Blocked = new BlockList();
for (const [net, prefix] of IPV4_NOT_GLOBAL) ipv4Blocked.addSubnet(net, prefix, 'ipv4');
const ipv6Blocked = new BlockList();
for (const [net, prefix] of IPV6_NOT_GLOBAL) ipv6Blocked.addSubnet(net, prefix, 'ipv6');

/** The 16 bytes of an IPv6 address (validated by net.isIPv6 first), a dotted IPv4 tail included. */
export function ipv6Bytes(address: string): Uint8Array | null {
  if (!isIPv6(address)) return null;
  let text = address;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (isIPv4(last)) {
    tail.push(...last.split('.').map(Number));
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head = '', rest] = text.split('::') as [string, string | undefined];
  const groups = (s: string) => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const missing = 8 - left.length - right.length;
  const all = [...left, ...Array<number>(rest === undefined ? 0 : missing).fill(0), ...right];
  if (all.length !== 8 || all.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return null;
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  if (tail.length === 4) bytes.set(tail, 12);
  return bytes;
}

const startsWith = (bytes: Uint8Array, prefix: readonly number[]) => prefix.every((b, i) => bytes[i] === b);
const dotted = (bytes: Uint8Array, at: number) => Array.from(bytes.subarray(at, at + 4)).join('.');

/** ::ffff:0:0/96 (IPv4-mapped) */
const MAPPED = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
/** 64:ff9b::/96 (NAT64, RFC 6052) */
const NAT64 = [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0];
/** 2002::/16 (6to4: the IPv4 address in bits 16–47) */
const SIX_TO_FOUR = [0x20, 0x02];

/**
 * Whether an address (IPv4 or IPv6 text, as a resolver or a URL gives it) is global unicast. What
 * is not an address at all is not.
 */
export function isGlobalUnicast(address: string): boolean {
  // A scope (fe80::1%eth0) only ever comes with link-local addresses; judge the address.
  const plain = address.replace(/%.*$/s, '');
  if (isIPv4(plain)) return !ipv4Blocked.check(plain, 'ipv4');
  const bytes = ipv6Bytes(plain);
  if (!bytes) return false;
  if (startsWith(bytes, MAPPED) || startsWith(bytes, NAT64)) return isGlobalUnicast(dotted(bytes, 12));
  if (startsWith(bytes, SIX_TO_FOUR)) return isGlobalUnicast(dotted(bytes, 2));
  // 2000::/3, then the exceptions inside it.
  if (((bytes[0] ?? 0) & 0xe0) !== 0x20) return false;
  return !ipv6Blocked.check(plain, 'ipv6');
}

/** Whether a webhook may connect to an address: global unicast, or any with WEBHOOK_ALLOW_PRIVATE. */
export function addressAllowed(address: string, allowPrivate: boolean): boolean {
  if (allowPrivate) return isIP(address.replace(/%.*$/s, '')) !== 0;
  return isGlobalUnicast(address);
}

/** The URL's host as a name to resolve or an IP literal (an IPv6 literal without its brackets). */
function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/** The URL's form alone: absolute, an allowed scheme, no credentials, a host. */
export function checkUrlForm(value: string, allowHttp: boolean): { url: URL } | { reason: string } {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { reason: 'must be an absolute URL' };
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:'))
    return { reason: allowHttp ? 'must be an https:// or http:// URL' : 'must be an https:// URL' };
  if (url.username !== '' || url.password !== '') return { reason: 'must not hold credentials' };
  if (hostOf(url) === '') return { reason: 'must name a host' };
  return { url };
}

/**
 * The whole check: the URL's form, then its host resolved (an IP literal as it is) and every
 * address allowed. A name that does not resolve fails too. The addresses are those to connect to.
 */
export async function checkUrl(value: string, options: UrlPolicyOptions): Promise<UrlCheck> {
  const form = checkUrlForm(value, options.allowHttp);
  if ('reason' in form) return { ok: false, reason: form.reason };
  const host = hostOf(form.url);
  let addresses: ResolvedAddress[];
  const literal = isIP(host);
  if (literal !== 0) {
    addresses = [{ address: host, family: literal === 6 ? 6 : 4 }];
  } else {
    try {
      addresses = await withTimeout(
        options.resolve(host),
        options.resolveTimeoutMs ?? RESOLVE_TIMEOUT_MS,
        `resolving ${host}`,
      );
    } catch {
      return { ok: false, reason: `its host ${host} does not resolve` };
    }
    if (addresses.length === 0) return { ok: false, reason: `its host ${host} does not resolve` };
  }
  const refused = addresses.find(({ address }) => !addressAllowed(address, options.allowPrivate));
  if (refused)
    return {
      ok: false,
      reason: `its host ${host} has the address ${refused.address}, which is not global unicast`,
      address: refused.address,
    };
  return { ok: true, url: form.url, host, addresses };
}
