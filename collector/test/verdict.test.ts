import { mean, median } from '@speedwatch/shared';
import type { ResultStatus, Technology } from '@speedwatch/shared';
import { describe, expect, it } from 'vitest';
import type { AgentRecord, VerdictSample } from '../src/store/store-types.js';
import { DEFAULT_VERDICT_CONFIG } from '../src/verdict/verdict-config.js';
import type { CollectorTarget, MinTests, VerdictBasis, VerdictConfig } from '../src/verdict/verdict-config.js';
import { agentVerdicts, groupVerdicts } from '../src/verdict/verdicts.js';
import type { GroupVerdict } from '../src/verdict/verdicts.js';

const NOW = Date.UTC(2025, 5, 30, 12);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Small minimums so that fixtures stay small; the defaults are tested with parseVerdictConfig. */
function config(minTests: Partial<MinTests> = {}, targets: readonly CollectorTarget[] = DEFAULT_VERDICT_CONFIG.targets): VerdictConfig {
  return { ...DEFAULT_VERDICT_CONFIG, targets, minTests: { agent: 3, group: 3, ...minTests } };
}

function agent(id: string, fields: Partial<AgentRecord> = {}): AgentRecord {
  return { id, name: id, siteKind: 'school', technology: 'fixed', createdAt: 0, ...fields };
}

/** A result `ageMs` before NOW (1 h by default, inside every window). */
function sample(agentId: string, downloadMbps: number | undefined, fields: Partial<VerdictSample> & { ageMs?: number } = {}): VerdictSample {
  const { ageMs = HOUR, ...rest } = fields;
  const out: VerdictSample = { agentId, ts: NOW - ageMs, status: 'ok', ...rest };
  if (downloadMbps !== undefined) out.downloadMbps = downloadMbps;
  return out;
}

function samples(agentId: string, downloads: readonly number[], fields: Partial<VerdictSample> & { ageMs?: number } = {}): VerdictSample[] {
  return downloads.map((mbps, i) => sample(agentId, mbps, { ageMs: HOUR + i * 60_000, ...fields }));
}

function only24h<T extends { window: string }>(rows: readonly T[]): T[] {
  return rows.filter((row) => row.window === '24h');
}

describe('agentVerdicts', () => {
  describe('judging the median download against the technology target', () => {
    // Three tests each: the middle one is the median, the others sit far on either side of it.
    it.each<[string, Technology, number, 'meets' | 'below']>([
      ['just above', 'fixed', 102.01, 'meets'],
      ['exactly at', 'fixed', 102, 'meets'],
      ['just below', 'fixed', 101.99, 'below'],
      ['just above', 'mobile', 42.01, 'meets'],
      ['exactly at', 'mobile', 42, 'meets'],
      ['just below', 'mobile', 41.99, 'below'],
    ])('a %s-target median on %s broadband (%d Mbps) %s', (_, technology, middle, verdict) => {
      const [row] = agentVerdicts([agent('a', { technology })], samples('a', [10, middle, 500]), NOW, config(), '24h');
      expect(row).toMatchObject({ agentId: 'a', window: '24h', technology, tests: 3, failedTests: 0, verdict });
      expect(row?.download?.median).toBe(middle);
      expect(row?.download?.mean).toBeCloseTo((510 + middle) / 3, 10);
      expect(row?.target).toEqual({ technology, metric: 'download', minMbps: technology === 'fixed' ? 102 : 42 });
      expect(row?.checks).toEqual([{ target: row?.target, tests: 3, minTests: 3, median: middle, verdict }]);
    });

    it('judges on the median, not the mean: one fast test does not lift a slow site', () => {
      // Mean (90 + 90 + 200) / 3 = 126.7 would meet 102; the median, 90, does not.
      const [row] = agentVerdicts([agent('a')], samples('a', [90, 200, 90]), NOW, config(), '24h');
      expect(row?.download).toMatchObject({ median: 90, shareAtTarget: 1 / 3 });
      expect(row?.download?.mean).toBeCloseTo(380 / 3, 10);
      expect(row?.verdict).toBe('below');
    });

    it.each<[number[], number, number, 'meets' | 'below']>([
      // values, median, share at or above 102 (102 itself counts), verdict
      [[101, 102, 103], 102, 2 / 3, 'meets'],
      [[100, 101, 102, 103], 101.5, 2 / 4, 'below'],
      [[100, 104, 104, 90], 102, 2 / 4, 'meets'], // even count: (100 + 104) / 2 = 102, exactly at target
      [[50, 60, 70], 60, 0, 'below'],
      [[102, 102, 102, 102, 102], 102, 1, 'meets'],
    ])('over %j: median %d, share at target %d, %s', (values, expectedMedian, share, verdict) => {
      const [row] = agentVerdicts([agent('a')], samples('a', values), NOW, config(), '24h');
      expect(row?.download?.median).toBe(expectedMedian);
      expect(row?.download?.shareAtTarget).toBe(share);
      expect(row?.verdict).toBe(verdict);
    });

    it('computes the same median and mean as @speedwatch/shared over many values', () => {
      let seed = 42;
      const random = (): number => ((seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32) * 300;
      const values = Array.from({ length: 1001 }, random);
      const [odd] = agentVerdicts([agent('a')], samples('a', values), NOW, config(), '30d');
      expect(odd?.download?.median).toBe(median(values));
      expect(odd?.download?.mean).toBeCloseTo(mean(values), 9);
      const [even] = agentVerdicts([agent('a')], samples('a', values.slice(1)), NOW, config(), '30d');
      expect(even?.download?.median).toBe(median(values.slice(1)));
    });
  });

  describe('counting tests', () => {
    it('reports no-data for a window without results', () => {
      const [row] = agentVerdicts([agent('a')], [], NOW, config(), '24h');
      expect(row).toEqual({
        agentId: 'a',
        window: '24h',
        technology: 'fixed',
        tests: 0,
        failedTests: 0,
        minTests: 3,
        target: { technology: 'fixed', metric: 'download', minMbps: 102 },
        checks: [{ target: { technology: 'fixed', metric: 'download', minMbps: 102 }, tests: 0, minTests: 3, verdict: 'no-data' }],
        verdict: 'no-data',
      });
    });

    it('reports insufficient-data with the count and the minimum when there are fewer tests than the minimum', () => {
      // Two tests well above target: still not a verdict with a minimum of 3.
      const [row] = agentVerdicts([agent('a')], samples('a', [150, 160]), NOW, config(), '24h');
      expect(row).toMatchObject({ tests: 2, minTests: 3, verdict: 'insufficient-data' });
      expect(row?.download).toMatchObject({ tests: 2, median: 155 });
      expect(row?.checks[0]).toMatchObject({ tests: 2, minTests: 3, median: 155, verdict: 'insufficient-data' });
    });

    it('leaves failed tests out of the figures but counts them, and counts partial results that have a download', () => {
      const input = [
        ...samples('a', [110, 120, 130]),
        sample('a', 95, { status: 'partial' }), // a partial result with a download figure counts
        sample('a', undefined, { status: 'partial', latencyMs: 12 }), // counts as a test, has no download
        sample('a', undefined, { status: 'failed' }),
        sample('a', undefined, { status: 'failed' }),
        sample('a', 1, { status: 'failed' }), // even a figure on a failed result is left out
      ];
      const [row] = agentVerdicts([agent('a')], input, NOW, config(), '24h');
      expect(row).toMatchObject({ tests: 5, failedTests: 3, verdict: 'meets' });
      // Downloads 95, 110, 120, 130: median (110 + 120) / 2 = 115, mean 455 / 4.
      expect(row?.download).toEqual({ tests: 4, median: 115, mean: 113.75, shareAtTarget: 3 / 4 });
      expect(row?.latency).toEqual({ tests: 1, median: 12, mean: 12 });
    });

    it('reports no-data, with the failed count, when only failed tests are in the window', () => {
      const input = [sample('a', undefined, { status: 'failed' })];
      const [row] = agentVerdicts([agent('a')], input, NOW, config(), '24h');
      expect(row).toMatchObject({ tests: 0, failedTests: 1, verdict: 'no-data' });
      expect(row).not.toHaveProperty('download');
    });
  });

  describe('windows', () => {
    it.each<[string, number, string[]]>([
      // sample at NOW - offset: the windows that count it (now - ms <= ts < now)
      ['exactly at now', 0, []],
      ['1 ms before now', 1, ['24h', '7d', '30d']],
      ['exactly at now - 24h', DAY, ['24h', '7d', '30d']],
      ['1 ms before now - 24h', DAY + 1, ['7d', '30d']],
      ['exactly at now - 7d', 7 * DAY, ['7d', '30d']],
      ['exactly at now - 30d', 30 * DAY, ['30d']],
      ['1 ms before now - 30d', 30 * DAY + 1, []],
    ])('a sample %s counts in %j', (_, ageMs, windows) => {
      const rows = agentVerdicts([agent('a')], [sample('a', 120, { ageMs })], NOW, config({ agent: 1 }));
      expect(rows.map((row) => row.window)).toEqual(['24h', '7d', '30d']);
      expect(rows.filter((row) => row.tests === 1 && row.download?.median === 120).map((row) => row.window)).toEqual(windows);
      expect(rows.filter((row) => row.tests === 0 && row.download === undefined)).toHaveLength(3 - windows.length);
    });

    it('orders rows by window, then agent, and computes only the window asked for', () => {
      const agents = [agent('b'), agent('a')];
      const all = agentVerdicts(agents, [], NOW, config());
      expect(all.map((row) => `${row.window}:${row.agentId}`)).toEqual(['24h:b', '24h:a', '7d:b', '7d:a', '30d:b', '30d:a']);
      expect(agentVerdicts(agents, [], NOW, config(), '7d').map((row) => row.window)).toEqual(['7d', '7d']);
    });

    it('refuses an unknown window name, naming the known ones', () => {
      expect(() => agentVerdicts([agent('a')], [], NOW, config(), '1y')).toThrow(
        expect.objectContaining({ code: 'SW_VALIDATION', path: 'window' }),
      );
    });
  });

  describe('upload and latency targets', () => {
    const targets: CollectorTarget[] = [
      { technology: 'fixed', metric: 'download', minMbps: 102 },
      { technology: 'fixed', metric: 'upload', minMbps: 40 },
      { technology: 'fixed', metric: 'latency', maxMs: 30 },
      { technology: 'mobile', metric: 'download', minMbps: 42 },
    ];

    it.each<[string, number[], (number | undefined)[], number[], 'meets' | 'below' | 'insufficient-data', string[]]>([
      // name, downloads, uploads, latencies, verdict, per-check verdicts (download, upload, latency)
      ['all three met', [110, 110, 110], [40, 41, 42], [30, 20, 10], 'meets', ['meets', 'meets', 'meets']],
      ['upload below', [110, 110, 110], [39, 39.99, 50], [10, 10, 10], 'below', ['meets', 'below', 'meets']],
      ['latency above its maximum', [110, 110, 110], [50, 50, 50], [30.01, 31, 5], 'below', ['meets', 'meets', 'below']],
      ['download below, others met', [100, 100, 100], [50, 50, 50], [5, 5, 5], 'below', ['below', 'meets', 'meets']],
      ['upload on too few tests', [110, 110, 110], [50, undefined, undefined], [5, 5, 5], 'insufficient-data', ['meets', 'insufficient-data', 'meets']],
      ['download below and upload on too few tests', [90, 90, 90], [50, undefined, undefined], [5, 5, 5], 'below', ['below', 'insufficient-data', 'meets']],
    ])('%s: %s', (_, downloads, uploads, latencies, verdict, checks) => {
      const input = downloads.map((downloadMbps, i) => {
        const s = sample('a', downloadMbps, { ageMs: HOUR + i, latencyMs: latencies[i] as number });
        const uploadMbps = uploads[i];
        if (uploadMbps !== undefined) s.uploadMbps = uploadMbps;
        return s;
      });
      const [row] = agentVerdicts([agent('a')], input, NOW, config({}, targets), '24h');
      expect(row?.verdict).toBe(verdict);
      expect(row?.checks.map((check) => check.target.metric)).toEqual(['download', 'upload', 'latency']);
      expect(row?.checks.map((check) => check.verdict)).toEqual(checks);
    });

    it('reports upload figures without a share when no upload target is set, and sets none for mobile here', () => {
      const input = [1, 2, 3].map((i) => ({ ...sample('m', 50, { ageMs: HOUR + i }), uploadMbps: 10 * i }));
      const [row] = agentVerdicts([agent('m', { technology: 'mobile' })], input, NOW, config({}, targets), '24h');
      expect(row?.upload).toEqual({ tests: 3, median: 20, mean: 20 });
      expect(row?.checks.map((check) => check.target.metric)).toEqual(['download']);
      expect(row?.verdict).toBe('meets');
    });
  });

  describe('the basis: payload, or the LibreSpeed-style figure (payload × 1.06)', () => {
    // A line shaped to 102 Mbit/s carries 97.55 Mbps of payload, which LibreSpeed shows as 103.403.
    const targets: CollectorTarget[] = [
      { technology: 'fixed', metric: 'download', minMbps: 102 },
      { technology: 'fixed', metric: 'upload', minMbps: 40 },
      { technology: 'fixed', metric: 'latency', maxMs: 30 },
      { technology: 'mobile', metric: 'download', minMbps: 42 },
    ];
    const input = [97, 97.55, 98].map((downloadMbps, i) => ({ ...sample('a', downloadMbps, { ageMs: HOUR + i }), uploadMbps: 38, latencyMs: 29 }));

    it.each<[VerdictBasis, number, number, number, number, string[]]>([
      // basis, download median, mean, share at 102, upload median, checks (download, upload, latency)
      ['payload', 97.55, (97 + 97.55 + 98) / 3, 0, 38, ['below', 'below', 'meets']],
      // 97 × 1.06 = 102.82, 97.55 × 1.06 = 103.403, 98 × 1.06 = 103.88; 38 × 1.06 = 40.28.
      ['librespeed', 103.403, ((97 + 97.55 + 98) / 3) * 1.06, 1, 40.28, ['meets', 'meets', 'meets']],
    ])('on %s: median %d, mean %d, share %d, upload %d; latency as measured', (basis, downMedian, downMean, share, upMedian, checks) => {
      const [row] = agentVerdicts([agent('a')], input, NOW, { ...config({}, targets), basis }, '24h');
      expect(row?.download?.median).toBeCloseTo(downMedian, 9);
      expect(row?.download?.mean).toBeCloseTo(downMean, 9);
      expect(row?.download?.shareAtTarget).toBe(share);
      expect(row?.upload?.median).toBeCloseTo(upMedian, 9);
      expect(row?.latency?.median).toBe(29);
      expect(row?.checks.map((check) => check.verdict)).toEqual(checks);
      expect(row?.checks[0]?.median).toBeCloseTo(downMedian, 9);
    });

    it.each<[number, 'meets' | 'below']>([
      // 102 / 1.06 = 96.2264 Mbps of payload is the LibreSpeed-style target.
      [96.2, 'below'], // 101.972
      [96.3, 'meets'], // 102.078
    ])('holds a payload median of %d against 102 as LibreSpeed shows it: %s', (middle, verdict) => {
      const [row] = agentVerdicts([agent('a')], samples('a', [10, middle, 500]), NOW, { ...config(), basis: 'librespeed' }, '24h');
      expect(row?.verdict).toBe(verdict);
    });

    it('is payload when the config does not say (configs built in code)', () => {
      const { basis: _, ...withoutBasis } = config({}, targets);
      const [row] = agentVerdicts([agent('a')], input, NOW, withoutBasis, '24h');
      expect(row?.download?.median).toBe(97.55);
    });

    it('applies to group figures as well', () => {
      const rows = groupVerdicts([agent('a'), agent('b')], [...input, ...samples('b', [90, 90, 90])], NOW, { ...config(), basis: 'librespeed' }, 'all', '24h');
      // 90 90 90 97 97.55 98, × 1.06: median (90 + 97) / 2 × 1.06 = 99.11.
      expect(rows[0]?.download?.median).toBeCloseTo(99.11, 9);
      expect(rows[0]?.verdict).toBe('below');
    });
  });

  describe('busy lines', () => {
    // Three quiet tests at 120 Mbps and two that ran beside other traffic at 40: the median of
    // all five is 120 too, so the two are put first to show which tests count.
    const input = [...samples('a', [40, 40], { busy: true }), ...samples('a', [120, 120, 120], { ageMs: 2 * HOUR })];

    it('leaves out the tests that ran on a busy line by default', () => {
      const [row] = agentVerdicts([agent('a')], input, NOW, config(), '24h');
      expect([row?.tests, row?.download?.median, row?.verdict]).toEqual([3, 120, 'meets']);
      expect(groupVerdicts([agent('a')], input, NOW, config(), 'all', '24h')[0]?.tests).toBe(3);
    });

    it('keeps them with excludeCrossTraffic: false', () => {
      const [row] = agentVerdicts([agent('a')], input, NOW, { ...config(), excludeCrossTraffic: false }, '24h');
      expect([row?.tests, row?.download?.median]).toEqual([5, 120]);
      expect(row?.download?.mean).toBe((40 + 40 + 120 * 3) / 5);
    });
  });

  it('leaves out revoked agents and samples of agents it was not given', () => {
    const agents = [agent('a'), agent('gone', { revokedAt: NOW - DAY })];
    const input = [...samples('a', [120, 120, 120]), ...samples('gone', [1, 1, 1]), ...samples('stranger', [1, 1, 1])];
    const rows = agentVerdicts(agents, input, NOW, config(), '24h');
    expect(rows.map((row) => [row.agentId, row.tests, row.verdict])).toEqual([['a', 3, 'meets']]);
  });
});

describe('groupVerdicts', () => {
  // Lạng Sơn / Cao Lộc district with two communes, Hợp Thành and Gia Cát.
  const HOP_THANH = 'Lạng Sơn/Cao Lộc/Hợp Thành';
  const GIA_CAT = 'Lạng Sơn/Cao Lộc/Gia Cát';
  const agents = [
    agent('ht-school', { area: HOP_THANH, isp: 'VNPT' }),
    agent('ht-clinic', { area: HOP_THANH, technology: 'mobile', siteKind: 'clinic', isp: 'Viettel' }),
    agent('gc-office', { area: GIA_CAT, siteKind: 'office', isp: 'VNPT' }),
    agent('gc-school', { area: GIA_CAT }),
    agent('gc-old', { area: GIA_CAT, revokedAt: NOW - 2 * DAY }),
    agent('nowhere', { siteKind: 'other' }),
  ];
  const input = [
    ...samples('ht-school', [110, 110, 110, 110]), // median 110
    ...samples('ht-clinic', [40, 45, 50]), // median 45, mobile
    ...samples('gc-office', [90, 90, 90, 90, 90]), // median 90
    ...samples('gc-school', [150]), // one test
    ...samples('gc-old', [500, 500, 500]), // revoked: must not lift Gia Cát
    ...samples('nowhere', [103, 104, 105]),
  ];

  function byGroup(rows: readonly GroupVerdict[]): Record<string, Partial<GroupVerdict>> {
    return Object.fromEntries(
      only24h(rows).map((row) => [
        `${row.group} ${row.technology}`,
        { tests: row.tests, median: row.download?.median, mean: row.download?.mean, agents: row.agents, verdict: row.verdict },
      ]),
    );
  }

  it('computes area figures over individual tests, at every level, one row per technology', () => {
    const rows = groupVerdicts(agents, input, NOW, config(), 'area');
    expect(only24h(rows).map((row) => [row.group, row.level, row.technology])).toEqual([
      ['(none)', undefined, 'fixed'],
      ['Lạng Sơn', 1, 'fixed'],
      ['Lạng Sơn', 1, 'mobile'],
      ['Lạng Sơn/Cao Lộc', 2, 'fixed'],
      ['Lạng Sơn/Cao Lộc', 2, 'mobile'],
      ['Lạng Sơn/Cao Lộc/Gia Cát', 3, 'fixed'],
      ['Lạng Sơn/Cao Lộc/Hợp Thành', 3, 'fixed'],
      ['Lạng Sơn/Cao Lộc/Hợp Thành', 3, 'mobile'],
    ]);
    expect(byGroup(rows)).toEqual({
      '(none) fixed': { tests: 3, median: 104, mean: 104, agents: 1, verdict: 'meets' },
      // Fixed tests of the district: 90×5, 110×4, 150 (10 tests). Sorted, the 5th and 6th are 90
      // and 110, so the median is 100: below 102. The median of the per-agent medians (90, 110,
      // 150) would be 110 and meet; the mean, (450 + 440 + 150) / 10 = 104, would meet too.
      'Lạng Sơn fixed': { tests: 10, median: 100, mean: 104, agents: 3, verdict: 'below' },
      'Lạng Sơn/Cao Lộc fixed': { tests: 10, median: 100, mean: 104, agents: 3, verdict: 'below' },
      // Mobile tests are judged apart, against 42: 40, 45, 50 → 45. Mixed with the fixed ones
      // against 102 the commune would read quite differently.
      'Lạng Sơn mobile': { tests: 3, median: 45, mean: 45, agents: 1, verdict: 'meets' },
      'Lạng Sơn/Cao Lộc mobile': { tests: 3, median: 45, mean: 45, agents: 1, verdict: 'meets' },
      // Gia Cát: 90×5 and 150 → 6 tests, median (90 + 90) / 2 = 90; the revoked agent's 500s are left out.
      'Lạng Sơn/Cao Lộc/Gia Cát fixed': { tests: 6, median: 90, mean: 100, agents: 2, verdict: 'below' },
      'Lạng Sơn/Cao Lộc/Hợp Thành fixed': { tests: 4, median: 110, mean: 110, agents: 1, verdict: 'meets' },
      'Lạng Sơn/Cao Lộc/Hợp Thành mobile': { tests: 3, median: 45, mean: 45, agents: 1, verdict: 'meets' },
    });
    const mobile = only24h(rows).find((row) => row.group === HOP_THANH && row.technology === 'mobile');
    expect(mobile?.target).toEqual({ technology: 'mobile', metric: 'download', minMbps: 42 });
  });

  it('takes the minimum for an area level when one is set, else the group minimum', () => {
    // Communes (level 3) need 5 tests: Hợp Thành's 4 fixed and 3 mobile are not enough, Gia Cát's 6 are.
    const rows = only24h(groupVerdicts(agents, input, NOW, config({ group: 3, area: { 3: 5 } }), 'area'));
    expect(rows.map((row) => [row.group, row.technology, row.minTests, row.verdict])).toEqual([
      ['(none)', 'fixed', 3, 'meets'],
      ['Lạng Sơn', 'fixed', 3, 'below'],
      ['Lạng Sơn', 'mobile', 3, 'meets'],
      ['Lạng Sơn/Cao Lộc', 'fixed', 3, 'below'],
      ['Lạng Sơn/Cao Lộc', 'mobile', 3, 'meets'],
      ['Lạng Sơn/Cao Lộc/Gia Cát', 'fixed', 5, 'below'],
      ['Lạng Sơn/Cao Lộc/Hợp Thành', 'fixed', 5, 'insufficient-data'],
      ['Lạng Sơn/Cao Lộc/Hợp Thành', 'mobile', 5, 'insufficient-data'],
    ]);
  });

  it('groups agents without an ISP under "(none)"', () => {
    expect(byGroup(groupVerdicts(agents, input, NOW, config(), 'isp'))).toEqual({
      // gc-school 150 and nowhere 103, 104, 105: median (104 + 105) / 2.
      '(none) fixed': { tests: 4, median: 104.5, mean: 115.5, agents: 2, verdict: 'meets' },
      'VNPT fixed': { tests: 9, median: 90, mean: 890 / 9, agents: 2, verdict: 'below' },
      'Viettel mobile': { tests: 3, median: 45, mean: 45, agents: 1, verdict: 'meets' },
    });
  });

  it('groups by technology, site kind and all', () => {
    expect(byGroup(groupVerdicts(agents, input, NOW, config(), 'technology'))).toEqual({
      // 90×5, 103, 104, 105, 110×4, 150: 13 tests, the 7th is 104.
      'fixed fixed': { tests: 13, median: 104, mean: 1352 / 13, agents: 4, verdict: 'meets' },
      'mobile mobile': { tests: 3, median: 45, mean: 45, agents: 1, verdict: 'meets' },
    });
    expect(Object.keys(byGroup(groupVerdicts(agents, input, NOW, config(), 'siteKind')))).toEqual([
      'clinic mobile',
      'office fixed',
      'other fixed',
      'school fixed',
    ]);
    expect(Object.keys(byGroup(groupVerdicts(agents, input, NOW, config(), 'all')))).toEqual(['all fixed', 'all mobile']);
  });

  it('gives every group of unrevoked agents a row, no-data when none of them reported', () => {
    const old = [...samples('ht-school', [110, 110, 110], { ageMs: 3 * DAY })];
    const rows = groupVerdicts([agent('ht-school', { area: HOP_THANH }), agent('gc-school', { area: GIA_CAT })], old, NOW, config(), 'area');
    const gc24 = rows.find((row) => row.window === '24h' && row.group === GIA_CAT);
    expect(gc24).toMatchObject({ agents: 1, agentsReporting: 0, tests: 0, verdict: 'no-data' });
    const district7d = rows.find((row) => row.window === '7d' && row.group === 'Lạng Sơn/Cao Lộc');
    expect(district7d).toMatchObject({ agents: 2, agentsReporting: 1, tests: 3, verdict: 'meets' });
  });

  it('counts failed tests of the group apart from its figures', () => {
    const rows = groupVerdicts(
      [agent('a'), agent('b')],
      [...samples('a', [120, 120]), sample('b', 120), sample('b', undefined, { status: 'failed' })],
      NOW,
      config(),
      'all',
      '24h',
    );
    expect(rows).toMatchObject([{ group: 'all', tests: 3, failedTests: 1, agentsReporting: 2, verdict: 'meets' }]);
  });
});

describe('statuses', () => {
  it('treats every ResultStatus other than failed as a test', () => {
    const statuses: ResultStatus[] = ['ok', 'partial', 'failed'];
    const input = statuses.map((status, i) => sample('a', 120, { status, ageMs: HOUR + i }));
    const [row] = agentVerdicts([agent('a')], input, NOW, config({ agent: 1 }), '24h');
    expect(row).toMatchObject({ tests: 2, failedTests: 1 });
  });
});
