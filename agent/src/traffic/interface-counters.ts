/**
 * A network interface's byte counters, from Linux's /proc/net/dev: what the kernel counted
 * through the interface since it came up, whoever sent or received it.
 */
import { readFile } from 'node:fs/promises';
import type { ByteCounts } from './own-traffic.js';

export const PROC_NET_DEV = '/proc/net/dev';

/** An interface's counters: bytes and packets each way. */
export interface InterfaceCounters extends ByteCounts {
  rxPackets: number;
  txPackets: number;
}

/** Every interface's received and sent bytes and packets, from /proc/net/dev's text. */
export function parseNetDev(text: string): Map<string, InterfaceCounters> {
  const out = new Map<string, InterfaceCounters>();
  // Two header lines, then `  name: rx_bytes rx_packets … (8 receive fields) tx_bytes …`.
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const fields = line.slice(colon + 1).trim().split(/\s+/);
    const [rxBytes, rxPackets, txBytes, txPackets] = [fields[0], fields[1], fields[8], fields[9]].map(Number) as [number, number, number, number];
    if (name !== '' && [rxBytes, rxPackets, txBytes, txPackets].every(Number.isSafeInteger)) out.set(name, { rxBytes, txBytes, rxPackets, txPackets });
  }
  return out;
}

/** Reads a file's text; injected so that tests can give /proc's content. */
export type ReadText = (path: string) => Promise<string>;

export const readProcText: ReadText = (path) => readFile(path, 'utf8');

/**
 * The counters of `iface` now.
 * @throws Error when /proc/net/dev cannot be read (not Linux) or has no such interface.
 */
export async function readInterfaceCounters(iface: string, readText: ReadText = readProcText): Promise<InterfaceCounters> {
  const counters = parseNetDev(await readText(PROC_NET_DEV)).get(iface);
  if (counters === undefined) throw new Error(`${PROC_NET_DEV} has no interface ${JSON.stringify(iface)}`);
  return counters;
}

/** What moved between two readings (a counter that went back, e.g. an interface reset, counts from 0). */
export function countersDelta(before: InterfaceCounters, after: InterfaceCounters): InterfaceCounters {
  const delta = (a: number, b: number): number => (b >= a ? b - a : b);
  return {
    rxBytes: delta(before.rxBytes, after.rxBytes),
    txBytes: delta(before.txBytes, after.txBytes),
    rxPackets: delta(before.rxPackets, after.rxPackets),
    txPackets: delta(before.txPackets, after.txPackets),
  };
}
