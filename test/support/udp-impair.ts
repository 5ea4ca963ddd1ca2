/**
 * A UDP impairment relay for tests (loopback, no root): it stands between the agent's UDP
 * probe and the endpoint's reflector, and on each direction drops packets with a set
 * probability, holds each for a set delay plus a uniform random jitter, and may send some
 * twice, drawing from a seeded random source so a run can be replayed. It records what it did
 * to every packet, so a test can hold the probe's figures against the relay's own.
 *
 * One client at a time: answers go back to the address and port the latest request came from.
 */
import { createSocket } from 'node:dgram';
import type { RemoteInfo } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { seededRandom } from '@speedwatch/shared';

export interface Impairment {
  /** Probability (0..1) that a packet is dropped. */
  lossRatio: number;
  /** Fixed delay added to every packet, ms. */
  delayMs: number;
  /** Each packet is held a further uniform random 0..jitterMs, ms. */
  jitterMs: number;
  /** Probability (0..1) that a packet that is not dropped is sent twice, back to back. */
  duplicateRatio?: number;
}

export interface RelayRecord {
  /** The probe's sequence number: the sender's field of a request (bytes 0–3) or an answer (bytes 24–27). */
  seq: number;
  /** When the relay received it (performance.now(), ms). */
  arrivedAt: number;
  dropped: boolean;
  duplicated: boolean;
  /** When the relay actually sent it on (after its timer fired), ms; undefined while held or when dropped. */
  releasedAt?: number;
}

export interface UdpImpairRelay {
  /** The port the probe should send to. */
  readonly port: number;
  /** Requests, in the order they arrived. */
  readonly forward: readonly RelayRecord[];
  /** Answers, in the order they arrived. */
  readonly back: readonly RelayRecord[];
  close(): Promise<void>;
}

export interface UdpImpairOptions {
  /** The reflector's UDP port on 127.0.0.1. */
  targetPort: number;
  forward: Impairment;
  back: Impairment;
  /** Seed of the random sources that draw losses, jitter and duplicates: `seed` for requests, `seed + 1` for answers. */
  seed: number;
}

export async function startUdpImpair(options: UdpImpairOptions): Promise<UdpImpairRelay> {
  const randomOut = seededRandom(options.seed);
  const randomBack = seededRandom(options.seed + 1);
  const client = createSocket('udp4');
  const upstream = createSocket('udp4');
  const forward: RelayRecord[] = [];
  const back: RelayRecord[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let clientAddress: RemoteInfo | undefined;

  const pass = (packet: Buffer, impairment: Impairment, random: () => number, record: RelayRecord, send: (p: Buffer) => void): void => {
    // Draw all three every time, so the n-th packet's fate depends on nothing but n and the seed.
    const lost = random() < impairment.lossRatio;
    const hold = impairment.delayMs + random() * impairment.jitterMs;
    const twice = random() < (impairment.duplicateRatio ?? 0);
    if (lost) {
      record.dropped = true;
      return;
    }
    record.duplicated = twice;
    const timer = setTimeout(() => {
      timers.delete(timer);
      record.releasedAt = performance.now();
      send(packet);
      if (twice) send(packet);
    }, hold);
    timers.add(timer);
  };

  client.on('message', (packet: Buffer, rinfo: RemoteInfo) => {
    const record: RelayRecord = { seq: packet.length >= 4 ? packet.readUInt32BE(0) : -1, arrivedAt: performance.now(), dropped: false, duplicated: false };
    forward.push(record);
    clientAddress = rinfo;
    pass(packet, options.forward, randomOut, record, (p) => upstream.send(p));
  });
  upstream.on('message', (packet: Buffer) => {
    const record: RelayRecord = { seq: packet.length >= 28 ? packet.readUInt32BE(24) : -1, arrivedAt: performance.now(), dropped: false, duplicated: false };
    back.push(record);
    const to = clientAddress;
    if (to === undefined) return;
    pass(packet, options.back, randomBack, record, (p) => client.send(p, to.port, to.address));
  });
  // The probe's socket may be gone by the time a held answer is sent: that is its loss, not an error here.
  client.on('error', () => {});
  upstream.on('error', () => {});

  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => upstream.connect(options.targetPort, '127.0.0.1', resolve));
  let closing: Promise<void> | undefined;
  return {
    port: client.address().port,
    forward,
    back,
    close() {
      closing ??= (async () => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        await Promise.all([new Promise<void>((resolve) => client.close(() => resolve())), new Promise<void>((resolve) => upstream.close(() => resolve()))]);
      })();
      return closing;
    },
  };
}
