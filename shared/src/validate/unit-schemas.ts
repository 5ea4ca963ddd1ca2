/** Schemas for durations and sizes written by people (`30s`, `1MiB`) or as plain base-unit numbers. */
import { ValidationError } from '../errors/speedwatch-error.js';
import { parseDurationMs, parseSizeBytes } from '../units/parse.js';
import type { Schema } from './schema.js';

/** Milliseconds, from `"30s"`/`"5m"` or a number of milliseconds, within [minMs, maxMs]. */
export function durationMs(minMs: number, maxMs: number): Schema<number> {
  const expected = `a duration from ${minMs} ms to ${maxMs} ms, like "30s" or "5m"`;
  return {
    expected,
    parse(value, path = '') {
      const ms = typeof value === 'number' ? value : typeof value === 'string' ? parseDurationMs(value) : undefined;
      if (ms === undefined || !Number.isFinite(ms) || ms < minMs || ms > maxMs) throw new ValidationError(path, `${expected}, got ${JSON.stringify(value)}`);
      return ms;
    },
  };
}

/** Bytes, from `"1MiB"`/`"100MB"` or a number of bytes, within [min, max]. */
export function sizeBytes(min: number, max: number): Schema<number> {
  const expected = `a size from ${min} to ${max} bytes, like "1MiB"`;
  return {
    expected,
    parse(value, path = '') {
      const bytes = typeof value === 'number' ? value : typeof value === 'string' ? parseSizeBytes(value) : undefined;
      if (bytes === undefined || !Number.isSafeInteger(bytes) || bytes < min || bytes > max) throw new ValidationError(path, `${expected}, got ${JSON.stringify(value)}`);
      return bytes;
    },
  };
}
