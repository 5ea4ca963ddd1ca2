import { describe, expect, it } from 'vitest';
import { checkResult, DEFAULT_TARGETS } from '../src/index.js';

const download = (mbps: number) => ({ download: { mbps, bytes: 1, durationMs: 1000, streams: 1, warmupMs: 0, totalBytes: 1, sampleIntervalMs: 200, samplesMbps: [] } });

describe('targets', () => {
  it('defaults to the plan: fixed download >= 102 Mbps, mobile download >= 42 Mbps', () => {
    expect(DEFAULT_TARGETS).toEqual([
      { technology: 'fixed', metric: 'download', minMbps: 102 },
      { technology: 'mobile', metric: 'download', minMbps: 42 },
    ]);
  });

  it.each([
    ['fixed', 102, 'meets'],
    ['fixed', 101.99, 'below'],
    ['mobile', 42, 'meets'],
    ['mobile', 41.9, 'below'],
  ] as const)('judges %s broadband at %d Mbps as %s (the target itself meets it)', (technology, mbps, verdict) => {
    const [check] = checkResult(download(mbps), technology);
    expect(check?.verdict).toBe(verdict);
    expect(check?.mbps).toBe(mbps);
  });

  it('says no-data when the result has no download', () => {
    expect(checkResult({}, 'mobile').map((c) => c.verdict)).toEqual(['no-data']);
  });
});
