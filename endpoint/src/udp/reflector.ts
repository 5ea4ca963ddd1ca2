/**
 * The endpoint's UDP reflector: a STAMP Session-Reflector (RFC 8762, unauthenticated,
 * stateful) for the agent's UDP probe. Each answer is written into the request's own buffer, so
 * it is exactly as long as the request: nothing is amplified. Requests shorter than a STAMP
 * packet or longer than one Ethernet frame are dropped, and so is anything over the per-source
 * or global rate; drops are counted and logged at most once per LOG_EVERY_MS.
 *
 * The only state: a token bucket per source address and a reflector sequence counter per
 * session (source address, port and SSID), both in maps of bounded size.
 */
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { STAMP_MAX_PACKET_BYTES, STAMP_MIN_PACKET_BYTES, reflectInPlace, senderSsid } from '@speedwatch/shared';
import type { Logger } from '@speedwatch/shared';
import { SourceLimiter, TokenBucket } from './source-limiter.js';

/** Why a UDP packet got no answer; the keys of `stats().udp.dropped`. */
export type UdpDropReason = 'short' | 'too-large' | 'rate-limited-source' | 'rate-limited-global';

export interface UdpStats {
  /** Packets received, answered or not. */
  received: number;
  /** Answers handed to the socket. */
  reflected: number;
  /** Packets not answered, by reason; reasons that never happened are absent. */
  dropped: Record<string, number>;
  /** Answers the socket refused to send (e.g. no route back). */
  sendErrors: number;
}

/** Source addresses whose token buckets are kept; beyond, the least recently seen is forgotten. */
export const MAX_UDP_SOURCES = 10_000;
/** Sessions whose counters are kept; beyond, the least recently seen is forgotten (its counter restarts at 0). */
export const MAX_UDP_SESSIONS = 4_096;
/** A session not heard from for this long starts again at 0. */
export const UDP_SESSION_IDLE_MS = 60_000;
/** Drops are logged at most once per this many ms, as counts since the previous line. */
export const UDP_DROP_LOG_EVERY_MS = 10_000;

export interface ReflectorOptions {
  host: string;
  /** UDP port to bind (1–65535). */
  port: number;
  /** Packets a second one source address may send on average; its burst is a fifth of a second's worth (at least 10). */
  sourceRatePps: number;
  /** Packets a second for the whole reflector; its burst is a tenth of a second's worth (at least 10). */
  ratePps: number;
  logger: Logger;
}

export interface ReflectorClock {
  /** Monotonic milliseconds, for the rate limits. */
  now: () => number;
  /** Unix milliseconds with fractions, for the timestamps in answers. */
  unixMs: () => number;
}

const DEFAULT_CLOCK: ReflectorClock = {
  now: () => performance.now(),
  unixMs: () => performance.timeOrigin + performance.now(),
};

export interface RunningReflector {
  readonly port: number;
  stats(): UdpStats;
  /** Closes the socket and flushes the drop log. Idempotent. */
  close(): Promise<void>;
}

interface Session {
  next: number;
  seenAt: number;
}

/** Binds the reflector's socket; rejects with the socket's error when it cannot (e.g. EADDRINUSE). */
export async function startReflector(options: ReflectorOptions, clock: ReflectorClock = DEFAULT_CLOCK): Promise<RunningReflector> {
  const log = options.logger;
  const family = isIP(options.host) || (await lookup(options.host)).family;
  const socket: Socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
  const limiter = new SourceLimiter({ ratePerSecond: options.sourceRatePps, burst: Math.max(10, options.sourceRatePps / 5), maxSources: MAX_UDP_SOURCES });
  const global = new TokenBucket(options.ratePps, Math.max(10, options.ratePps / 10), clock.now());
  const sessions = new Map<string, Session>();
  const stats = { received: 0, reflected: 0, sendErrors: 0 };
  const dropped = new Map<UdpDropReason, number>();
  const drops = new DropLog(log, clock.now);

  const sessionSeq = (rinfo: RemoteInfo, ssid: number, now: number): number => {
    const key = `${rinfo.address}|${rinfo.port}|${ssid}`;
    let session = sessions.get(key);
    if (session !== undefined) {
      sessions.delete(key);
      if (now - session.seenAt > UDP_SESSION_IDLE_MS) session = undefined;
    } else if (sessions.size >= MAX_UDP_SESSIONS) {
      const oldest = sessions.keys().next();
      if (oldest.done !== true) sessions.delete(oldest.value);
    }
    session ??= { next: 0, seenAt: now };
    session.seenAt = now;
    sessions.set(key, session);
    return session.next++;
  };

  const drop = (reason: UdpDropReason, rinfo: RemoteInfo): void => {
    dropped.set(reason, (dropped.get(reason) ?? 0) + 1);
    drops.note(reason, rinfo.address);
  };

  const onSent = (err: Error | null): void => {
    if (err === null) return;
    stats.sendErrors++;
    log.debug({ event: 'udp-send-failed', err }, 'UDP answer not sent');
  };

  socket.on('message', (packet: Buffer, rinfo: RemoteInfo) => {
    const receivedUnixMs = clock.unixMs();
    const now = clock.now();
    stats.received++;
    if (packet.length < STAMP_MIN_PACKET_BYTES) return drop('short', rinfo);
    if (packet.length > STAMP_MAX_PACKET_BYTES) return drop('too-large', rinfo);
    if (!limiter.allow(rinfo.address, now)) return drop('rate-limited-source', rinfo);
    if (!global.take(now)) return drop('rate-limited-global', rinfo);
    const seq = sessionSeq(rinfo, senderSsid(packet), now);
    reflectInPlace(packet, seq, receivedUnixMs, clock.unixMs());
    stats.reflected++;
    socket.send(packet, rinfo.port, rinfo.address, onSent);
  });

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port: options.port, address: options.host, exclusive: true }, () => {
      socket.removeListener('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    socket.close();
    throw err;
  });
  // After binding, socket errors (ICMP reports on some systems) are logged; the reflector keeps going.
  socket.on('error', (err: Error) => log.warn({ event: 'udp-error', err }, 'UDP socket error'));

  let closing: Promise<void> | undefined;
  return {
    port: socket.address().port,
    stats: () => ({ ...stats, dropped: Object.fromEntries(dropped) }),
    close() {
      closing ??= new Promise<void>((resolve) => {
        drops.close();
        socket.close(() => resolve());
      });
      return closing;
    },
  };
}

/** Drop counts logged at warn at most once per UDP_DROP_LOG_EVERY_MS, whatever the flood. */
class DropLog {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #pending = new Map<UdpDropReason, number>();
  #lastAddress = '';
  #lastLoggedAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;

  constructor(log: Logger, now: () => number) {
    this.#log = log;
    this.#now = now;
  }

  note(reason: UdpDropReason, address: string): void {
    this.#pending.set(reason, (this.#pending.get(reason) ?? 0) + 1);
    this.#lastAddress = address;
    if (this.#timer !== undefined) return;
    const wait = this.#lastLoggedAt + UDP_DROP_LOG_EVERY_MS - this.#now();
    if (wait <= 0) {
      this.#flush();
    } else {
      this.#timer = setTimeout(() => this.#flush(), wait);
      this.#timer.unref();
    }
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#flush();
  }

  #flush(): void {
    this.#timer = undefined;
    if (this.#pending.size === 0) return;
    this.#lastLoggedAt = this.#now();
    const dropped = Object.fromEntries(this.#pending);
    this.#pending.clear();
    this.#log.warn(
      { event: 'udp-dropped', dropped, lastAddress: this.#lastAddress, everyMs: UDP_DROP_LOG_EVERY_MS },
      'UDP packets dropped (counts since the previous line)',
    );
  }
}
