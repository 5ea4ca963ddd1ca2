/**
 * /api/v1/overview's answer built from verdicts computed by the real verdict functions over a
 * small fleet: the map's sites carry the verdict that counted them, their coordinates rounded,
 * and the sites that cannot be placed are still listed, with null coordinates.
 */
import { describe, expect, it } from 'vitest';
import { buildOverview } from '../src/api/overview.js';
import type { OverviewInputs } from '../src/api/overview.js';
import type { AgentRecord, VerdictSample } from '../src/store/store-types.js';
import { DEFAULT_VERDICT_CONFIG } from '../src/verdict/verdict-config.js';
import type { VerdictConfig } from '../src/verdict/verdict-config.js';
import { agentVerdicts, groupVerdicts } from '../src/verdict/verdicts.js';

const NOW = Date.UTC(2026, 10, 30, 5);
const HOUR = 3_600_000;
/** Three tests make a verdict, so each fixture site needs only a few. */
const CONFIG: VerdictConfig = { ...DEFAULT_VERDICT_CONFIG, minTests: { agent: 3, group: 3 } };

function agent(id: string, fields: Partial<AgentRecord> = {}): AgentRecord {
  return { id, name: `Trường ${id}`, siteKind: 'school', technology: 'fixed', area: 'Lạng Sơn/Cao Lộc/Hợp Thành', createdAt: 0, ...fields };
}

/** `count` tests an hour apart at `mbps`, the newest an hour old: inside every window. */
function tests(agentId: string, mbps: number, count: number): VerdictSample[] {
  return Array.from({ length: count }, (_, i) => ({ agentId, ts: NOW - (i + 1) * HOUR, status: 'ok' as const, downloadMbps: mbps }));
}

function overview(agents: readonly AgentRecord[], samples: readonly VerdictSample[], window = '24h'): ReturnType<typeof buildOverview> {
  const verdicts = agentVerdicts(agents, samples, NOW, CONFIG);
  const inputs: OverviewInputs = {
    window,
    windows: CONFIG.windows.map((w) => w.name),
    computedAt: NOW,
    timeZone: 'Asia/Ho_Chi_Minh',
    agents,
    agentVerdicts: (id) => verdicts.filter((v) => v.agentId === id),
    areaGroups: groupVerdicts(agents, samples, NOW, CONFIG, 'area', window),
    targets: CONFIG.targets,
    agentMinTests: CONFIG.minTests.agent,
  };
  return buildOverview(inputs);
}

describe('buildOverview', () => {
  describe('the map’s sites', () => {
    // Cao Lộc, by the border gate: Đồng Đăng is near 21.94 N, 106.70 E.
    const agents = [
      agent('meets', { lat: 21.942_049, lon: 106.703_651 }),
      agent('below', { lat: 21.85, lon: 106.76, technology: 'mobile' }),
      agent('rare', { lat: 21.9, lon: 106.8 }),
      agent('silent', { lat: 22.0, lon: 106.6 }),
      agent('nowhere'),
      agent('half-placed', { lat: 21.8 }),
      agent('revoked', { lat: 21.9, lon: 106.7, revokedAt: NOW - HOUR }),
    ];
    // 3 tests at 150 Mbps meet 102; 3 at 20 Mbps are below 42; 2 tests are fewer than 3.
    const samples = [...tests('meets', 150, 3), ...tests('below', 20, 3), ...tests('rare', 150, 2), ...tests('nowhere', 150, 3), ...tests('half-placed', 20, 3), ...tests('revoked', 150, 3)];
    const data = overview(agents, samples);

    it('lists every unrevoked site once, in agent order, with its own verdict over the window', () => {
      expect(data.sites.map((s) => [s.id, s.technology, s.verdict])).toEqual([
        ['meets', 'fixed', 'meets'],
        ['below', 'mobile', 'below'],
        ['rare', 'fixed', 'insufficient-data'],
        ['silent', 'fixed', 'no-data'],
        ['nowhere', 'fixed', 'meets'],
        ['half-placed', 'fixed', 'below'],
      ]);
      expect(data.sites[0]?.name).toBe('Trường meets');
    });

    it('gives the verdicts that the per-technology counts are made of', () => {
      for (const summary of data.technologies) {
        const own = data.sites.filter((s) => s.technology === summary.technology);
        const count = (verdict: string): number => own.filter((s) => s.verdict === verdict).length;
        expect({ sites: own.length, meets: count('meets'), below: count('below'), insufficientData: count('insufficient-data'), noData: count('no-data') }).toEqual({
          sites: summary.sites,
          meets: summary.meets,
          below: summary.below,
          insufficientData: summary.insufficientData,
          noData: summary.noData,
        });
      }
    });

    it('rounds coordinates to 4 decimals (about 11 m) and says so in precision', () => {
      expect(data.precision.degrees).toBe(4);
      expect(data.sites[0]).toMatchObject({ lat: 21.942, lon: 106.7037 });
      expect(data.sites[1]).toMatchObject({ lat: 21.85, lon: 106.76 });
    });

    it('keeps sites without both coordinates, with null ones, so the console can count them', () => {
      expect(data.sites.filter((s) => s.lat === null).map((s) => [s.id, s.lat, s.lon])).toEqual([
        ['nowhere', null, null],
        ['half-placed', null, null],
      ]);
    });

    it('judges the sites over the window asked for', () => {
      // A test 3 days old: in 7 d, not in 24 h.
      const old = [{ agentId: 'meets', ts: NOW - 72 * HOUR, status: 'ok' as const, downloadMbps: 150 }, ...tests('meets', 150, 2)];
      expect(overview([agents[0] as AgentRecord], old, '24h').sites[0]?.verdict).toBe('insufficient-data');
      expect(overview([agents[0] as AgentRecord], old, '7d').sites[0]?.verdict).toBe('meets');
    });
  });
});
