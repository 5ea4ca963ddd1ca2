/**
 * Units used everywhere in speedwatch. Throughput is application payload: HTTP bodies only,
 * no TCP/IP or HTTP header overhead, and 1 Mbps = 10^6 bit/s (not 2^20).
 */

/** Bits per second in one Mbps. */
export const BITS_PER_MBPS = 1_000_000;
/** Bytes in one MiB, the unit of LibreSpeed's `ckSize`. */
export const MIB = 1_048_576;

/** Payload rate in Mbps of `bytes` moved in `durationMs` milliseconds; 0 when no time passed. */
export function mbpsFromBytes(bytes: number, durationMs: number): number {
  if (!(durationMs > 0)) return 0;
  return (bytes * 8) / (durationMs / 1000) / BITS_PER_MBPS;
}

/** Bytes that `mbps` moves in `durationMs` milliseconds. */
export function bytesFromMbps(mbps: number, durationMs: number): number {
  return (mbps * BITS_PER_MBPS * (durationMs / 1000)) / 8;
}

/** Rounds for display and storage: throughput to 0.01 Mbps, times to 0.001 ms. */
export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
