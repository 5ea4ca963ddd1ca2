import { describe, expect, it } from 'vitest';
import { agentSettingsSchema, defaultWarmupFor, MIN_THROUGHPUT_WINDOW_MS } from '../src/index.js';

const site = { name: 'S', kind: 'school', technology: 'fixed' };

describe('pushed agent settings', () => {
  it('take a warm-up that leaves at least 1 s of the test to measure, and refuse one that leaves less', () => {
    expect(agentSettingsSchema.parse({ version: 'v1', site, test: { durationMs: 3000, warmupMs: 2000 } }).test).toEqual({ durationMs: 3000, warmupMs: 2000 });
    expect(() => agentSettingsSchema.parse({ version: 'v1', site, test: { durationMs: 3000, warmupMs: 2500 } }, 'settings')).toThrow(/settings\.test\.warmupMs: must leave at least 1 s/);
  });

  it('default the warm-up to a quarter of the test, at most 2 s, always leaving 1 s', () => {
    expect([1000, 1200, 2000, 4000, 10_000, 60_000].map((d) => defaultWarmupFor(d))).toEqual([0, 200, 500, 1000, 2000, 2000]);
    for (let d = 1000; d <= 20_000; d += 250) expect(d - defaultWarmupFor(d)).toBeGreaterThanOrEqual(MIN_THROUGHPUT_WINDOW_MS);
  });
});

describe('pushed agent settings: a data budget', () => {
  it('take a monthly budget of 1 MB or more in a time zone the runtime knows', () => {
    const budget = { monthlyBytes: 10_000_000_000, timeZone: 'Asia/Ho_Chi_Minh' };
    expect(agentSettingsSchema.parse({ version: 'v1', site, budget }).budget).toEqual(budget);
    expect(() => agentSettingsSchema.parse({ version: 'v1', site, budget: { ...budget, monthlyBytes: 999_999 } }, 'settings')).toThrow(/settings\.budget\.monthlyBytes/);
    expect(() => agentSettingsSchema.parse({ version: 'v1', site, budget: { ...budget, timeZone: 'Mars/Olympus' } }, 'settings')).toThrow(/settings\.budget\.timeZone/);
    expect(() => agentSettingsSchema.parse({ version: 'v1', site, budget: { monthlyBytes: 10_000_000_000 } }, 'settings')).toThrow(/settings\.budget\.timeZone/);
  });
});

describe('pushed agent settings: the UDP probe', () => {
  it('take test.udp as true or false, and refuse anything else', () => {
    expect(agentSettingsSchema.parse({ version: 'v1', site, test: { udp: true } }).test).toEqual({ udp: true });
    expect(() => agentSettingsSchema.parse({ version: 'v1', site, test: { udp: 'on' } }, 'settings')).toThrow(/settings\.test\.udp/);
  });
});

describe('pushed agent settings: the stream ramp', () => {
  it('take test.maxStreams from 1 to 64, and refuse anything else', () => {
    expect(agentSettingsSchema.parse({ version: 'v1', site, test: { streams: 4, maxStreams: 16 } }).test).toEqual({ streams: 4, maxStreams: 16 });
    expect(() => agentSettingsSchema.parse({ version: 'v1', site, test: { maxStreams: 65 } }, 'settings')).toThrow(/settings\.test\.maxStreams/);
    expect(() => agentSettingsSchema.parse({ version: 'v1', site, test: { maxStreams: 2.5 } }, 'settings')).toThrow(/settings\.test\.maxStreams/);
  });
});
