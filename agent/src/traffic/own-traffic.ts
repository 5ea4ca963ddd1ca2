/**
 * The test's own traffic, as the network interface carries it: every TCP socket the test opens
 * is watched (its payload byte counts) and the headers its packets carry are added by a model
 * (wireBytes below); the UDP probe adds its datagrams. What the budget counts against a
 * metered link, and what the cross-traffic check takes away from the interface's counters.
 *
 * Sockets are found through diagnostics channels rather than threaded through every measuring
 * function: `net.client.socket` (Node publishes every `net.connect`: our own connections and
 * undici's plain ones), `undici:client:connected` (undici's TLS connections), and
 * TLS_SOCKET_CHANNEL for the TLS connections the agent opens itself (raw-http-connection.ts).
 * So a meter counts every client socket of its process while it is open: one test per process
 * (`speedwatch-agent once`), as the daemon runs them.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type net from 'node:net';

/** Published with `{ socket }` for each TLS socket the agent opens with `tls.connect` (Node publishes only plain `net.connect`s). */
export const TLS_SOCKET_CHANNEL = 'speedwatch.agent.tls-socket';

/** Announces a TLS socket to the meters listening (raw-http-connection.ts). */
export function announceTlsSocket(socket: net.Socket): void {
  const channel = diagnosticsChannel.channel(TLS_SOCKET_CHANNEL);
  if (channel.hasSubscribers) channel.publish({ socket });
}

/** Received and sent bytes. */
export interface ByteCounts {
  rxBytes: number;
  txBytes: number;
}

/**
 * Bytes on the wire of one TCP connection that carried `payload` (its socket's counts), both
 * ways: full-size segments (MSS = 1500 − IP − 32 bytes of TCP header with timestamps), each with
 * `headerBytes` (Ethernet 14 + IP + TCP 32), one ACK for every two segments the other way, and
 * three packets each way to open and close. TLS adds its record framing (29 bytes a 16 KiB
 * record) and a handshake (about 4 kB of certificates in, 600 bytes out). An estimate: small
 * messages ride in packets of their own (the model counts 20 latency probes as 3 packets, about
 * 1 kB short), and an interface that counts offloaded super-packets (veth, GRO) sees fewer headers.
 */
export function wireBytes(payload: ByteCounts, family: 'IPv4' | 'IPv6', tls: boolean): ByteCounts {
  const ipBytes = family === 'IPv6' ? 40 : 20;
  const mss = 1500 - ipBytes - 32;
  const headerBytes = 14 + ipBytes + 32;
  let rx = payload.rxBytes;
  let tx = payload.txBytes;
  if (tls) {
    rx += Math.ceil(rx / 16_384) * 29 + 4000;
    tx += Math.ceil(tx / 16_384) * 29 + 600;
  }
  const rxSegments = Math.ceil(rx / mss);
  const txSegments = Math.ceil(tx / mss);
  return {
    rxBytes: rx + (rxSegments + Math.ceil(txSegments / 2) + 3) * headerBytes,
    txBytes: tx + (txSegments + Math.ceil(rxSegments / 2) + 3) * headerBytes,
  };
}

/** IPv4 + UDP headers and an Ethernet header, per datagram (IPv6 adds 20). */
export function datagramOverheadBytes(family: 'IPv4' | 'IPv6'): number {
  return 14 + (family === 'IPv6' ? 40 : 20) + 8;
}

/** Ethernet, IP and TCP (with timestamps) headers of one TCP packet: 66 bytes over IPv4, 86 over IPv6. */
export function tcpHeaderBytes(family: 'IPv4' | 'IPv6'): number {
  return 14 + (family === 'IPv6' ? 40 : 20) + 32;
}

interface Watched {
  socket: net.Socket;
  tls: boolean;
  family: 'IPv4' | 'IPv6' | undefined;
}

/**
 * Counts the traffic of every client socket its process opens from `start()` to `stop()`.
 * `snapshot()` may be taken at any time (phase boundaries).
 */
export class OwnTraffic {
  readonly #watched: Watched[] = [];
  readonly #seen = new WeakSet<net.Socket>();
  #datagrams: ByteCounts = { rxBytes: 0, txBytes: 0 };
  /** The datagrams as payload(): their bytes on the wire less a TCP packet's headers each. */
  #datagramPayload: ByteCounts = { rxBytes: 0, txBytes: 0 };
  #listening = false;

  readonly #onNet = (message: unknown): void => {
    this.#watch((message as { socket: net.Socket }).socket, false);
  };

  readonly #onTls = (message: unknown): void => {
    this.#watch((message as { socket: net.Socket }).socket, true);
  };

  readonly #onUndici = (message: unknown): void => {
    const socket = (message as { socket?: net.Socket }).socket;
    // Plain sockets came through net.client.socket already; undici's TLS ones come only here.
    if (socket !== undefined && 'encrypted' in socket) this.#watch(socket, true);
  };

  start(): this {
    if (this.#listening) return this;
    this.#listening = true;
    diagnosticsChannel.subscribe('net.client.socket', this.#onNet);
    diagnosticsChannel.subscribe(TLS_SOCKET_CHANNEL, this.#onTls);
    diagnosticsChannel.subscribe('undici:client:connected', this.#onUndici);
    return this;
  }

  /** Stops watching new sockets; the counts stay readable. */
  stop(): void {
    if (!this.#listening) return;
    this.#listening = false;
    diagnosticsChannel.unsubscribe('net.client.socket', this.#onNet);
    diagnosticsChannel.unsubscribe(TLS_SOCKET_CHANNEL, this.#onTls);
    diagnosticsChannel.unsubscribe('undici:client:connected', this.#onUndici);
  }

  /** Datagrams sent and received (with their UDP payload bytes), e.g. the UDP probe's. */
  addDatagrams(sent: number, received: number, payloadBytes: number, family: 'IPv4' | 'IPv6'): void {
    const size = payloadBytes + datagramOverheadBytes(family);
    this.#datagrams = { rxBytes: this.#datagrams.rxBytes + received * size, txBytes: this.#datagrams.txBytes + sent * size };
    const asPayload = size - tcpHeaderBytes(family);
    this.#datagramPayload = { rxBytes: this.#datagramPayload.rxBytes + received * asPayload, txBytes: this.#datagramPayload.txBytes + sent * asPayload };
  }

  /** The address family that carried most of the bytes counted (IPv4 when none did). */
  family(): 'IPv4' | 'IPv6' {
    let v4 = 0;
    let v6 = 0;
    for (const w of this.#watched) {
      w.family ??= familyOf(w.socket);
      const bytes = w.socket.bytesRead + w.socket.bytesWritten;
      if (w.family === 'IPv6') v6 += bytes;
      else v4 += bytes;
    }
    return v6 > v4 ? 'IPv6' : 'IPv4';
  }

  /** Sockets watched so far. */
  get sockets(): number {
    return this.#watched.length;
  }

  /** Everything counted so far, as the interface carries it (wireBytes). */
  snapshot(): ByteCounts {
    let rxBytes = this.#datagrams.rxBytes;
    let txBytes = this.#datagrams.txBytes;
    for (const w of this.#watched) {
      w.family ??= familyOf(w.socket);
      const wire = wireBytes({ rxBytes: w.socket.bytesRead, txBytes: w.socket.bytesWritten }, w.family ?? 'IPv4', w.tls);
      rxBytes += wire.rxBytes;
      txBytes += wire.txBytes;
    }
    return { rxBytes, txBytes };
  }

  /**
   * The payload counted so far, as the cross-traffic check subtracts it from the interface's
   * bytes less a TCP packet's headers for each packet the interface counted: the sockets' bytes
   * (with TLS framing), and each datagram's bytes on the wire less those headers.
   */
  payload(): ByteCounts {
    let rxBytes = this.#datagramPayload.rxBytes;
    let txBytes = this.#datagramPayload.txBytes;
    for (const w of this.#watched) {
      const rx = w.socket.bytesRead;
      const tx = w.socket.bytesWritten;
      rxBytes += w.tls ? rx + Math.ceil(rx / 16_384) * 29 : rx;
      txBytes += w.tls ? tx + Math.ceil(tx / 16_384) * 29 : tx;
    }
    return { rxBytes, txBytes };
  }

  #watch(socket: net.Socket, tls: boolean): void {
    if (this.#seen.has(socket)) return;
    this.#seen.add(socket);
    const watched: Watched = { socket, tls, family: familyOf(socket) };
    this.#watched.push(watched);
    // The peer's family is known once connected; after a close Node may no longer say it.
    if (watched.family === undefined) socket.once('connect', () => (watched.family ??= familyOf(socket)));
  }
}

function familyOf(socket: net.Socket): 'IPv4' | 'IPv6' | undefined {
  const family = socket.remoteFamily;
  return family === 'IPv6' || family === 'IPv4' ? family : undefined;
}
