import { parseAll } from '@speedwatch/shared';
import { describe, expect, it } from 'vitest';
import { DEFAULT_VERDICT_CONFIG, parseVerdictConfig, verdictConfigSchema } from '../src/verdict/verdict-config.js';

const DAY = 86_400_000;

describe('DEFAULT_VERDICT_CONFIG', () => {
  it('holds the plan targets over 24h, 7d and 30d with the documented minimums, frozen all the way down', () => {
    expect(DEFAULT_VERDICT_CONFIG).toEqual({
      basis: 'payload',
      targets: [
        { technology: 'fixed', metric: 'download', minMbps: 102 },
        { technology: 'mobile', metric: 'download', minMbps: 42 },
      ],
      windows: [
        { name: '24h', ms: DAY },
        { name: '7d', ms: 7 * DAY },
        { name: '30d', ms: 30 * DAY },
      ],
      minTests: { agent: 10, group: 30, area: { 1: 300, 2: 300, 3: 300 } },
    });
    expect(Object.isFrozen(DEFAULT_VERDICT_CONFIG)).toBe(true);
    expect(Object.isFrozen(DEFAULT_VERDICT_CONFIG.targets[0])).toBe(true);
    expect(Object.isFrozen(DEFAULT_VERDICT_CONFIG.windows)).toBe(true);
    expect(Object.isFrozen(DEFAULT_VERDICT_CONFIG.minTests.area)).toBe(true);
  });
});

describe('parseVerdictConfig', () => {
  it('fills every key left out with its default', () => {
    const config = parseVerdictConfig({}, 'verdicts');
    expect(config).toEqual(DEFAULT_VERDICT_CONFIG);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('takes targets, windows and minimums as given, windows as durations or {name, ms}', () => {
    const config = parseVerdictConfig(
      {
        targets: [
          { technology: 'fixed', metric: 'download', minMbps: 100 },
          { technology: 'fixed', metric: 'upload', minMbps: 30 },
          { technology: 'fixed', metric: 'latency', maxMs: 25 },
          { technology: 'mobile', metric: 'download', minMbps: 0 },
        ],
        windows: ['1h', { name: 'week', ms: '7d' }, { name: 'month', ms: 30 * DAY }],
        minTests: { agent: 1, area: { 3: 50, 4: 20 } },
      },
      'verdicts',
    );
    expect(config.targets).toHaveLength(4);
    expect(config.windows).toEqual([
      { name: '1h', ms: 3_600_000 },
      { name: 'week', ms: 7 * DAY },
      { name: 'month', ms: 30 * DAY },
    ]);
    // `group` keeps its default; the given `area` replaces the default levels.
    expect(config.minTests).toEqual({ agent: 1, group: 30, area: { 3: 50, 4: 20 } });
    expect(Object.isFrozen(config.minTests.area)).toBe(true);
  });

  it.each<[string, unknown, string]>([
    ['not an object', 'strict', 'verdicts'],
    ['an unknown key', { colour: 'blue' }, 'verdicts.colour'],
    ['an unknown basis', { basis: 'line-rate' }, 'verdicts.basis'],
    ['a zero agent minimum', { minTests: { agent: 0 } }, 'verdicts.minTests.agent'],
    ['a fractional group minimum', { minTests: { group: 2.5 } }, 'verdicts.minTests.group'],
    ['a minimum as text', { minTests: { group: '30' } }, 'verdicts.minTests.group'],
    ['an area level beyond 4', { minTests: { area: { 5: 10 } } }, 'verdicts.minTests.area.5'],
    ['a negative target', { targets: [{ technology: 'fixed', metric: 'download', minMbps: -1 }] }, 'verdicts.targets[0].minMbps'],
    ['an unknown technology', { targets: [{ technology: 'satellite', metric: 'download', minMbps: 1 }] }, 'verdicts.targets[0].technology'],
    ['an unknown metric', { targets: [{ technology: 'fixed', metric: 'jitter', minMbps: 1 }] }, 'verdicts.targets[0].metric'],
    ['a latency target without maxMs', { targets: [{ technology: 'fixed', metric: 'latency', minMbps: 1 }] }, 'verdicts.targets[0].minMbps'],
    ['a latency target with no maximum', { targets: [{ technology: 'fixed', metric: 'latency' }] }, 'verdicts.targets[0].maxMs'],
    ['an empty target list', { targets: [] }, 'verdicts.targets'],
    [
      'a second download target for a technology',
      {
        targets: [
          { technology: 'fixed', metric: 'download', minMbps: 102 },
          { technology: 'mobile', metric: 'download', minMbps: 42 },
          { technology: 'fixed', metric: 'download', minMbps: 90 },
        ],
      },
      'verdicts.targets[2]',
    ],
    ['no download target for mobile', { targets: [{ technology: 'fixed', metric: 'download', minMbps: 102 }] }, 'verdicts.targets'],
    ['a window that is not a duration', { windows: ['soon'] }, 'verdicts.windows[0]'],
    ['a window of 0 ms', { windows: [{ name: 'none', ms: 0 }] }, 'verdicts.windows[0].ms'],
    ['a window without a name', { windows: [{ ms: 1000 }] }, 'verdicts.windows[0].name'],
    ['two windows of one name', { windows: ['24h', { name: '24h', ms: DAY }] }, 'verdicts.windows[1]'],
  ])('refuses %s, naming the key path', (_, value, path) => {
    let error: unknown;
    try {
      parseVerdictConfig(value, 'verdicts');
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'SW_VALIDATION', path });
  });

  it('leaves out tests on busy lines unless excludeCrossTraffic is false, and takes only a boolean', () => {
    expect(parseVerdictConfig({}, 'verdicts').excludeCrossTraffic).toBeUndefined();
    expect(parseVerdictConfig({ excludeCrossTraffic: false }, 'verdicts').excludeCrossTraffic).toBe(false);
    expect(parseVerdictConfig({ excludeCrossTraffic: true }, 'verdicts').excludeCrossTraffic).toBe(true);
    expect(() => parseVerdictConfig({ excludeCrossTraffic: 'no' }, 'verdicts')).toThrow(expect.objectContaining({ code: 'SW_VALIDATION', path: 'verdicts.excludeCrossTraffic' }));
  });

  it('lists every problem at once through its schema', () => {
    const outcome = parseAll(
      verdictConfigSchema,
      {
        targets: [{ technology: 'fixed', metric: 'download', minMbps: -1 }, { technology: 'fixed', metric: 'latency' }],
        windows: ['soon', { name: '', ms: 0 }],
        minTests: { agent: 0, colour: 1 },
      },
      'verdicts',
    );
    expect(outcome.problems.map((p) => p.path)).toEqual([
      'verdicts.targets[0].minMbps',
      'verdicts.targets[1].maxMs',
      'verdicts.windows[0]',
      'verdicts.windows[1].name',
      'verdicts.windows[1].ms',
      'verdicts.minTests.colour',
      'verdicts.minTests.agent',
    ]);
  });

  it('takes the basis as given, payload by default', () => {
    expect(parseVerdictConfig({ basis: 'librespeed' }, 'verdicts').basis).toBe('librespeed');
    expect(parseVerdictConfig({ basis: 'payload' }, 'verdicts').basis).toBe('payload');
    expect(parseVerdictConfig({}, 'verdicts').basis).toBe('payload');
  });

  it('names paths from the root when given an empty path', () => {
    expect(() => parseVerdictConfig({ minTests: { agent: -1 } }, '')).toThrow(expect.objectContaining({ path: 'minTests.agent' }));
  });
});
