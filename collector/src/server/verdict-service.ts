/**
 * Verdicts as the running collector serves them. They are computed off the serving thread by
 * the maintenance (maintenance/maintenance-work.ts, with `computeVerdicts`), from the samples of
 * the longest window held in memory there; the serving thread keeps the latest snapshot for
 * the API and the alerts, and mirrors it into metrics.
 */
import type { CollectorMetrics } from '../metrics/collector-metrics.js';
import type { AgentRecord } from '../store/store-types.js';
import type { VerdictConfig } from '../verdict/verdict-config.js';
import { agentVerdicts, GROUP_BY, groupVerdicts } from '../verdict/verdicts.js';
import type { SampleWindow } from '../verdict/sample-window.js';
import type { AgentVerdict, GroupBy, GroupVerdict } from '../verdict/verdicts.js';

/** Every verdict as of one moment: what the maintenance sends the serving thread. */
export interface VerdictSnapshot {
  /** `now` of the computation, ms. */
  computedAt: number;
  agents: AgentVerdict[];
  groups: [GroupBy, GroupVerdict[]][];
}

export interface ComplianceReport {
  /** When the verdicts were computed (ISO 8601); null before the first computation. */
  computedAt: string | null;
  groupBy: GroupBy;
  window: string | null;
  groups: GroupVerdict[];
}

/** Every verdict as of `now` from the window's samples (brought up to date by the caller). */
export function computeVerdicts(agents: readonly AgentRecord[], window: SampleWindow, now: number, config: VerdictConfig): VerdictSnapshot {
  const samples = window.columns();
  return {
    computedAt: now,
    agents: agentVerdicts(agents, samples, now, config),
    groups: GROUP_BY.map((g) => [g, groupVerdicts(agents, samples, now, config, g)]),
  };
}

/** The latest verdicts, for the API, the alerts and metrics. */
export class VerdictService {
  readonly config: VerdictConfig;
  readonly params: { windows: readonly string[]; groupBy: readonly string[] };
  #computedAt: number | undefined;
  #byAgent = new Map<string, AgentVerdict[]>();
  #byGroup = new Map<GroupBy, GroupVerdict[]>();

  constructor(config: VerdictConfig) {
    this.config = config;
    this.params = { windows: config.windows.map((w) => w.name), groupBy: GROUP_BY };
  }

  /** When the verdicts served were computed, ms; undefined before the first snapshot. */
  get computedAt(): number | undefined {
    return this.#computedAt;
  }

  /** Serves `snapshot` from now on and mirrors it into `metrics`. */
  apply(snapshot: VerdictSnapshot, metrics: CollectorMetrics): void {
    const byAgent = new Map<string, AgentVerdict[]>();
    for (const verdict of snapshot.agents) {
      const list = byAgent.get(verdict.agentId);
      if (list === undefined) byAgent.set(verdict.agentId, [verdict]);
      else list.push(verdict);
    }
    this.#byAgent = byAgent;
    this.#byGroup = new Map(snapshot.groups);
    this.#computedAt = snapshot.computedAt;
    metrics.setVerdicts(snapshot.agents, this.config.targets);
  }

  forAgent(agentId: string): AgentVerdict[] | undefined {
    return this.#byAgent.get(agentId);
  }

  compliance(window: string | undefined, groupBy: string | undefined): ComplianceReport {
    const by: GroupBy = (groupBy as GroupBy | undefined) ?? 'all';
    const groups = (this.#byGroup.get(by) ?? []).filter((g) => window === undefined || g.window === window);
    return { computedAt: this.#computedAt === undefined ? null : new Date(this.#computedAt).toISOString(), groupBy: by, window: window ?? null, groups };
  }
}
