/**
 * Verdicts as the running collector serves them: recomputed on the maintenance interval from
 * the samples of the longest window, held in memory and topped up from the store (SampleWindow),
 * cached for the API, and mirrored into metrics.
 */
import type { CollectorMetrics } from '../metrics/collector-metrics.js';
import type { Store } from '../store/store-types.js';
import { DEFAULT_VERDICT_CONFIG } from '../verdict/verdict-config.js';
import type { VerdictConfig } from '../verdict/verdict-config.js';
import { agentVerdicts, GROUP_BY, groupVerdicts } from '../verdict/verdicts.js';
import { SampleWindow } from '../verdict/sample-window.js';
import type { AgentVerdict, GroupBy, GroupVerdict } from '../verdict/verdicts.js';

export interface VerdictService {
  readonly config: VerdictConfig;
  readonly params: { windows: readonly string[]; groupBy: readonly string[] };
  /** Recomputes every verdict as of `now` and mirrors them into `metrics`. */
  refresh(now: number, metrics: CollectorMetrics): void;
  forAgent(agentId: string): AgentVerdict[] | undefined;
  compliance(window: string | undefined, groupBy: string | undefined): ComplianceReport;
}

export interface ComplianceReport {
  /** When the verdicts were computed (ISO 8601); null before the first computation. */
  computedAt: string | null;
  groupBy: GroupBy;
  window: string | null;
  groups: GroupVerdict[];
}

/** `config` is checked already: the collector configuration's `verdicts` (loadCollectorConfig). */
export function createVerdictService(store: Store, config: VerdictConfig = DEFAULT_VERDICT_CONFIG): VerdictService {
  let computedAt: number | undefined;
  let byAgent = new Map<string, AgentVerdict[]>();
  let byGroup = new Map<GroupBy, GroupVerdict[]>();
  const longestMs = Math.max(...config.windows.map((w) => w.ms));
  const window = new SampleWindow(store, longestMs);

  return {
    config,
    params: { windows: config.windows.map((w) => w.name), groupBy: GROUP_BY },
    refresh(now, metrics) {
      const agents = store.listAgents();
      window.update(now);
      const samples = window.columns();
      const perAgent = agentVerdicts(agents, samples, now, config);
      const nextByAgent = new Map<string, AgentVerdict[]>();
      for (const verdict of perAgent) {
        const list = nextByAgent.get(verdict.agentId) ?? [];
        list.push(verdict);
        nextByAgent.set(verdict.agentId, list);
      }
      byAgent = nextByAgent;
      byGroup = new Map(GROUP_BY.map((g) => [g, groupVerdicts(agents, samples, now, config, g)]));
      computedAt = now;
      metrics.setVerdicts(perAgent, config.targets);
    },
    forAgent: (agentId) => byAgent.get(agentId),
    compliance(window, groupBy) {
      const by: GroupBy = (groupBy as GroupBy | undefined) ?? 'all';
      const groups = (byGroup.get(by) ?? []).filter((g) => window === undefined || g.window === window);
      return { computedAt: computedAt === undefined ? null : new Date(computedAt).toISOString(), groupBy: by, window: window ?? null, groups };
    },
  };
}
