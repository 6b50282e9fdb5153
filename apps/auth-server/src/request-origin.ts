import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * Who made the request an event happened in: what an audit event names
 * besides its subject. Handlers pass it to the services that raise events.
 */
export interface RequestOrigin {
  /** The id the server gave the request. */
  requestId: string;
  /** The caller's own `X-Request-Id`, if it sent one: kept as the client's, never as the request's id. */
  clientRequestId?: string | undefined;
  /** The client's address as Express reads it: through the proxies `AUTH_TRUST_PROXY` trusts. */
  clientAddress: string | undefined;
}

/**
 * Whom a request counts against: an IPv4 address, or the /64 of an IPv6
 * one, since a single subscriber usually holds a whole /64 and could
 * otherwise take a fresh address for every request. IPv4 carried in IPv6
 * (mapped `::ffff:a.b.c.d`, translated `::ffff:0:a.b.c.d`, NAT64's
 * `64:ff9b::/96`) counts as that IPv4 address.
 */
export function clientKey(address: string): string {
  if (isIPv4(address)) return address;
  const groups = ipv6Groups(address.split('%', 1)[0]!);
  // Not an address at all (what a client wrote in X-Forwarded-For, passed on by a proxy trusted with `true`): counted as
  // itself, by its hash, so that a counter's key stays short whatever was sent.
  if (!groups) return `other:${createHash('sha256').update(address).digest('hex').slice(0, 32)}`;
  const ipv4 = `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  const zeroUpTo = (end: number) => groups.slice(0, end).every((g) => g === 0);
  const mapped = zeroUpTo(5) && groups[5] === 0xffff;
  const translated = zeroUpTo(4) && groups[4] === 0xffff && groups[5] === 0;
  const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0);
  if (mapped || translated || nat64) return ipv4;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, or undefined if it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  if (!isIPv6(address)) return undefined;
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...zeros, ...right].map((group) => Number.parseInt(group, 16));
}
