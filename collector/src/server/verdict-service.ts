/**
 * Verdicts as the running collector serves them. They are computed off the serving thread by
 * the maintenance (maintenance/maintenance-work.ts) and arrive as snapshots of JSON text
 * (verdict-snapshot.ts); this keeps the latest for the API and the alerts, parsing an agent's
 * verdicts only when asked for them, and mirrors each agent's verdict per window into metrics.
 */
import { roundVerdict } from '../api/rounding.js';
import type { CollectorMetrics } from '../metrics/collector-metrics.js';
import type { VerdictBasis, VerdictConfig } from '../verdict/verdict-config.js';
import { GROUP_BY } from '../verdict/verdicts.js';
import type { AgentVerdict, GroupBy, GroupVerdict } from '../verdict/verdicts.js';
import type { VerdictSnapshot } from './verdict-snapshot.js';

/** /api/v1/compliance's answer; `groups` is JSON text of the GroupVerdict[] asked for. */
export interface ComplianceText {
  /** When the verdicts were computed (ISO 8601); null before the first computation. */
  computedAt: string | null;
  /** The throughput figure the verdicts judge (`verdicts.basis`). */
  basis: VerdictBasis;
  groupBy: GroupBy;
  window: string | null;
  groupsJson: string;
}

interface AgentEntry {
  json: string;
  parsed?: AgentVerdict[];
  /** `parsed` rounded for the API: made once per change, not at every /api/v1/agents (~4 µs an agent). */
  rounded?: AgentVerdict[];
}

/** The latest verdicts, for the API, the alerts and metrics. */
export class VerdictService {
  readonly config: VerdictConfig;
  readonly params: { windows: readonly string[]; groupBy: readonly string[] };
  #computedAt: number | undefined;
  #agents = new Map<string, AgentEntry>();
  /** `${groupBy}\0${window}` → JSON of that window's GroupVerdict[]. */
  #groups = new Map<string, string>();
  /** Parsed entries of `#groups`, filled when asked for (the overview), emptied by each snapshot. */
  #parsedGroups = new Map<string, GroupVerdict[]>();

  constructor(config: VerdictConfig) {
    this.config = config;
    this.params = { windows: config.windows.map((w) => w.name), groupBy: GROUP_BY };
  }

  /** When the verdicts served were computed, ms; undefined before the first snapshot. */
  get computedAt(): number | undefined {
    return this.#computedAt;
  }

  /** Serves `snapshot` from now on and mirrors its agents' changes into `metrics`. */
  apply(snapshot: VerdictSnapshot, metrics: CollectorMetrics): void {
    if (snapshot.full) {
      const present = new Set(snapshot.agents.map((a) => a.agentId));
      for (const id of this.#agents.keys()) if (!present.has(id)) metrics.setAgentVerdicts(id, []);
      this.#agents = new Map();
    }
    for (const { agentId, json, states } of snapshot.agents) {
      this.#agents.set(agentId, { json });
      metrics.setAgentVerdicts(agentId, states);
    }
    for (const agentId of snapshot.removed) {
      this.#agents.delete(agentId);
      metrics.setAgentVerdicts(agentId, []);
    }
    this.#groups = new Map(snapshot.groups.map((g) => [`${g.groupBy}\u0000${g.window}`, g.json]));
    this.#parsedGroups = new Map();
    this.#computedAt = snapshot.computedAt;
    metrics.setTargets(this.config.targets);
  }

  /** The agent's verdicts, window by window; undefined before its first computation. */
  forAgent(agentId: string): AgentVerdict[] | undefined {
    const entry = this.#agents.get(agentId);
    if (entry === undefined) return undefined;
    // Written by VerdictDiffer from computed verdicts.
    entry.parsed ??= JSON.parse(entry.json) as AgentVerdict[];
    return entry.parsed;
  }

  /** The agent's verdicts with their figures rounded for the API (api/rounding.ts); undefined before its first computation. */
  forApi(agentId: string): readonly AgentVerdict[] | undefined {
    const entry = this.#agents.get(agentId);
    if (entry === undefined) return undefined;
    entry.rounded ??= (this.forAgent(agentId) ?? []).map(roundVerdict);
    return entry.rounded;
  }

  /** Compliance by grouping, for one window or all (in config order), as JSON text. */
  compliance(window: string | undefined, groupBy: string | undefined): ComplianceText {
    const by: GroupBy = (groupBy as GroupBy | undefined) ?? 'all';
    const windows = window === undefined ? this.params.windows : [window];
    const parts = windows.map((w) => this.#groups.get(`${by}\u0000${w}`) ?? '[]').filter((json) => json !== '[]');
    return {
      computedAt: this.#computedAt === undefined ? null : new Date(this.#computedAt).toISOString(),
      basis: this.config.basis ?? 'payload',
      groupBy: by,
      window: window ?? null,
      groupsJson: `[${parts.map((json) => json.slice(1, -1)).join(',')}]`,
    };
  }

  /** One window's group verdicts for a grouping, as objects (parsed once per snapshot); empty before the first. */
  groups(groupBy: GroupBy, window: string): readonly GroupVerdict[] {
    const key = `${groupBy}\u0000${window}`;
    let parsed = this.#parsedGroups.get(key);
    if (parsed === undefined) {
      // Written by VerdictDiffer from computed verdicts.
      parsed = JSON.parse(this.#groups.get(key) ?? '[]') as GroupVerdict[];
      this.#parsedGroups.set(key, parsed);
    }
    return parsed;
  }
}
