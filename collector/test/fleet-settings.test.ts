import { agentSettingsSchema } from '@speedwatch/shared';
import { describe, expect, it } from 'vitest';
import { fleetConfigOf, fleetConfigSchema, settingsFor } from '../src/fleet/fleet-settings.js';
import type { AgentRecord } from '../src/store/store-types.js';

const agent = (id: string, area: string): AgentRecord => ({ id, name: id, siteKind: 'school', technology: 'fixed', area, createdAt: 0 });

describe('fleet settings: the UDP probe', () => {
  const config = fleetConfigOf(
    fleetConfigSchema.parse({
      defaults: { test: { udp: true } },
      overrides: [{ match: { area: 'Hà Nội' }, test: { udp: false, streams: 2 } }],
    }),
  );

  it('pushes test.udp from the defaults, and an override\'s value where it matches', () => {
    const caoLoc = settingsFor(config, agent('caoloc-1', 'Lạng Sơn/Cao Lộc'));
    const baDinh = settingsFor(config, agent('badinh-1', 'Hà Nội/Ba Đình'));
    expect(caoLoc.test).toEqual({ udp: true });
    expect(baDinh.test).toEqual({ streams: 2, udp: false });
    // What the agent will check the pushed settings against.
    expect(agentSettingsSchema.parse(structuredClone(caoLoc)).test?.udp).toBe(true);
  });

  it('changes the version when only test.udp changes', () => {
    const off = fleetConfigOf(fleetConfigSchema.parse({ defaults: { test: { udp: false } } }));
    expect(settingsFor(off, agent('caoloc-1', 'Lạng Sơn/Cao Lộc')).version).not.toBe(settingsFor(config, agent('caoloc-1', 'Lạng Sơn/Cao Lộc')).version);
  });

  it('refuses a test.udp that is not true or false', () => {
    expect(() => fleetConfigSchema.parse({ defaults: { test: { udp: 'yes' } } }, 'fleet')).toThrow(/fleet\.defaults\.test\.udp/);
  });
});

describe('fleet settings: the stream ramp', () => {
  it('pushes test.maxStreams to the sites it is given to, with a new version, and refuses one out of range', () => {
    const config = fleetConfigOf(fleetConfigSchema.parse({ defaults: { test: { duration: '10s' } }, overrides: [{ match: { area: 'Lạng Sơn' }, test: { maxStreams: 16, duration: '15s' } }] }));
    const far = settingsFor(config, agent('caoloc-1', 'Lạng Sơn/Cao Lộc'));
    const near = settingsFor(config, agent('badinh-1', 'Hà Nội/Ba Đình'));
    expect(far.test).toEqual({ durationMs: 15_000, maxStreams: 16 });
    expect(near.test).toEqual({ durationMs: 10_000 });
    expect(agentSettingsSchema.parse(structuredClone(far)).test?.maxStreams).toBe(16);
    expect(() => fleetConfigSchema.parse({ defaults: { test: { maxStreams: 0 } } }, 'fleet')).toThrow(/fleet\.defaults\.test\.maxStreams/);
  });
});

describe('fleet settings: a data budget', () => {
  const config = fleetConfigOf(
    fleetConfigSchema.parse({
      defaults: { interval: '15m' },
      overrides: [
        { match: { technology: 'mobile' }, budget: { monthly: '10GB' } },
        { match: { agent: 'mobile-2' }, budget: { monthly: 3_000_000_000 } },
      ],
    }),
    'Asia/Bangkok',
  );
  const mobile = (id: string): AgentRecord => ({ ...agent(id, 'Lạng Sơn/Cao Lộc'), technology: 'mobile' });

  it('pushes the budget where an override gives one, with the collector\'s time zone, the last override winning', () => {
    expect(settingsFor(config, mobile('mobile-1')).budget).toEqual({ monthlyBytes: 10_000_000_000, timeZone: 'Asia/Bangkok' });
    expect(settingsFor(config, mobile('mobile-2')).budget).toEqual({ monthlyBytes: 3_000_000_000, timeZone: 'Asia/Bangkok' });
    expect(agentSettingsSchema.parse(structuredClone(settingsFor(config, mobile('mobile-1')))).budget?.monthlyBytes).toBe(10_000_000_000);
  });

  it('pushes no budget key where none is set, so agents older than it keep their settings', () => {
    expect('budget' in settingsFor(config, agent('fixed-1', 'Hà Nội'))).toBe(false);
  });

  it('refuses a budget below 1 MB or not a size', () => {
    expect(() => fleetConfigSchema.parse({ defaults: { budget: { monthly: '10kB' } } }, 'fleet')).toThrow(/fleet\.defaults\.budget\.monthly/);
    expect(() => fleetConfigSchema.parse({ defaults: { budget: { monthly: 'lots' } } }, 'fleet')).toThrow(/fleet\.defaults\.budget\.monthly/);
  });
});
