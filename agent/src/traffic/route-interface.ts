/**
 * Which network interface traffic to an address leaves by, read from Linux's routing tables in
 * /proc (no `ip route get` child process): the longest matching prefix of the main table, the
 * lowest metric among equals. Loopback and this host's own addresses are `lo`.
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import os from 'node:os';
import type { ReadText } from './interface-counters.js';
import { readProcText } from './interface-counters.js';

export const PROC_NET_ROUTE = '/proc/net/route';
export const PROC_NET_IPV6_ROUTE = '/proc/net/ipv6_route';

const RTF_UP = 0x1;
const RTF_LOCAL = 0x8000_0000;

interface Route {
  iface: string;
  prefix: bigint;
  prefixLength: number;
  metric: number;
  local: boolean;
}

/** IPv4 routes of /proc/net/route (addresses in the kernel's byte order: little-endian hex). */
export function parseIpv4Routes(text: string): Route[] {
  const routes: Route[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const flags = Number.parseInt(f[3] as string, 16);
    if ((flags & RTF_UP) === 0) continue;
    const destination = swap32(Number.parseInt(f[1] as string, 16));
    const mask = swap32(Number.parseInt(f[7] as string, 16));
    routes.push({ iface: f[0] as string, prefix: BigInt(destination), prefixLength: popcount32(mask), metric: Number(f[6]), local: false });
  }
  return routes;
}

/** IPv6 routes of /proc/net/ipv6_route: destination, its length, source, its length, next hop, metric, refs, use, flags, interface. */
export function parseIpv6Routes(text: string): Route[] {
  const routes: Route[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const flags = Number.parseInt(f[8] as string, 16);
    if ((flags & RTF_UP) === 0) continue;
    routes.push({ iface: f[9] as string, prefix: BigInt(`0x${f[0] as string}`), prefixLength: Number.parseInt(f[1] as string, 16), metric: Number.parseInt(f[5] as string, 16), local: (flags & RTF_LOCAL) !== 0 });
  }
  return routes;
}

/** The interface of the best route to `address` among `routes` (all of one family), or undefined. */
export function bestRoute(address: bigint, bits: 32 | 128, routes: readonly Route[]): string | undefined {
  let best: Route | undefined;
  for (const route of routes) {
    const shift = BigInt(bits - route.prefixLength);
    if (route.prefixLength > 0 && address >> shift !== route.prefix >> shift) continue;
    if (best === undefined || route.prefixLength > best.prefixLength || (route.prefixLength === best.prefixLength && route.metric < best.metric)) best = route;
  }
  if (best === undefined) return undefined;
  return best.local ? 'lo' : best.iface;
}

export interface RouteOptions {
  readText?: ReadText;
  /** This host's own addresses (default: os.networkInterfaces()). */
  ownAddresses?: () => string[];
}

/**
 * The interface traffic to `ip` (an IPv4 or IPv6 address) leaves by, or undefined when no route
 * fits. Loopback addresses and this host's own are `lo`.
 * @throws Error when the routing table cannot be read (not Linux).
 */
export async function routeInterface(ip: string, options: RouteOptions = {}): Promise<string | undefined> {
  const readText = options.readText ?? readProcText;
  ip = ip.split('%')[0] as string; // a link-local address's zone
  const family = net.isIP(ip);
  if (family === 0) throw new Error(`not an IP address: ${JSON.stringify(ip)}`);
  const own = options.ownAddresses ?? ownAddresses;
  if (family === 4 ? ip.startsWith('127.') : ip === '::1' || ip.startsWith('::ffff:127.')) return 'lo';
  if (own().includes(ip)) return 'lo';
  if (family === 4) return bestRoute(ipv4ToBigInt(ip), 32, parseIpv4Routes(await readText(PROC_NET_ROUTE)));
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped !== null) return bestRoute(ipv4ToBigInt(mapped[1] as string), 32, parseIpv4Routes(await readText(PROC_NET_ROUTE)));
  return bestRoute(ipv6ToBigInt(ip), 128, parseIpv6Routes(await readText(PROC_NET_IPV6_ROUTE)));
}

/**
 * The interface traffic to `hostname` (a name or an address) leaves by: its first address as
 * the system resolver gives it (what the test's connections will use), then routeInterface.
 */
export async function interfaceForHost(hostname: string, options: RouteOptions & { resolve?: (host: string) => Promise<string> } = {}): Promise<string | undefined> {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  const resolve = options.resolve ?? (async (host: string) => (await lookup(host)).address);
  const ip = net.isIP(bare) !== 0 ? bare : await resolve(bare);
  return routeInterface(ip, options);
}

function ownAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address));
}

function swap32(n: number): number {
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | ((n >>> 24) & 0xff)) >>> 0;
}

function popcount32(n: number): number {
  let count = 0;
  for (let v = n >>> 0; v !== 0; v >>>= 1) count += v & 1;
  return count;
}

function ipv4ToBigInt(ip: string): bigint {
  return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6ToBigInt(ip: string): bigint {
  const [head = '', tail = ''] = ip.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === '' ? [] : tail.split(':');
  const groups = ip.includes('::') ? [...headParts, ...Array<string>(8 - headParts.length - tailParts.length).fill('0'), ...tailParts] : headParts;
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}
