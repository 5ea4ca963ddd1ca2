/**
 * A lab link with delay and loss (this kernel has tbf and htb but no netem): two network
 * namespaces, a TUN device in each, and the user-space forwarder `delay_line.py` between them
 * in the root namespace, which drops packets at random (seeded), holds a tail-drop FIFO queue,
 * serialises at the link's rate and releases each packet after a fixed one-way delay. See
 * docs/measurement.md, "Lab with delay and loss", for the rates it holds honestly.
 *
 * The forwarder runs at real-time priority (SCHED_FIFO 10): on a machine shared with other work,
 * a forwarder that is not scheduled for a while is a link that stops for that while.
 *
 * Needs root (namespaces, /dev/net/tun, the priority), iproute2 and python3.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LabNamespaces } from './lab-namespaces.js';

// The script sits beside this file's source; from test/dist/lab/ that is ../../lab/.
const here = fileURLToPath(import.meta.url);
const SCRIPT = `${here.slice(0, here.lastIndexOf('/test/') + 1)}test/lab/delay_line.py`;

/** Bytes of TCP payload in a full-sized packet on a 1500-byte MTU with TCP timestamps (1500 − 20 − 20 − 12). */
export const TCP_PAYLOAD_BYTES = 1448;
/** IP MTU of both devices. */
export const LINK_MTU = 1500;
/** Bytes the rate counts per packet beyond its IP length: an Ethernet header, as tbf counts on a veth. */
export const DEFAULT_OVERHEAD_BYTES = 14;

export interface DelayLinkSettings {
  /** Bottleneck rate in Mbit/s (10^6 bit/s), both directions; 0 for no limit. */
  rateMbit: number;
  /** One-way delay in milliseconds, each direction (round trip = 2 × delayMs). */
  delayMs: number;
  /** Probability that a packet is dropped, each direction, each packet (0.001 = 0.1%). Default 0. */
  lossRatio?: number;
  /**
   * Tail-drop limit of the queue in front of the link, in bytes. Default: 100 ms at the rate, at
   * least 64 KiB (an access router's buffer; with one bandwidth-delay product, four BBR flows
   * overrun it and lose 5–8% of their packets, see docs/measurement.md).
   */
  queueBytes?: number;
  /** Tail-drop limit in packets as well (0: bytes only). Default 0. */
  queuePackets?: number;
  /** Bytes counted against the rate per packet beyond its IP length. Default 14 (Ethernet header). */
  overheadBytes?: number;
  /** Seed of the loss generator. Default 1. */
  seed?: number;
}

/** Counters of one direction since the last `configure` (or start). */
export interface DirectionStats {
  packets: number;
  bytes: number;
  maxPacketBytes: number;
  lost: number;
  tailDropped: number;
  maxQueueBytes: number;
  /** Most a packet was released after its due time, in ms: the forwarder's own lateness. */
  lateMsMax: number;
  /** Bytes written to the far side so far, and when (ms on the forwarder's monotonic clock). */
  releasedBytes: number;
  atMs: number;
  /** Bytes waiting for the link at `atMs`. */
  queueBytes: number;
}

export interface DelayLink extends LabNamespaces {
  /** The settings in force. */
  readonly settings: Readonly<Required<DelayLinkSettings>>;
  /** Changes settings in place (addresses stay); queues are emptied and counters reset. */
  configure(settings: DelayLinkSettings): Promise<void>;
  /** Counters per direction: `toServer` (client → server) and `toClient`. */
  stats(): Promise<{ toServer: DirectionStats; toClient: DirectionStats }>;
  /** Stops the forwarder (its devices go with it) and deletes both namespaces. Idempotent. */
  close(): Promise<void>;
}

/** TCP payload the link carries at most, in Mbit/s: rate × 1448 / (1500 + overhead). */
export function payloadCapacityMbps(rateMbit: number, overheadBytes = DEFAULT_OVERHEAD_BYTES): number {
  return (rateMbit * TCP_PAYLOAD_BYTES) / (LINK_MTU + overheadBytes);
}

/** Default queue: this long at the link's rate. */
export const DEFAULT_QUEUE_MS = 100;

function resolved(settings: DelayLinkSettings): Required<DelayLinkSettings> {
  const queueBytes = (settings.rateMbit * 1e6 * DEFAULT_QUEUE_MS) / 8 / 1000;
  return {
    rateMbit: settings.rateMbit,
    delayMs: settings.delayMs,
    lossRatio: settings.lossRatio ?? 0,
    queueBytes: settings.queueBytes ?? Math.max(64 * 1024, Math.round(queueBytes)),
    queuePackets: settings.queuePackets ?? 0,
    overheadBytes: settings.overheadBytes ?? DEFAULT_OVERHEAD_BYTES,
    seed: settings.seed ?? 1,
  };
}

function sh(argv: readonly string[]): string {
  return execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Creates the namespaces and devices and starts the forwarder. Addresses are 10.x.y.1 (server)
 * and 10.x.y.2 (client), x.y derived from this process's id and `index` so that links of one
 * run, or of two runs side by side, do not collide. On any failure everything made is removed.
 */
export async function startDelayLink(settings: DelayLinkSettings, index = 0): Promise<DelayLink> {
  const tag = `${process.pid % 100000}${index === 0 ? '' : `-${index}`}`;
  const serverNs = `swdl-s-${tag}`;
  const clientNs = `swdl-c-${tag}`;
  const serverDev = `swds${tag}`.slice(0, 15);
  const clientDev = `swdc${tag}`.slice(0, 15);
  const subnet = `10.${150 + ((process.pid >> 8) % 40)}.${(process.pid + index * 7) % 250}`;
  const serverIp = `${subnet}.1`;
  const clientIp = `${subnet}.2`;
  let current = resolved(settings);

  let child: ChildProcessWithoutNullStreams | undefined;
  let closed = false;
  const removeNamespaces = (): void => {
    for (const ns of [serverNs, clientNs]) {
      try {
        sh(['ip', 'netns', 'del', ns]);
      } catch {
        // Never made, or already gone.
      }
    }
  };
  // A backstop for a run that exits without close(): namespaces outlive their processes.
  const onExit = (): void => removeNamespaces();
  process.once('exit', onExit);

  const stopChild = (): Promise<void> =>
    new Promise((resolve) => {
      const c = child;
      if (c === undefined || c.exitCode !== null || c.signalCode !== null) return resolve();
      const timer = setTimeout(() => c.kill('SIGKILL'), 2000);
      c.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      c.stdin.end();
    });

  // Lines from the forwarder, handed to whoever waits for the next one.
  const waiting: ((line: string) => void)[] = [];
  let stderr = '';
  const nextLine = (what: string, timeoutMs = 5000): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`delay line: no ${what} within ${timeoutMs} ms\n${stderr}`)), timeoutMs);
      waiting.push((line) => {
        clearTimeout(timer);
        if (line.startsWith('error') || line === '') reject(new Error(`delay line: ${line || 'exited'}\n${stderr}`));
        else resolve(line);
      });
    });

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await stopChild();
    removeNamespaces();
    process.off('exit', onExit);
  };

  try {
    sh(['ip', 'netns', 'add', serverNs]);
    sh(['ip', 'netns', 'add', clientNs]);
    const c = spawn('python3', [
      SCRIPT, serverDev, clientDev,
      '--rate-mbit', String(current.rateMbit),
      '--delay-ms', String(current.delayMs),
      '--loss', String(current.lossRatio),
      '--queue-bytes', String(current.queueBytes),
      '--queue-packets', String(current.queuePackets),
      '--overhead-bytes', String(current.overheadBytes),
      '--seed', String(current.seed),
      '--realtime',
    ], { stdio: ['pipe', 'pipe', 'pipe'] });
    child = c;
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let buffered = '';
    c.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        waiting.shift()?.(line);
      }
    });
    c.once('exit', () => {
      for (const w of waiting.splice(0)) w('');
    });
    const ready = await nextLine('"ready"');
    if (ready !== 'ready') throw new Error(`delay line: expected "ready", got ${JSON.stringify(ready)}`);
    // The forwarder made both devices in the root namespace and keeps their file descriptors
    // across the move into each namespace.
    for (const [ns, dev, ip] of [[serverNs, serverDev, serverIp], [clientNs, clientDev, clientIp]] as const) {
      sh(['ip', 'link', 'set', dev, 'netns', ns]);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      sh(['ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', dev]);
      sh(['ip', '-n', ns, 'link', 'set', dev, 'mtu', String(LINK_MTU), 'up']);
    }
  } catch (err) {
    await close();
    throw err;
  }

  const request = async (line: string, what: string): Promise<string> => {
    if (closed || child === undefined) throw new Error('delay line: closed');
    const answer = nextLine(what);
    child.stdin.write(`${line}\n`);
    return answer;
  };

  return {
    serverNs,
    serverIp,
    clientNs,
    clientIp,
    inServer: (...argv) => ['ip', 'netns', 'exec', serverNs, ...argv],
    inClient: (...argv) => ['ip', 'netns', 'exec', clientNs, ...argv],
    get settings() {
      return current;
    },
    async configure(next) {
      const s = resolved(next);
      await request(
        `set rate=${s.rateMbit} delay=${s.delayMs} loss=${s.lossRatio} queue_bytes=${s.queueBytes} queue_packets=${s.queuePackets} overhead=${s.overheadBytes} seed=${s.seed}`,
        '"ok"',
      );
      current = s;
    },
    async stats() {
      const line = await request('stats', 'stats');
      const parsed = JSON.parse(line.slice('stats '.length)) as Record<'a-to-b' | 'b-to-a', DirectionStats>;
      // Device a is the server's, so a-to-b carries what the server sends.
      return { toClient: parsed['a-to-b'], toServer: parsed['b-to-a'] };
    },
    close,
  };
}
