/**
 * UDP quality, what a video call or a voice lesson feels: a short paced stream of STAMP test
 * packets (RFC 8762) to the endpoint's reflector and back. Per packet it keeps the four
 * times of a two-way measurement (T1 sent, T2 reflector received, T3 reflector sent, T4
 * received back); from them come the round trip, the RFC 3550 jitter of each direction, and
 * loss each way, told apart by the reflector's own sequence counter. docs/measurement.md, "UDP
 * quality", gives the formulas.
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { UdpResult } from '@speedwatch/shared';
import { median, percentile, readReflectorPacket, STAMP_MAX_PACKET_BYTES, STAMP_MIN_PACKET_BYTES, writeSenderPacket } from '@speedwatch/shared';
import { MeasureError, toMeasureError } from './measure-error.js';
import { sleep } from './sleep.js';

export interface UdpProbeOptions {
  /** The reflector's host: the endpoint URL's host name or address (IPv6 with or without brackets). */
  host: string;
  port: number;
  /** Packets to send (UDP_PROBE_DEFAULTS: 250). */
  packets: number;
  /** Time between two packets (20 ms). */
  intervalMs: number;
  /** UDP payload bytes of each packet, 44–1472 (172). */
  packetBytes: number;
  /**
   * An answer later than this after its packet was sent counts as lost; the probe waits this
   * long after its last packet. With no answer at all this long after the first packet, it
   * stops early with SW_UDP_NO_REPLY. The test uses its latency timeout (2 000 ms).
   */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface UdpProbeDeps {
  /** Monotonic milliseconds; default `performance.now`. */
  now?: () => number;
  /** Unix milliseconds at `now() === 0`, for the timestamps in the packets; default `performance.timeOrigin`. */
  timeOrigin?: number;
  /** Picks the session's SSID; default Math.random. */
  random?: () => number;
}

/** One packet that came back, the four times in milliseconds (T1 and T4 on the agent's clock, T2 and T3 on the reflector's). */
export interface UdpReply {
  senderSeq: number;
  /** The reflector's count of this session's packets before this one. */
  reflectorSeq: number;
  t1SentMs: number;
  t2ReflectorReceivedMs: number;
  t3ReflectorSentMs: number;
  t4ReceivedMs: number;
}

export interface UdpStream {
  port: number;
  packetBytes: number;
  intervalMs: number;
  sent: number;
  /** Distinct packets answered in time, in the order their answers came. */
  replies: readonly UdpReply[];
  duplicates: number;
  reordered: number;
}

/** Sends the stream and returns its figures; throws a MeasureError (SW_UDP_NO_REPLY when nothing answered). */
export async function measureUdp(options: UdpProbeOptions, deps: UdpProbeDeps = {}): Promise<UdpResult> {
  return udpFigures(await sendUdpStream(options, deps));
}

/** The stream itself: paced packets out, answers in, every time recorded. */
export async function sendUdpStream(options: UdpProbeOptions, deps: UdpProbeDeps = {}): Promise<UdpStream> {
  const { port, packets, intervalMs, packetBytes, timeoutMs, signal } = options;
  if (packetBytes < STAMP_MIN_PACKET_BYTES || packetBytes > STAMP_MAX_PACKET_BYTES) {
    throw new RangeError(`packetBytes must be ${STAMP_MIN_PACKET_BYTES}–${STAMP_MAX_PACKET_BYTES}, got ${packetBytes}`);
  }
  const now = deps.now ?? (() => performance.now());
  const timeOrigin = deps.timeOrigin ?? performance.timeOrigin;
  const ssid = Math.floor((deps.random ?? Math.random)() * 0x10000) & 0xffff;
  const where = `udp://${options.host}:${port}`;
  const host = options.host.replace(/^\[(.*)\]$/, '$1');

  let address: { address: string; family: number };
  try {
    address = isIP(host) === 0 ? await lookup(host) : { address: host, family: isIP(host) };
  } catch (err) {
    throw toMeasureError(err, where);
  }
  const socket: Socket = createSocket({ type: address.family === 6 ? 'udp6' : 'udp4' });
  const sentAt = new Float64Array(packets).fill(Number.NaN);
  const answered = new Uint8Array(packets);
  const replies: UdpReply[] = [];
  let sent = 0;
  let duplicates = 0;
  let reordered = 0;
  let highestSeq = -1;
  let failure: MeasureError | undefined;
  let wake: (() => void) | undefined;

  socket.on('message', (packet: Buffer) => {
    const t4 = now();
    const reply = readReflectorPacket(packet);
    if (reply === undefined || reply.ssid !== ssid || reply.senderSeq >= sent) return;
    const seq = reply.senderSeq;
    const t1 = sentAt[seq] as number;
    // The timestamp must be the one this packet carried: anything else is not an answer to it.
    if (Math.abs(reply.senderUnixMs - (timeOrigin + t1)) > 0.01) return;
    if (answered[seq] === 1) {
      duplicates++;
      return;
    }
    if (t4 - t1 > timeoutMs) return; // too late: lost
    answered[seq] = 1;
    if (seq < highestSeq) reordered++;
    else highestSeq = seq;
    replies.push({ senderSeq: seq, reflectorSeq: reply.reflectorSeq, t1SentMs: t1, t2ReflectorReceivedMs: reply.receivedUnixMs, t3ReflectorSentMs: reply.sentUnixMs, t4ReceivedMs: t4 });
    if (replies.length === sent) wake?.();
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    // Before any answer, an error means there is no reflector to measure; after, one lost packet.
    if (replies.length > 0 || failure !== undefined) return;
    failure =
      err.code === 'ECONNREFUSED'
        ? new MeasureError('SW_UDP_NO_REPLY', `${where}: the host answered that nothing listens on that UDP port`, { cause: err })
        : toMeasureError(err, where);
    wake?.();
  });

  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(port, address.address, () => {
        socket.removeListener('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      throw toMeasureError(err, where);
    });

    // One slab for every packet: a packet is not rewritten while the socket may still hold it.
    const slab = Buffer.alloc(packets * packetBytes);
    const start = now();
    for (let seq = 0; seq < packets; seq++) {
      const wait = start + seq * intervalMs - now();
      if (wait > 0) await sleep(wait, signal);
      if (signal?.aborted === true || failure !== undefined) break;
      if (replies.length === 0 && now() - start > timeoutMs) break; // no reflector: stop early
      const packet = slab.subarray(seq * packetBytes, (seq + 1) * packetBytes);
      const t1 = now();
      sentAt[seq] = t1;
      writeSenderPacket(packet, seq, timeOrigin + t1, ssid);
      sent++;
      socket.send(packet);
    }
    // Wait for the last answers: until every packet is answered, or timeoutMs after the last one.
    if (sent > 0 && replies.length < sent && failure === undefined && signal?.aborted !== true) {
      const waitMs = Math.max(0, (sentAt[sent - 1] as number) + timeoutMs - now());
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        signal?.addEventListener('abort', done, { once: true });
        wake = done;
      });
    }
  } finally {
    socket.close();
  }
  if (signal?.aborted === true) throw new MeasureError('SW_ABORTED', `${where}: the UDP probe was stopped`);
  if (failure !== undefined) throw failure;
  if (replies.length === 0) {
    throw new MeasureError('SW_UDP_NO_REPLY', `${where}: none of ${sent} UDP packets was answered within ${timeoutMs} ms`);
  }
  return { port, packetBytes, intervalMs, sent, replies, duplicates, reordered };
}

/**
 * RFC 3550 §6.4.1 interarrival jitter over pairs in arrival order: for consecutive packets i, j,
 * D = (Rj − Ri) − (Sj − Si) and J += (|D| − J) / 16, from J = 0. One packet has no jitter (0).
 */
export function interarrivalJitter(sendTimes: readonly number[], receiveTimes: readonly number[]): number {
  let jitter = 0;
  for (let k = 1; k < sendTimes.length; k++) {
    const d = (receiveTimes[k] as number) - (receiveTimes[k - 1] as number) - ((sendTimes[k] as number) - (sendTimes[k - 1] as number));
    jitter += (Math.abs(d) - jitter) / 16;
  }
  return jitter;
}

/**
 * The result's figures from a stream with at least one answer. Loss each way is read at the
 * last packet answered (the highest sequence number, s): the reflector had counted r + 1 packets
 * by then (r its sequence number, the highest it sent), so s + 1 − (r + 1) were lost on the way
 * out and r + 1 − (answers up to s) on the way back. Packets after s are lost in a direction
 * the probe cannot tell: they count in `lossRatio` only.
 */
export function udpFigures(stream: UdpStream): UdpResult {
  const { replies, sent } = stream;
  if (replies.length === 0) throw new RangeError('udpFigures needs at least one answer');
  const rtts = replies.map((r) => r.t4ReceivedMs - r.t1SentMs - Math.max(0, r.t3ReflectorSentMs - r.t2ReflectorReceivedMs));
  let lastSeq = 0;
  let lastReflectorSeq = 0;
  for (const r of replies) {
    lastSeq = Math.max(lastSeq, r.senderSeq);
    lastReflectorSeq = Math.max(lastReflectorSeq, r.reflectorSeq);
  }
  const windowSent = lastSeq + 1;
  const reflected = Math.min(windowSent, lastReflectorSeq + 1); // a packet duplicated on the way out is counted twice by the reflector
  const received = replies.length;
  const byReflector = [...replies].sort((a, b) => a.reflectorSeq - b.reflectorSeq);
  return {
    port: stream.port,
    packetBytes: stream.packetBytes,
    intervalMs: stream.intervalMs,
    sent,
    received,
    lossRatio: (sent - received) / sent,
    forwardLossRatio: (windowSent - reflected) / windowSent,
    returnLossRatio: Math.max(0, reflected - received) / reflected,
    duplicates: stream.duplicates,
    reordered: stream.reordered,
    rttMinMs: Math.max(0, Math.min(...rtts)),
    rttMedianMs: Math.max(0, median(rtts)),
    rttP95Ms: Math.max(0, percentile(rtts, 95)),
    rttMaxMs: Math.max(0, Math.max(...rtts)),
    forwardJitterMs: interarrivalJitter(byReflector.map((r) => r.t1SentMs), byReflector.map((r) => r.t2ReflectorReceivedMs)),
    returnJitterMs: interarrivalJitter(replies.map((r) => r.t3ReflectorSentMs), replies.map((r) => r.t4ReceivedMs)),
  };
}
