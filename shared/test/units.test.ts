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
});

describe('parseDurationMs', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['1.5s', 1_500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    [' 3s ', 3_000],
  ])('reads %j as %i ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it('reads a bare number in the unit the caller names, and refuses it otherwise', () => {
    expect(parseDurationMs('10', 's')).toBe(10_000);
    expect(parseDurationMs('250', 'ms')).toBe(250);
    expect(parseDurationMs('7d')).toBe(604_800_000);
    expect(parseDurationMs('10')).toBeUndefined();
  });

  it.each(['10', '', 's', '-1s', '1.5ms', '10 sec', '1e3ms', '10S'])('refuses %j', (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });
});

describe('parseSizeBytes', () => {
  it.each([
    ['1048576', 1_048_576],
    ['100MB', 100_000_000],
    ['256MiB', 268_435_456],
    ['1.1KB', 1_100],
    ['2 GiB', 2_147_483_648],
    ['64kib', 65_536],
    ['7B', 7],
  ])('reads %j as %i bytes', (text, bytes) => {
    expect(parseSizeBytes(text)).toBe(bytes);
  });

  it.each(['', 'MB', '-1', '1.5', '1.5B', '10 potatoes', '1e6'])('refuses %j', (text) => {
    expect(parseSizeBytes(text)).toBeUndefined();
  });
});
