/**
 * The figure a LibreSpeed-style client displays beside speedwatch's payload figure, and the name
 * of the measurement method a result follows (docs/measurement.md, "The LibreSpeed-style figure"
 * and "Method versions").
 */
import { round } from '../units/units.js';

/**
 * LibreSpeed's default `overheadCompensationFactor` (speedtest_worker.js): its client displays
 * payload bytes × 8 × this factor over its time, to stand for the TCP/IP and HTTP headers the
 * payload does not count.
 */
export const LIBRESPEED_OVERHEAD_FACTOR = 1.06;

/**
 * What a LibreSpeed-style client would display for a transfer whose payload rate is
 * `payloadMbps`: that rate × 1.06, in Mbps to 0.001 (the precision of `mbps` itself).
 */
export function librespeedStyleMbps(payloadMbps: number): number {
  return round(payloadMbps * LIBRESPEED_OVERHEAD_FACTOR, 3);
}

/** A measurement method's name: `speedwatch-` and its version number. */
export type MeasurementMethod = `speedwatch-${number}`;

/** Accepts every method name of this form, future versions included: a collector never refuses a newer agent's method. */
export const MEASUREMENT_METHOD_PATTERN = /^speedwatch-[1-9][0-9]{0,3}$/;

/**
 * The method this code measures by (docs/measurement.md, "Method versions"): `speedwatch-3`,
 * `speedwatch-2` (pipelined uploads, soft window edges, held-back bytes attributed to their
 * pause, latency over a bare socket, `librespeedMbps` = `librespeedStyleMbps(mbps)` in each
 * throughput phase) with warm-up and streams that adapt to the line, recorded in `ramp`.
 */
export const MEASUREMENT_METHOD: MeasurementMethod = 'speedwatch-3';

/** The version number of a method name (`speedwatch-3` → 3). */
export function methodVersion(method: MeasurementMethod): number {
  return Number(method.slice('speedwatch-'.length));
}
