/**
 * Per-agent series, rendered straight to the Prometheus text format. With 10 000 agents these
 * are 140 000 lines (20 MB), and prom-client's generic formatting of labelled gauges took
 * ~300 ms a scrape (npm run bench); here each agent's label set is escaped once, when the agent
 * is seen, its lines are kept once formatted and encoded, and a scrape formats only the agents
 * whose values changed since the last one, then copies bytes (formatting, joining and encoding
 * every line took ~80 ms at 10 000 agents; copying the encoded lines, ~15 ms).
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

/**
 * The per-agent figures of the `health` message, labelled `agent_id` only (as the clock skew):
 * [name, TYPE, HELP]. Site labels come from a join with speedwatch_agent_connected, as the
 * shipped rules do; leaving them out keeps a 10 000-agent scrape about 8 MB smaller.
 */
export const HEALTH_FAMILIES = [
  ['speedwatch_agent_health_reported_timestamp_seconds', 'gauge', "When the collector received the agent's latest health report, Unix seconds."],
  ['speedwatch_agent_uptime_seconds', 'gauge', 'How long the agent daemon had been running, at its latest health report.'],
  ['speedwatch_agent_system_uptime_seconds', 'gauge', "How long the agent's box had been up since boot, at its latest health report."],
  ['speedwatch_agent_disk_free_bytes', 'gauge', "Bytes available in the file system of the agent's data directory, at its latest health report."],
  ['speedwatch_agent_cpu_temperature_celsius', 'gauge', "The agent's CPU temperature, at its latest health report (absent where the box has no sensor)."],
  ['speedwatch_agent_outbox_backlog_results', 'gauge', "Results in the agent's outbox not yet acked, at its latest health report."],
  ['speedwatch_agent_outbox_dropped_results_total', 'counter', "Results the agent's outbox dropped for lack of space, in total, as of its latest health report."],
  ['speedwatch_agent_failed_tests_in_a_row', 'gauge', "The agent's latest tests in a row whose status was failed (since its daemon started), at its latest health report."],
  ['speedwatch_agent_last_ok_test_timestamp_seconds', 'gauge', "When the agent's latest ok test finished (since its daemon started), Unix seconds, at its latest health report."],
] as const;

/**
 * The UDP quality families (docs/measurement.md, "UDP quality"), from the agent's newest result
 * that carried a `udp` section: [name, HELP, the extra label of each series]. Labelled with the
 * site as the gauges above; an agent that never sent one has none of these series. Up is the
 * way to the endpoint's reflector, down the way back.
 */
export const UDP_FAMILIES = [
  ['speedwatch_agent_udp_rtt_median_seconds', "Median round trip of the UDP probe's packets (less the time spent in the reflector), in the newest result with UDP quality.", ['']],
  ['speedwatch_agent_udp_rtt_p95_seconds', "95th percentile of the round trips of the UDP probe's packets (less the time spent in the reflector), in the newest result with UDP quality.", ['']],
  ['speedwatch_agent_udp_jitter_seconds', 'RFC 3550 interarrival jitter of the UDP probe per direction (up: to the reflector, down: back), in the newest result with UDP quality.', ['direction="up"', 'direction="down"']],
  ['speedwatch_agent_udp_loss_ratio', "Share of the UDP probe's packets lost per direction (up: on the way to the reflector, down: on the way back), in the newest result with UDP quality.", ['direction="up"', 'direction="down"']],
  ['speedwatch_agent_udp_round_trip_loss_ratio', "Share of the UDP probe's packets sent that got no answer in time, either way (with the losses after the last answer, which no direction can be told for), in the newest result with UDP quality.", ['']],
  ['speedwatch_agent_udp_last_result_timestamp_seconds', 'Start time of the newest result with UDP quality, Unix seconds.', ['']],
] as const;

/** The values of the UDP families' series, in base units (seconds, ratios 0..1, Unix seconds). */
export interface UdpValues {
  rttMedian: number;
  rttP95: number;
  jitterUp: number;
  jitterDown: number;
  lossUp: number;
  lossDown: number;
  lossRoundTrip: number;
  startedAt: number;
}

/** UdpValues' fields in the order of the UDP families' series. */
const UDP_ORDER = ['rttMedian', 'rttP95', 'jitterUp', 'jitterDown', 'lossUp', 'lossDown', 'lossRoundTrip', 'startedAt'] as const satisfies readonly (keyof UdpValues)[];

export type HealthFigure = 'reportedAt' | 'uptime' | 'systemUptime' | 'diskFree' | 'cpuTemperature' | 'backlog' | 'dropped' | 'failedInARow' | 'lastOkTest';
const HEALTH_INDEX: Record<HealthFigure, number> = { reportedAt: 0, uptime: 1, systemUptime: 2, diskFree: 3, cpuTemperature: 4, backlog: 5, dropped: 6, failedInARow: 7, lastOkTest: 8 };

/** An agent's health figures in base units (absent ones left out), and its last test's status. */
export interface HealthValues {
  figures: Partial<Record<HealthFigure, number>>;
  lastTestStatus?: string;
}

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
  /** HEALTH_FAMILIES' values, NaN where absent; undefined before the first report. */
  health?: Float64Array;
  lastTestStatus?: string;
  /** UDP_ORDER's values; undefined before the agent's first result with UDP quality. */
  udp?: Float64Array;
  /** The agent's lines of each family (FAMILY_HEADERS order), UTF-8, empty where it has none; undefined once a value changed. */
  lines?: Buffer[];
}

/** The families rendered per agent: the gauges, then clock skew, info, verdicts, the health figures, the last test's status and UDP quality. */
const SKEW = AGENT_GAUGES.length;
const INFO = SKEW + 1;
const VERDICT = INFO + 1;
const HEALTH = VERDICT + 1;
const LAST_TEST = HEALTH + HEALTH_FAMILIES.length;
const UDP = LAST_TEST + 1;
const FAMILY_COUNT = UDP + UDP_FAMILIES.length;
const FAMILY_HEADERS: readonly Buffer[] = [
  ...AGENT_GAUGES.map(([name, help]) => `# HELP ${name} ${help}\n# TYPE ${name} gauge\n`),
  "# HELP speedwatch_agent_clock_skew_seconds Agent clock minus collector clock at the agent's last hello.\n# TYPE speedwatch_agent_clock_skew_seconds gauge\n",
  '# HELP speedwatch_agent_info Agent metadata (version once it has said hello; lat and lon when the site has coordinates); always 1.\n# TYPE speedwatch_agent_info gauge\n',
  "# HELP speedwatch_agent_verdict 1 for the agent's current verdict per window (meets, below, insufficient-data, no-data).\n# TYPE speedwatch_agent_verdict gauge\n",
  ...HEALTH_FAMILIES.map(([name, type, help]) => `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`),
  "# HELP speedwatch_agent_last_test_status 1 for the status (ok, partial, failed) of the agent's latest test, at its latest health report.\n# TYPE speedwatch_agent_last_test_status gauge\n",
  ...UDP_FAMILIES.map(([name, help]) => `# HELP ${name} ${help}\n# TYPE ${name} gauge\n`),
].map((header) => Buffer.from(header));

/** Every line of one agent, by family, encoded (empty for a family where it has none). */
function agentLines(state: AgentState): Buffer[] {
  const lines = new Array<string>(FAMILY_COUNT);
  AGENT_GAUGES.forEach(([name], index) => {
    const value = state.values[index] as number;
    lines[index] = Number.isNaN(value) ? '' : `${name}{${state.labels}} ${format(value)}\n`;
  });
  lines[SKEW] = state.skewSeconds === undefined ? '' : `speedwatch_agent_clock_skew_seconds{${state.idLabel}} ${format(state.skewSeconds)}\n`;
  lines[INFO] =
    state.version === undefined && state.location === ''
      ? ''
      : `speedwatch_agent_info{${state.idLabel}${state.version === undefined ? '' : `,version="${escapeLabel(state.version)}"`}${state.location}} 1\n`;
  let verdicts = '';
  for (const [window, verdict] of state.verdicts) verdicts += `speedwatch_agent_verdict{${state.idLabel},window="${escapeLabel(window)}",verdict="${escapeLabel(verdict)}"} 1\n`;
  lines[VERDICT] = verdicts;
  HEALTH_FAMILIES.forEach(([name], index) => {
    const value = state.health?.[index] ?? Number.NaN;
    lines[HEALTH + index] = Number.isNaN(value) ? '' : `${name}{${state.idLabel}} ${format(value)}\n`;
  });
  lines[LAST_TEST] = state.lastTestStatus === undefined ? '' : `speedwatch_agent_last_test_status{${state.idLabel},status="${escapeLabel(state.lastTestStatus)}"} 1\n`;
  let series = 0;
  UDP_FAMILIES.forEach(([name, , labels], index) => {
    let text = '';
    for (const label of labels) {
      const value = state.udp?.[series++];
      if (value !== undefined) text += `${name}{${state.labels}${label === '' ? '' : `,${label}`}} ${format(value)}\n`;
    }
    lines[UDP + index] = text;
  });
  return lines.map((text) => (text === '' ? EMPTY : Buffer.from(text)));
}

const EMPTY = Buffer.alloc(0);

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
      if (state.labels !== rendered || state.location !== location) delete state.lines;
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
    if (state === undefined || Object.is(state.values[INDEX[gauge]], value)) return;
    state.values[INDEX[gauge]] = value;
    delete state.lines;
  }

  setSkew(agentId: string, seconds: number): void {
    const state = this.#agents.get(agentId);
    if (state === undefined || state.skewSeconds === seconds) return;
    state.skewSeconds = seconds;
    delete state.lines;
  }

  setVersion(agentId: string, version: string): void {
    const state = this.#agents.get(agentId);
    if (state === undefined || state.version === version) return;
    state.version = version;
    delete state.lines;
  }

  /** Replaces one agent's verdicts, window → verdict (an empty list: none). */
  setVerdicts(agentId: string, states: readonly (readonly [window: string, verdict: string])[]): void {
    const state = this.#agents.get(agentId);
    if (state === undefined) return;
    const windows = new Map<string, string>(states);
    if (sameEntries(state.verdicts, windows)) return;
    state.verdicts = windows;
    delete state.lines;
  }

  /** Replaces one agent's health figures (a new report). */
  setHealth(agentId: string, health: HealthValues): void {
    const state = this.#agents.get(agentId);
    if (state === undefined) return;
    const values = new Float64Array(HEALTH_FAMILIES.length).fill(Number.NaN);
    for (const [figure, value] of Object.entries(health.figures) as [HealthFigure, number][]) values[HEALTH_INDEX[figure]] = value;
    const same = state.health !== undefined && values.every((v, i) => Object.is(v, (state.health as Float64Array)[i]));
    if (same && state.lastTestStatus === health.lastTestStatus) return;
    state.health = values;
    if (health.lastTestStatus === undefined) delete state.lastTestStatus;
    else state.lastTestStatus = health.lastTestStatus;
    delete state.lines;
  }

  /** Replaces one agent's UDP quality figures (a newer result with them). */
  setUdp(agentId: string, udp: UdpValues): void {
    const state = this.#agents.get(agentId);
    if (state === undefined) return;
    const values = Float64Array.from(UDP_ORDER, (key) => udp[key]);
    if (state.udp !== undefined && values.every((v, i) => Object.is(v, (state.udp as Float64Array)[i]))) return;
    state.udp = values;
    delete state.lines;
  }

  remove(agentId: string): void {
    this.#agents.delete(agentId);
  }

  /** The text-format block of every per-agent family (HELP, TYPE, then one line per agent with a value), UTF-8. */
  render(): Buffer {
    const states = [...this.#agents.values()];
    let bytes = 0;
    for (const state of states) {
      state.lines ??= agentLines(state);
      for (const line of state.lines) bytes += line.length;
    }
    for (const header of FAMILY_HEADERS) bytes += header.length;
    const out = Buffer.allocUnsafe(bytes);
    let at = 0;
    for (let family = 0; family < FAMILY_COUNT; family++) {
      at += (FAMILY_HEADERS[family] as Buffer).copy(out, at);
      for (const state of states) at += ((state.lines as Buffer[])[family] as Buffer).copy(out, at);
    }
    return out;
  }
}

function sameEntries(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) if (b.get(key) !== value) return false;
  return true;
}
