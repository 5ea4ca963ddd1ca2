/**
 * Representative samples (verdict-config `samples: { mode: representative }`), worked by hand:
 * a site's tests within an hour are one sample (their median), partial tests and downloads above
 * the contract by more than the margin are left out, failed tests are counted apart; the
 * minimum-sample rule counts samples.
 */
import { DEFAULT_TARGETS } from '@speedwatch/shared';
import { describe, expect, it } from 'vitest';
import type { AgentRecord, VerdictSample } from '../src/store/store-types.js';
import { DEFAULT_VERDICT_CONFIG, parseVerdictConfig } from '../src/verdict/verdict-config.js';
import type { VerdictConfig } from '../src/verdict/verdict-config.js';
import { agentVerdicts, groupVerdicts } from '../src/verdict/verdicts.js';

const NOW = Date.UTC(2026, 10, 20, 12); // 12:00 UTC, an hour boundary
const at = (hour: number, minute: number): number => Date.UTC(2026, 10, 20, hour, minute);

const config: VerdictConfig = {
  ...DEFAULT_VERDICT_CONFIG,
  targets: DEFAULT_TARGETS.map((t) => ({ ...t })),
  minTests: { agent: 3, group: 5 },
  samples: { mode: 'representative', bucketMs: 3_600_000, contractMargin: 0.1 },
};
const agents: AgentRecord[] = [
  { id: 's1', name: 'S1', siteKind: 'school', technology: 'fixed', area: 'P/D', contractMbps: 100, createdAt: 0 },
  { id: 's2', name: 'S2', siteKind: 'school', technology: 'fixed', area: 'P/D', createdAt: 0 },
];
const test = (agentId: string, ts: number, downloadMbps: number, uploadMbps?: number, status: VerdictSample['status'] = 'ok'): VerdictSample => ({
  agentId,
  ts,
  status,
  downloadMbps,
  ...(uploadMbps === undefined ? {} : { uploadMbps }),
});
const samples: VerdictSample[] = [
  // s1, 08:00–09:00: 90 96 99, one sample of median 96 (uploads 30 40 50: 40).
  test('s1', at(8, 5), 90, 30),
  test('s1', at(8, 20), 96, 40),
  test('s1', at(8, 40), 99, 50),
  // 09:00–10:00: 95, and 115 above 110 % of the 100 Mbps contract: left out. One sample, 95.
  test('s1', at(9, 10), 95),
  test('s1', at(9, 30), 115),
  // 10:00–11:00: a partial test (left out) and a failed one (counted apart): no sample.
  test('s1', at(10, 0), 80, undefined, 'partial'),
  test('s1', at(10, 30), 500, undefined, 'failed'),
  // 11:00–12:00: 70 74, one sample of median 72.
  test('s1', at(11, 0), 70),
  test('s1', at(11, 59), 74),
  // s2 has no contract: 300 stays. 08:00–09:00: 300 100, median 200; 09:00–10:00: 50.
  test('s2', at(8, 1), 300),
  test('s2', at(8, 2), 100),
  test('s2', at(9, 0), 50),
];

describe('representative samples', () => {
  it("judges a site on one sample per hour, without partial or implausible tests", () => {
    const [s1, s2] = agentVerdicts(agents, samples, NOW, config, '24h');
    // s1: samples 96 95 72; median 95, mean 263/3; 3 samples, the minimum: below 102.
    expect(s1).toMatchObject({ agentId: 's1', tests: 3, failedTests: 1, verdict: 'below' });
    expect(s1?.download?.median).toBe(95);
    expect(s1?.download?.mean).toBeCloseTo(263 / 3, 10);
    expect(s1?.download?.shareAtTarget).toBe(0);
    expect(s1?.upload).toEqual({ tests: 1, median: 40, mean: 40 });
    // s2: samples 200 50; 2 < 3.
    expect(s2).toMatchObject({ agentId: 's2', tests: 2, failedTests: 0, verdict: 'insufficient-data', download: { median: 125, mean: 125 } });
  });

  it('counts samples, not tests, in the minimum-sample rule of a group', () => {
    const [p] = groupVerdicts(agents, samples, NOW, config, 'area', '24h');
    // 50 72 95 96 200: median 95, mean 513/5 = 102.6, at ≥ 102: 200 only; 5 samples ≥ 5.
    expect(p).toMatchObject({ group: 'P', tests: 5, failedTests: 1, minTests: 5, verdict: 'below' });
    expect(p?.download).toEqual({ tests: 5, median: 95, mean: 102.6, shareAtTarget: 0.2 });
  });

  it('differs from judging every test, which the default does', () => {
    const [s1] = agentVerdicts(agents, samples, NOW, { ...config, samples: { mode: 'tests' } }, '24h');
    // Every ok and partial test: 90 96 99 95 115 80 70 74 → 70 74 80 90 95 96 99 115, median 92.5.
    expect(s1).toMatchObject({ tests: 8, failedTests: 1, download: { median: 92.5 } });
  });

  it("filters against the contract on the verdict's basis", () => {
    // Three hours of 100 and 105 Mbps of payload on a 100 Mbps contract (ceiling 110 Mbps).
    const tests = [8, 9, 10].flatMap((hour) => [test('s1', at(hour, 5), 100), test('s1', at(hour, 10), 105)]);
    // Payload: both stay, each hour's sample is 102.5.
    const [payload] = agentVerdicts(agents, tests, NOW, config, '24h');
    expect(payload).toMatchObject({ tests: 3, verdict: 'meets', download: { median: 102.5 } });
    // LibreSpeed-style: 105 shows as 111.3, above 110, and is left out; 100 shows as 106.
    const [librespeed] = agentVerdicts(agents, tests, NOW, { ...config, basis: 'librespeed' }, '24h');
    expect(librespeed).toMatchObject({ tests: 3, verdict: 'meets' });
    expect(librespeed?.download?.median).toBeCloseTo(106, 9);
  });

  it('is configured with a bucket and a margin, with defaults, and refuses them without the mode', () => {
    expect(parseVerdictConfig({ samples: { mode: 'representative' } }, 'verdicts').samples).toEqual({ mode: 'representative', bucketMs: 3_600_000, contractMargin: 0.1 });
    expect(parseVerdictConfig({ samples: { mode: 'representative', bucket: '15m', contractMargin: 0.25 } }, 'verdicts').samples).toEqual({ mode: 'representative', bucketMs: 900_000, contractMargin: 0.25 });
    expect(parseVerdictConfig({}, 'verdicts').samples).toBeUndefined();
    expect(() => parseVerdictConfig({ samples: { mode: 'tests', bucket: '1h' } }, 'verdicts')).toThrow(expect.objectContaining({ path: 'verdicts.samples.mode' }));
    expect(() => parseVerdictConfig({ samples: { mode: 'representative', bucket: '30s' } }, 'verdicts')).toThrow(expect.objectContaining({ path: 'verdicts.samples.bucket' }));
  });
});
