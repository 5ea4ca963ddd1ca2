/**
 * Per-agent series, rendered straight to the Prometheus text format. With 10 000 agents these
 * are 100 000 lines, and prom-client's generic formatting of labelled gauges took ~300 ms a
 * scrape (npm run bench); here each agent's label set is escaped once, when the agent is
 * seen, and a scrape is string concatenation.
 */

/** The per-agent gauges, in the order they are rendered. */
export const AGENT_GAUGES = [
  ['speedwatch_agent_download_bytes_per_second', 'Download payload rate of the latest result, bytes/s.'],
  ['speedwatch_agent_upload_bytes_per_second', 'Upload payload rate of the latest result, bytes/s.'],
  ['speedwatch_agent_latency_seconds', 'Median idle latency of the latest result.'],
  ['speedwatch_agent_jitter_seconds', 'Jitter (mean absolute difference of consecutive pings) of the latest result.'],
  ['speedwatch_agent_latency_loss_ratio', 'Share of latency probes lost in the latest result.'],
  ['speedwatch_agent_download_loaded_latency_seconds', 'Median latency during the download phase (latency under load) of the latest result.'],
  ['speedwatch_agent_upload_loaded_latency_seconds', 'Median latency during the upload phase (latency under load) of the latest result.'],
  ['speedwatch_agent_last_result_timestamp_seconds', 'Start time of the latest result, Unix seconds.'],
  ['speedwatch_agent_connected', '1 while the agent holds a WebSocket connection to the collector.'],
] as const;

export type AgentGauge = 'download' | 'upload' | 'latency' | 'jitter' | 'loss' | 'downloadLoaded' | 'uploadLoaded' | 'lastResult' | 'connected';
const INDEX: Record<AgentGauge, number> = { download: 0, upload: 1, latency: 2, jitter: 3, loss: 4, downloadLoaded: 5, uploadLoaded: 6, lastResult: 7, connected: 8 };

export interface SiteLabelValues {
  agent_id: string;
  site_kind: string;
  technology: string;
  isp: string;
  area: string;
  /** Site coordinates (WGS 84 degrees), when the operator gave them: labels of speedwatch_agent_info, for map panels. */
  lat?: number;
  lon?: number;
}

interface AgentState {
  /** `agent_id="…",site_kind="…",…`, escaped. */
  labels: string;
  /** `agent_id="…"`, escaped. */
  idLabel: string;
  /** `,lat="…",lon="…"` or ''. */
  location: string;
  values: Float64Array;
  skewSeconds?: number;
  version?: string;
  /** Window name → verdict. */
  verdicts: Map<string, string>;
}

/** Label value escaping of the text format: backslash, double quote and newline. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function format(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

export class AgentSeries {
  readonly #agents = new Map<string, AgentState>();

  has(agentId: string): boolean {
    return this.#agents.has(agentId);
  }

  ids(): string[] {
    return [...this.#agents.keys()];
  }

  /** Adds the agent (or updates its labels); values start absent, `connected` at 0. */
  ensure(labels: SiteLabelValues): void {
    const rendered = `agent_id="${escapeLabel(labels.agent_id)}",site_kind="${escapeLabel(labels.site_kind)}",technology="${escapeLabel(labels.technology)}",isp="${escapeLabel(labels.isp)}",area="${escapeLabel(labels.area)}"`;
    const location = labels.lat !== undefined && labels.lon !== undefined ? `,lat="${format(labels.lat)}",lon="${format(labels.lon)}"` : '';
    const state = this.#agents.get(labels.agent_id);
    if (state !== undefined) {
      state.labels = rendered;
      state.location = location;
      return;
    }
    const values = new Float64Array(AGENT_GAUGES.length).fill(Number.NaN);
    values[INDEX.connected] = 0;
    this.#agents.set(labels.agent_id, { labels: rendered, idLabel: `agent_id="${escapeLabel(labels.agent_id)}"`, location, values, verdicts: new Map() });
  }

  set(agentId: string, gauge: AgentGauge, value: number): void {
    const state = this.#agents.get(agentId);
    if (state !== undefined) state.values[INDEX[gauge]] = value;
  }

  setSkew(agentId: string, seconds: number): void {
    const state = this.#agents.get(agentId);
    if (state !== undefined) state.skewSeconds = seconds;
  }

  setVersion(agentId: string, version: string): void {
    const state = this.#agents.get(agentId);
    if (state !== undefined) state.version = version;
  }

  /** Replaces every agent's verdicts (agents not listed keep none). */
  setVerdicts(verdicts: readonly { agentId: string; window: string; verdict: string }[]): void {
    for (const state of this.#agents.values()) state.verdicts.clear();
    for (const v of verdicts) this.#agents.get(v.agentId)?.verdicts.set(v.window, v.verdict);
  }

  remove(agentId: string): void {
    this.#agents.delete(agentId);
  }

  /** The text-format block of every per-agent family (HELP, TYPE, then one line per agent with a value). */
  render(): string {
    const out: string[] = [];
    AGENT_GAUGES.forEach(([name, help], index) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
      for (const state of this.#agents.values()) {
        const value = state.values[index] as number;
        if (!Number.isNaN(value)) out.push(`${name}{${state.labels}} ${format(value)}`);
      }
    });
    out.push("# HELP speedwatch_agent_clock_skew_seconds Agent clock minus collector clock at the agent's last hello.", '# TYPE speedwatch_agent_clock_skew_seconds gauge');
    for (const state of this.#agents.values()) if (state.skewSeconds !== undefined) out.push(`speedwatch_agent_clock_skew_seconds{${state.idLabel}} ${format(state.skewSeconds)}`);
    out.push('# HELP speedwatch_agent_info Agent metadata (version once it has said hello; lat and lon when the site has coordinates); always 1.', '# TYPE speedwatch_agent_info gauge');
    for (const state of this.#agents.values()) {
      if (state.version !== undefined || state.location !== '') {
        out.push(`speedwatch_agent_info{${state.idLabel}${state.version === undefined ? '' : `,version="${escapeLabel(state.version)}"`}${state.location}} 1`);
      }
    }
    out.push("# HELP speedwatch_agent_verdict 1 for the agent's current verdict per window (meets, below, insufficient-data, no-data).", '# TYPE speedwatch_agent_verdict gauge');
    for (const state of this.#agents.values()) {
      for (const [window, verdict] of state.verdicts) out.push(`speedwatch_agent_verdict{${state.idLabel},window="${escapeLabel(window)}",verdict="${escapeLabel(verdict)}"} 1`);
    }
    return `${out.join('\n')}\n`;
  }
}
