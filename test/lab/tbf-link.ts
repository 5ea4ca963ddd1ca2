/**
 * The clean lab link: two network namespaces joined by a veth pair, shaped with tbf on both ends
 * (this kernel has no netem; for delay and loss see delay-line.ts). tbf on a veth counts each
 * packet's Ethernet header against the rate, so the payload capacity is rate × 1448 / 1514
 * (`payloadCapacityMbps`). Used by the accuracy lab and the LibreSpeed parity test.
 *
 * Needs root and iproute2 (`ip`, `tc`).
 */
import { execFileSync } from 'node:child_process';
import type { LabNamespaces } from './lab-namespaces.js';

export interface TbfLink extends LabNamespaces {
  /** Shapes both directions to `rateMbit` (10^6 bit/s on the wire, Ethernet header counted): tbf with a 64 kB burst and 50 ms of queue. */
  shape(rateMbit: number): void;
  /** Deletes both namespaces (the veth pair goes with them). Idempotent. */
  close(): void;
}

function sh(argv: readonly string[]): string {
  return execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Creates the namespaces and the veth pair, unshaped. Addresses are 10.x.y.1 (server) and
 * 10.x.y.2 (client), and names carry this process's id and `index`, so that two links of one
 * run, or two runs side by side, do not collide. On a failure everything made is removed; a
 * run that exits without `close()` removes them on exit.
 */
export function startTbfLink(index = 0): TbfLink {
  const tag = `${process.pid % 100000}${index === 0 ? '' : `-${index}`}`;
  const serverNs = `swlab-s-${tag}`;
  const clientNs = `swlab-c-${tag}`;
  const serverDev = `swls${tag}`.slice(0, 15);
  const clientDev = `swlc${tag}`.slice(0, 15);
  const subnet = `10.${200 + (process.pid % 50)}.${(process.pid + index * 7) % 250}`;
  const serverIp = `${subnet}.1`;
  const clientIp = `${subnet}.2`;
  const inNs = (ns: string, argv: readonly string[]): string[] => ['ip', 'netns', 'exec', ns, ...argv];

  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    for (const ns of [serverNs, clientNs]) {
      try {
        sh(['ip', 'netns', 'del', ns]);
      } catch {
        // Never made, or already gone.
      }
    }
    process.off('exit', close);
  };
  // A backstop for a run that exits without close(): namespaces outlive their processes.
  process.once('exit', close);

  try {
    for (const ns of [serverNs, clientNs]) {
      sh(['ip', 'netns', 'add', ns]);
      // IPv4 only: otherwise each device's IPv6 link-local address appears a second or two after
      // it comes up, and a browser already running there takes the new address for a network
      // change and fails its requests in flight (net::ERR_NETWORK_CHANGED).
      sh(inNs(ns, ['sysctl', '-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.all.disable_ipv6=1']));
    }
    sh(['ip', 'link', 'add', serverDev, 'netns', serverNs, 'type', 'veth', 'peer', 'name', clientDev, 'netns', clientNs]);
    for (const [ns, dev, ip] of [[serverNs, serverDev, serverIp], [clientNs, clientDev, clientIp]] as const) {
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      sh(['ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', dev]);
      sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
    }
  } catch (err) {
    close();
    throw err;
  }

  return {
    serverNs,
    serverIp,
    clientNs,
    clientIp,
    inServer: (...argv) => inNs(serverNs, argv),
    inClient: (...argv) => inNs(clientNs, argv),
    shape(rateMbit) {
      for (const [ns, dev] of [[serverNs, serverDev], [clientNs, clientDev]] as const) {
        sh(inNs(ns, ['tc', 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${rateMbit}mbit`, 'burst', '64kb', 'latency', '50ms']));
      }
    },
    close,
  };
}
