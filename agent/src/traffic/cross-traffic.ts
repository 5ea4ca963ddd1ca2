/**
 * Cross traffic during a test: the payload the interface carried that was not the test's own,
 * each direction on its own. Interfaces count headers differently (a veth or a NIC with
 * segmentation offload counts one header for a 64 KB super-packet, a plain NIC one per frame),
 * so headers are taken off by the interface's own packet count: its bytes less one TCP packet's
 * headers for each packet it counted is the payload it carried, whatever size its packets were;
 * the test's sockets' byte counts (OwnTraffic.payload) are then exact. An ACK is all headers and
 * counts as nothing, on either side.
 */
import type { ByteCounts } from './own-traffic.js';
import type { InterfaceCounters } from './interface-counters.js';
import { countersDelta } from './interface-counters.js';

/**
 * The share of the test's own payload the count may be off by: bytes a stream wrote that were
 * still in its socket buffer when it closed (never sent), retransmissions (sent twice, written
 * once), datagrams with shorter headers. Cross traffic within it is not evidence of a busy line
 * (docs/measurement.md, "Busy lines").
 */
export const OWN_TRAFFIC_TOLERANCE = 0.01;

/**
 * Payload bytes through the interface between `before` and `after` that were not `ownPayload`,
 * per direction (never below 0), with `headerBytes` taken off for each packet counted.
 */
export function crossBytes(before: InterfaceCounters, after: InterfaceCounters, ownPayload: ByteCounts, headerBytes: number): ByteCounts {
  const moved = countersDelta(before, after);
  return {
    rxBytes: Math.max(0, Math.round(moved.rxBytes - headerBytes * moved.rxPackets - ownPayload.rxBytes)),
    txBytes: Math.max(0, Math.round(moved.txBytes - headerBytes * moved.txPackets - ownPayload.txBytes)),
  };
}

/**
 * Whether a test ran on a busy line by its own time: its cross traffic, less OWN_TRAFFIC_TOLERANCE
 * of its own payload, above `thresholdBytesPerSec` over `durationMs`.
 */
export function busyDuringTest(cross: number, ownPayloadBytes: number, durationMs: number, thresholdBytesPerSec: number): boolean {
  if (durationMs <= 0) return false;
  return ((cross - OWN_TRAFFIC_TOLERANCE * ownPayloadBytes) * 1000) / durationMs > thresholdBytesPerSec;
}
