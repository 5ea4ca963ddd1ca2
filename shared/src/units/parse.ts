/**
 * Human units for durations and sizes, as flags and config files write them
 * (`15m`, `500ms`, `100MB`, `8MiB`), turned into base units (ms, bytes).
 */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/**
 * Milliseconds from `10s`, `500ms`, `2m`, `1.5h`, `7d`; a bare number is in `bareUnit`.
 * Returns undefined for anything else (the caller names the flag in its error).
 */
export function parseDurationMs(text: string, bareUnit: 'ms' | 's' = 'ms'): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(text);
  if (match === null) return undefined;
  const unit = (match[2] ?? bareUnit).toLowerCase();
  const ms = Number(match[1]) * (DURATION_UNITS[unit] as number);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Bytes from `100MB`, `8MiB`, `512kb`, `1024`; undefined for anything else. */
export function parseSizeBytes(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?\s*$/i.exec(text);
  if (match === null) return undefined;
  const bytes = Math.round(Number(match[1]) * (SIZE_UNITS[(match[2] ?? 'b').toLowerCase()] as number));
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
