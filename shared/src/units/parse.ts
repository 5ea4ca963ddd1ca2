/**
 * Durations and sizes as people write them on a command line (`10s`, `500ms`, `256MiB`),
 * turned into base units (milliseconds, bytes). Each parser returns `undefined` for text it
 * does not accept, so the caller can name the flag or key in its error; the `…_EXPECTED`
 * strings describe what is accepted.
 */

const DURATION_UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

const SIZE_UNITS_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

const DURATION_PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const SIZE_PATTERN = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

export const DURATION_EXPECTED = 'a duration with a unit, e.g. 500ms, 10s, 2m, 1h, 7d';
export const SIZE_EXPECTED = 'a size in bytes, optionally with a unit, e.g. 1048576, 100MB, 256MiB';

/**
 * Milliseconds in `text` (`500ms`, `1.5s`, `2m`, `1h`, `7d`). The unit is required unless the
 * caller names one for bare numbers (`bareUnit`, e.g. seconds for `--duration 10`), so that
 * `30` cannot mean 30 ms to one reader and 30 s to another. `undefined` when the text is not a
 * duration or is not a whole number of milliseconds.
 */
export function parseDurationMs(text: string, bareUnit?: 'ms' | 's'): number | undefined {
  const match = DURATION_PATTERN.exec(text.trim());
  if (match === null) return undefined;
  const [, amount, unit] = match;
  const scale = DURATION_UNITS_MS[unit ?? bareUnit ?? ''];
  if (amount === undefined || scale === undefined) return undefined;
  const ms = Number(amount) * scale;
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/**
 * Bytes in `text`: a bare number is bytes; `KB`/`MB`/`GB`/`TB` are powers of 1000 and
 * `KiB`/`MiB`/`GiB`/`TiB` powers of 1024 (case-insensitive). `undefined` when the text is
 * not a size or is not a whole number of bytes.
 */
export function parseSizeBytes(text: string): number | undefined {
  const match = SIZE_PATTERN.exec(text.trim());
  if (match === null) return undefined;
  const [, amount, unit] = match;
  const scale = unit === undefined || unit === '' ? 1 : SIZE_UNITS_BYTES[unit.toLowerCase()];
  if (amount === undefined || scale === undefined) return undefined;
  // 1.1KB is 1100 bytes, although 1.1 * 1000 is 1100.0000000000002 in floating point.
  const bytes = Math.round(Number(amount) * scale * 1e6) / 1e6;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
