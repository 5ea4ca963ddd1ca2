/**
 * STAMP test packets (RFC 8762, unauthenticated mode, with RFC 8972's SSID): what the agent's
 * UDP probe sends and the endpoint's reflector answers. Byte layouts only, no sockets, so both
 * sides share one definition (docs/endpoint.md, "UDP reflector").
 *
 * Session-Sender packet (at least 44 bytes):
 *   0 Sequence Number (u32) · 4 Timestamp (NTP, u64) · 12 Error Estimate (u16) · 14 SSID (u16) · 16 MBZ (28 bytes)
 * Session-Reflector packet (the same length as the packet it answers):
 *   0 Sequence Number (the reflector's own, per session) · 4 Timestamp (sent) · 12 Error Estimate · 14 SSID
 *   16 Receive Timestamp · 24 Session-Sender Sequence Number · 28 Session-Sender Timestamp
 *   36 Session-Sender Error Estimate · 38 MBZ · 40 Session-Sender TTL · 41 MBZ … to the end
 */

/** The smallest STAMP packet in either direction; shorter requests are dropped. */
export const STAMP_MIN_PACKET_BYTES = 44;

/**
 * The largest request a reflector answers: a UDP payload that fits a 1500-byte IPv4 packet
 * (1500 − 20 IP − 8 UDP). Larger ones are dropped: a reflector answers no jumbo datagrams.
 */
export const STAMP_MAX_PACKET_BYTES = 1472;

/** Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;
const TWO_32 = 4_294_967_296;

/**
 * Error Estimate (RFC 4656 §4.1.2): S = 0 (no external synchronisation: the probe only ever
 * takes differences of one clock's times), Z = 0 (NTP format), Scale 22 and Multiplier 1,
 * i.e. 2^22 × 2^−32 s ≈ 1 ms.
 */
export const STAMP_ERROR_ESTIMATE = (22 << 8) | 1;

/** Writes `unixMs` (milliseconds since 1970, fractions kept) as a 64-bit NTP timestamp at `offset`. */
export function writeNtpTimestamp(buf: Buffer, offset: number, unixMs: number): void {
  const wholeSeconds = Math.floor(unixMs / 1000);
  const fraction = Math.min(TWO_32 - 1, Math.round(((unixMs - wholeSeconds * 1000) / 1000) * TWO_32));
  buf.writeUInt32BE((wholeSeconds + NTP_UNIX_OFFSET_S) % TWO_32, offset);
  buf.writeUInt32BE(fraction, offset + 4);
}

/** Reads a 64-bit NTP timestamp at `offset` as Unix milliseconds (era 1, after February 2036, included). */
export function readNtpTimestamp(buf: Buffer, offset: number): number {
  const seconds = buf.readUInt32BE(offset);
  const fraction = buf.readUInt32BE(offset + 4);
  // Seconds below the 1970 offset can only be NTP era 1 (2036 onwards): no test predates 1970.
  const unixSeconds = seconds >= NTP_UNIX_OFFSET_S ? seconds - NTP_UNIX_OFFSET_S : seconds + TWO_32 - NTP_UNIX_OFFSET_S;
  return unixSeconds * 1000 + (fraction / TWO_32) * 1000;
}

/**
 * Fills `packet` (at least 44 bytes; the caller sizes it) as a Session-Sender packet:
 * sequence number, send time, error estimate and SSID, every other byte zero.
 */
export function writeSenderPacket(packet: Buffer, seq: number, sentUnixMs: number, ssid: number): void {
  packet.fill(0);
  packet.writeUInt32BE(seq >>> 0, 0);
  writeNtpTimestamp(packet, 4, sentUnixMs);
  packet.writeUInt16BE(STAMP_ERROR_ESTIMATE, 12);
  packet.writeUInt16BE(ssid & 0xffff, 14);
}

/** What a reflector's answer says. Times are Unix milliseconds of the clock that took them. */
export interface ReflectedPacket {
  /** The reflector's sequence number: how many packets of this session it had received before this one. */
  reflectorSeq: number;
  /** When the reflector sent the answer (T3). */
  sentUnixMs: number;
  /** When the reflector received the request (T2). */
  receivedUnixMs: number;
  /** The request's sequence number. */
  senderSeq: number;
  /** The request's timestamp, as the sender wrote it (T1). */
  senderUnixMs: number;
  ssid: number;
}

/** Reads a Session-Reflector packet; undefined when it is too short to be one. */
export function readReflectorPacket(packet: Buffer): ReflectedPacket | undefined {
  if (packet.length < STAMP_MIN_PACKET_BYTES) return undefined;
  return {
    reflectorSeq: packet.readUInt32BE(0),
    sentUnixMs: readNtpTimestamp(packet, 4),
    ssid: packet.readUInt16BE(14),
    receivedUnixMs: readNtpTimestamp(packet, 16),
    senderSeq: packet.readUInt32BE(24),
    senderUnixMs: readNtpTimestamp(packet, 28),
  };
}

/** The request's SSID (RFC 8972), which with its source address and port names a session. */
export function senderSsid(packet: Buffer): number {
  return packet.readUInt16BE(14);
}

/**
 * Turns a Session-Sender packet into the reflector's answer, in place: the answer is the
 * request's own buffer, so it can never be larger. Copies the request's sequence number,
 * timestamp and error estimate into the Session-Sender fields, writes the reflector's sequence
 * number and both of its times, keeps the SSID, and zeroes everything after the header, so no
 * byte the sender chose (beyond the echoed fields) is sent back. TTL is 0: a Node socket
 * cannot read the request's IP TTL. `packet` must hold at least 44 bytes.
 */
export function reflectInPlace(packet: Buffer, reflectorSeq: number, receivedUnixMs: number, sentUnixMs: number): void {
  const senderSeq = packet.readUInt32BE(0);
  const senderSeconds = packet.readUInt32BE(4);
  const senderFraction = packet.readUInt32BE(8);
  const senderErrorEstimate = packet.readUInt16BE(12);
  packet.writeUInt32BE(reflectorSeq >>> 0, 0);
  writeNtpTimestamp(packet, 4, sentUnixMs);
  packet.writeUInt16BE(STAMP_ERROR_ESTIMATE, 12);
  writeNtpTimestamp(packet, 16, receivedUnixMs);
  packet.writeUInt32BE(senderSeq, 24);
  packet.writeUInt32BE(senderSeconds, 28);
  packet.writeUInt32BE(senderFraction, 32);
  packet.writeUInt16BE(senderErrorEstimate, 36);
  packet.fill(0, 38);
}
