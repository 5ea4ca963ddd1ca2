/**
 * Verdicts as they cross from the maintenance thread to the serving thread: as JSON text, and
 * for agents only what changed since the last pass. Cloning every verdict object across threads
 * and rebuilding the maps stopped the serving thread for ~140 ms a refresh at 1 000 agents
 * (it grows with the fleet); strings cross as one copy, and the serving thread parses an agent's
 * verdicts only when something asks for them.
 */
import { createHash } from 'node:crypto';
import { roundVerdict } from '../api/rounding.js';
import type { AgentRecord } from '../store/store-types.js';
import type { VerdictConfig } from '../verdict/verdict-config.js';
import { agentVerdicts, GROUP_BY, groupVerdicts } from '../verdict/verdicts.js';
import type { SampleWindow } from '../verdict/sample-window.js';
import type { AgentVerdict, GroupBy, GroupVerdict } from '../verdict/verdicts.js';

/** Every verdict as of one moment, as objects. */
export interface VerdictSet {
  /** `now` of the computation, ms. */
  computedAt: number;
  agents: AgentVerdict[];
  groups: [GroupBy, GroupVerdict[]][];
}

/** One agent's verdicts, changed since the last snapshot. */
export interface AgentVerdictsText {
  agentId: string;
  /** JSON of its AgentVerdict[], window by window in config order. */
  json: string;
  /** Window → verdict, for metrics. */
  states: [window: string, verdict: string][];
}

/** What the maintenance thread sends the serving thread after each pass. */
export interface VerdictSnapshot {
  computedAt: number;
  /** True when `agents` holds every agent (the first pass of a maintenance thread): replace, do not merge. */
  full: boolean;
  /** Agents whose verdicts changed (every agent when `full`). */
  agents: AgentVerdictsText[];
  /** Agents that no longer have verdicts (revoked). */
  removed: string[];
  /** Per grouping and window, JSON of that window's GroupVerdict[], figures rounded for the API (api/rounding.ts). */
  groups: { groupBy: GroupBy; window: string; json: string }[];
}

/** Every verdict as of `now` from the window's samples (brought up to date by the caller). */
export function computeVerdicts(agents: readonly AgentRecord[], window: SampleWindow, now: number, config: VerdictConfig): VerdictSet {
  const samples = window.columns();
  return {
    computedAt: now,
    agents: agentVerdicts(agents, samples, now, config),
    groups: GROUP_BY.map((g) => [g, groupVerdicts(agents, samples, now, config, g)]),
  };
}

/** Turns each pass's VerdictSet into a snapshot of what changed; lives beside the computation. */
export class VerdictDiffer {
  readonly #windows: readonly string[];
  /** A digest of the JSON last sent per agent (the JSON itself, at 10 000 agents, is ~20 MB to keep). */
  #sent = new Map<string, string>();
  #first = true;

  constructor(windows: readonly string[]) {
    this.#windows = windows;
  }

  snapshot(set: VerdictSet): VerdictSnapshot {
    const byAgent = new Map<string, AgentVerdict[]>();
    for (const verdict of set.agents) {
      const list = byAgent.get(verdict.agentId);
      if (list === undefined) byAgent.set(verdict.agentId, [verdict]);
      else list.push(verdict);
    }
    const agents: AgentVerdictsText[] = [];
    const sent = new Map<string, string>();
    for (const [agentId, list] of byAgent) {
      const json = JSON.stringify(list);
      const digest = createHash('sha1').update(json).digest('base64');
      sent.set(agentId, digest);
      if (this.#sent.get(agentId) !== digest) agents.push({ agentId, json, states: list.map((v) => [v.window, v.verdict]) });
    }
    const removed = [...this.#sent.keys()].filter((id) => !sent.has(id));
    const full = this.#first;
    this.#sent = sent;
    this.#first = false;
    const groups = set.groups.flatMap(([groupBy, list]) =>
      // Only the API reads groups, so they cross already rounded for the wire (agents' verdicts feed the alerts too, at full precision).
      this.#windows.map((window) => ({ groupBy, window, json: JSON.stringify(list.filter((g) => g.window === window).map(roundVerdict)) })),
    );
    return { computedAt: set.computedAt, full, agents, removed, groups };
  }
}
