import { ValidationError } from '../errors/speedwatch-error.js';
import type { Schema } from '../validate/schema.js';
import { array, boolean, custom, number, object, oneOf, optional, refine, string } from '../validate/schema.js';
import type { MeasurementMethod } from './librespeed-figure.js';
import { LIBRESPEED_OVERHEAD_FACTOR, MEASUREMENT_METHOD, MEASUREMENT_METHOD_PATTERN, methodVersion } from './librespeed-figure.js';
import type { MeasurementResult, ResultErrorCode } from './result.js';
import { BUDGET_ACTIONS, BUDGET_REASONS, PHASES, RESULT_ERROR_CODES, RESULT_SCHEMA_VERSION, RESULT_STATUSES, SELECTION_REASONS, TECHNOLOGIES } from './result.js';

// Generous bounds: they exist to refuse garbage, not to judge a measurement.
const MAX_MBPS = 1_000_000; // 1 Tbit/s
const MAX_MS = 86_400_000; // a day
const MAX_SAMPLES = 10_000;

const ms = number({ min: 0, max: MAX_MS });
const mbps = number({ min: 0, max: MAX_MBPS });
const bytes = number({ min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
const count = number({ min: 0, max: 1_000_000, integer: true });
const ratio = number({ min: 0, max: 1 });
const shortText = string({ minLength: 1, maxLength: 200 });
// Only codes of this version's registry: a collector older than its agents refuses a result
// whose code it does not know, so a release that adds a measurement code upgrades collectors first.
const code = custom('an error code a result can carry, like SW_CONNECT_REFUSED (docs/errors.md)', (value): value is ResultErrorCode =>
  (RESULT_ERROR_CODES as readonly unknown[]).includes(value),
);

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const isoText = string({ pattern: ISO_UTC, patternName: 'an ISO 8601 UTC timestamp like 2025-01-31T08:00:00.000Z' });
const timestamp: Schema<string> = {
  expected: isoText.expected,
  parse(value, path = '') {
    const text = isoText.parse(value, path);
    // The pattern admits impossible dates such as month 13.
    if (Number.isNaN(Date.parse(text))) throw new ValidationError(path, `${isoText.expected}, got ${JSON.stringify(text)}`);
    return text;
  },
};

const error = object({ phase: oneOf(PHASES), code, message: string({ maxLength: 2000 }) });

const method = custom('a method name like "speedwatch-3" (docs/measurement.md, "Method versions")', (value): value is MeasurementMethod =>
  typeof value === 'string' && MEASUREMENT_METHOD_PATTERN.test(value),
);

const throughput = object({
  mbps,
  librespeedMbps: optional(mbps),
  bytes,
  durationMs: ms,
  streams: number({ min: 1, max: 64, integer: true }),
  warmupMs: ms,
  totalBytes: bytes,
  sampleIntervalMs: number({ min: 1, max: MAX_MS }),
  samplesMbps: array(mbps, { maxItems: MAX_SAMPLES }),
  confirmedBy: optional(oneOf(['header', 'response'])),
  ramp: optional(object({ warmup: oneOf(['settled', 'limit', 'fixed'] as const), initialStreams: number({ min: 1, max: 64, integer: true }) })),
});

const port = number({ min: 1, max: 65_535, integer: true });
const udp = object({
  port,
  packetBytes: number({ min: 1, max: 65_507, integer: true }),
  intervalMs: number({ min: 0, max: MAX_MS }),
  sent: count,
  received: count,
  lossRatio: ratio,
  forwardLossRatio: ratio,
  returnLossRatio: ratio,
  duplicates: count,
  reordered: count,
  rttMinMs: ms,
  rttMedianMs: ms,
  rttP95Ms: ms,
  rttMaxMs: ms,
  forwardJitterMs: ms,
  returnJitterMs: ms,
});

const loaded = object({ count, medianMs: ms, p90Ms: ms, lossRatio: ratio });

const usage = object({
  bytes,
  rxBytes: bytes,
  txBytes: bytes,
  phases: object({ select: optional(bytes), latency: optional(bytes), udp: optional(bytes), download: optional(bytes), upload: optional(bytes) }),
  phaseMs: optional(object({ select: optional(ms), latency: optional(ms), udp: optional(ms), download: optional(ms), upload: optional(ms) })),
});

// A rate in bytes a second: up to 1 Tbit/s, as MAX_MBPS.
const bytesPerSec = number({ min: 0, max: MAX_MBPS * 125_000 });
const busyLine = object({
  interface: string({ minLength: 1, maxLength: 64 }),
  crossTrafficBytes: bytes,
  crossRxBytes: bytes,
  crossTxBytes: bytes,
  durationMs: ms,
  thresholdBytesPerSec: bytesPerSec,
  sampleMs: optional(ms),
  preTestBytesPerSec: optional(array(bytesPerSec, { maxItems: 100 })),
  flagged: boolean(),
});

const budget = object({
  monthlyBytes: bytes,
  month: string({ pattern: /^\d{4}-(0[1-9]|1[0-2])$/, patternName: 'a month as YYYY-MM' }),
  usedBytes: bytes,
  allowanceBytes: bytes,
  estimatedBytes: bytes,
  action: oneOf(BUDGET_ACTIONS),
  reason: oneOf(BUDGET_REASONS),
  skipped: optional(array(oneOf(['download', 'upload'] as const), { minItems: 1, maxItems: 2 })),
  durationMs: optional(ms),
  capBytes: optional(bytes),
  capped: optional(boolean()),
});

/**
 * Rounding lets `librespeedMbps` differ from `mbps` × 1.06 by 0.0005 (its own rounding) plus
 * 0.0005 × 1.06 (that of `mbps`); anything further is another figure.
 */
const LIBRESPEED_FIGURE_SLACK = 0.0011;

/**
 * Validates a MeasurementResult from the network or disk; unknown fields are errors. A result of
 * method `speedwatch-2` or `speedwatch-3` must carry `librespeedMbps` in each throughput phase, equal to `mbps` ×
 * 1.06 to 0.001: the collector's LibreSpeed-style verdicts derive it so from the stored payload
 * figure, so a result that says otherwise is refused rather than judged on a figure it did not report.
 */
export const measurementResultSchema: Schema<MeasurementResult> = refine(object({
  schemaVersion: oneOf([RESULT_SCHEMA_VERSION]),
  method: optional(method),
  id: string({ pattern: /^[A-Za-z0-9_-]{8,64}$/, patternName: 'an id of 8 to 64 letters, digits, - or _' }),
  status: oneOf(RESULT_STATUSES),
  startedAt: timestamp,
  finishedAt: timestamp,
  technology: optional(oneOf(TECHNOLOGIES)),
  endpoint: optional(
    object({
      name: shortText,
      url: string({ minLength: 1, maxLength: 2000 }),
      reason: oneOf(SELECTION_REASONS),
      candidates: optional(
        array(object({ name: shortText, medianMs: optional(ms), errorCode: optional(code) }), { maxItems: 100 }),
      ),
    }),
  ),
  clientIp: optional(string({ maxLength: 64 })),
  latency: optional(
    object({
      count,
      minMs: ms,
      medianMs: ms,
      meanMs: ms,
      p90Ms: ms,
      maxMs: ms,
      jitterMs: ms,
      lossRatio: ratio,
      connectMs: optional(ms),
      samplesMs: array(ms, { maxItems: MAX_SAMPLES }),
    }),
  ),
  udp: optional(udp),
  download: optional(throughput),
  upload: optional(throughput),
  loadedLatency: optional(object({ download: optional(loaded), upload: optional(loaded) })),
  error: optional(error),
  errors: optional(array(error, { maxItems: 100 })),
  agent: optional(object({ version: shortText, platform: shortText, arch: shortText, node: shortText })),
  usage: optional(usage),
  busyLine: optional(busyLine),
  budget: optional(budget),
}), (result, report) => {
  // The rule of the methods this code knows; a later one's figures are left to it.
  if (result.method === undefined || methodVersion(result.method) < 2 || methodVersion(result.method) > methodVersion(MEASUREMENT_METHOD)) return;
  for (const phase of ['download', 'upload'] as const) {
    const figures = result[phase];
    if (figures === undefined) continue;
    const expected = figures.mbps * LIBRESPEED_OVERHEAD_FACTOR;
    if (figures.librespeedMbps === undefined) report(`${phase}.librespeedMbps`, `a number in a result of method ${result.method} (mbps × ${LIBRESPEED_OVERHEAD_FACTOR}) (required)`);
    else if (Math.abs(figures.librespeedMbps - expected) > LIBRESPEED_FIGURE_SLACK) {
      report(`${phase}.librespeedMbps`, `mbps × ${LIBRESPEED_OVERHEAD_FACTOR} = ${expected.toFixed(3)} to 0.001 in a result of method ${result.method}, got ${figures.librespeedMbps}`);
    }
  }
});

export function parseMeasurementResult(value: unknown): MeasurementResult {
  return measurementResultSchema.parse(value, '');
}
