import { describe, expect, it } from 'vitest';
import { bytesFromMbps, mbpsFromBytes, MIB, parseDurationMs, parseSizeBytes } from '../src/index.js';

describe('units', () => {
  it('counts 1 Mbps as 10^6 bit/s of payload', () => {
    // 12.5 MB in one second is 100 Mbit/s.
    expect(mbpsFromBytes(12_500_000, 1000)).toBe(100);
    expect(bytesFromMbps(102, 8000)).toBe(102_000_000);
    expect(mbpsFromBytes(1000, 0)).toBe(0);
    expect(MIB).toBe(1_048_576);
  });

  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['2m', 120_000],
    ['1.5h', 5_400_000],
    ['7d', 604_800_000],
    ['250', 250],
  ])('reads the duration %s as %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it('reads a bare duration in the unit the caller chose, and refuses nonsense', () => {
    expect(parseDurationMs('10', 's')).toBe(10_000);
    for (const bad of ['', 'ten', '-1s', '1 week', '1e3s']) expect(parseDurationMs(bad)).toBeUndefined();
  });

  it.each([
    ['100MB', 100_000_000],
    ['8MiB', 8 * 1024 * 1024],
    ['512kb', 512_000],
    ['1024', 1024],
    ['1GiB', 1024 ** 3],
  ])('reads the size %s as %d bytes', (text, bytes) => {
    expect(parseSizeBytes(text)).toBe(bytes);
  });

  it('refuses a size it cannot read', () => {
    for (const bad of ['', 'big', '-5MB', '5TB']) expect(parseSizeBytes(bad)).toBeUndefined();
  });
});
