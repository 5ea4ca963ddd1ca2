import { describe, expect, it } from 'vitest';
import { LIBRESPEED_OVERHEAD_FACTOR, librespeedStyleMbps, MEASUREMENT_METHOD, MEASUREMENT_METHOD_PATTERN } from '../src/index.js';

describe('librespeedStyleMbps', () => {
  // LibreSpeed displays bytes × 8 × 1.06 / time: the payload rate × 1.06, here to 0.001 Mbps.
  it.each([
    [97.55, 103.403], // a link shaped to 102 Mbit/s: 102 × 1448 / 1514 of payload
    [40.142, 42.551], // 42.55052
    [286.92, 304.135], // 304.1352
    [0, 0],
  ])('shows %d Mbps of payload as %d', (payload, shown) => {
    expect(librespeedStyleMbps(payload)).toBe(shown);
  });

  it("is LibreSpeed's default overhead factor", () => {
    expect(LIBRESPEED_OVERHEAD_FACTOR).toBe(1.06);
  });
});

describe('MEASUREMENT_METHOD', () => {
  it('names this method, and the pattern accepts it and later versions only', () => {
    expect(MEASUREMENT_METHOD).toBe('speedwatch-3');
    for (const name of [MEASUREMENT_METHOD, 'speedwatch-1', 'speedwatch-17']) expect(MEASUREMENT_METHOD_PATTERN.test(name)).toBe(true);
    for (const name of ['speedwatch-0', 'speedwatch-', 'speedwatch-2b', 'Speedwatch-2', 'librespeed', 'speedwatch-99999']) expect(MEASUREMENT_METHOD_PATTERN.test(name)).toBe(false);
  });
});
