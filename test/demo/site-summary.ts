/**
 * What `npm start` tells a person about the demo's sites: one line each, with the latest test's
 * figures and the verdict over the collector's first window, read from /api/v1/agents (the
 * collector's own figures, not the logs). Pure, apart from the printer's output function.
 */
import { ValidationError } from '@speedwatch/shared';

/** One site as the summary shows it, narrowed from /api/v1/agents. */
export interface SiteStatus {
  id: string;
  name: string;
  area: string | null;
  technology: string;
  connected: boolean;
  latest: { id: string; status: string; downloadMbps: number | null; uploadMbps: number | null; latencyMs: number | null } | null;
  /** The verdict over the first window the collector judges; null before its first computation. */
  verdict: {
    window: string;
    verdict: string;
    /** Tests carrying a download figure, and the fewest a verdict needs. */
    tests: number;
    minTests: number;
    targetMbps: number;
    medianMbps: number | null;
  } | null;
}

type Json = Record<string, unknown>;

function object(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ValidationError(path, 'an object');
  return value as Json;
}
function text(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new ValidationError(path, 'a string');
  return value;
}
function num(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ValidationError(path, 'a number');
  return value;
}
function numOrNull(value: unknown, path: string): number | null {
  return value === null || value === undefined ? null : num(value, path);
}

/** The sites of an /api/v1/agents answer (other fields ignored); throws ValidationError (`SW_VALIDATION`) naming the first field it cannot read. */
export function parseAgents(answer: unknown): SiteStatus[] {
  const agents = object(answer, 'answer')['agents'];
  if (!Array.isArray(agents)) throw new ValidationError('agents', 'an array');
  return agents.map((value, i): SiteStatus => {
    const at = `agents[${i}]`;
    const a = object(value, at);
    const site = object(a['site'], `${at}.site`);
    const latest = a['latest'] === null ? null : object(a['latest'], `${at}.latest`);
    const verdicts = a['verdicts'];
    if (verdicts !== null && !Array.isArray(verdicts)) throw new ValidationError(`${at}.verdicts`, 'an array or null');
    const first = verdicts === null || verdicts.length === 0 ? null : object(verdicts[0], `${at}.verdicts[0]`);
    const download = first === null || first['download'] === undefined ? undefined : object(first['download'], `${at}.verdicts[0].download`);
    return {
      id: text(a['id'], `${at}.id`),
      name: text(site['name'], `${at}.site.name`),
      area: site['area'] === null ? null : text(site['area'], `${at}.site.area`),
      technology: text(site['technology'], `${at}.site.technology`),
      connected: a['connected'] === true,
      latest:
        latest === null
          ? null
          : {
              id: text(latest['id'], `${at}.latest.id`),
              status: text(latest['status'], `${at}.latest.status`),
              downloadMbps: numOrNull(latest['downloadMbps'], `${at}.latest.downloadMbps`),
              uploadMbps: numOrNull(latest['uploadMbps'], `${at}.latest.uploadMbps`),
              latencyMs: numOrNull(latest['latencyMs'], `${at}.latest.latencyMs`),
            },
      verdict:
        first === null
          ? null
          : {
              window: text(first['window'], `${at}.verdicts[0].window`),
              verdict: text(first['verdict'], `${at}.verdicts[0].verdict`),
              tests: download === undefined ? 0 : num(download['tests'], `${at}.verdicts[0].download.tests`),
              minTests: num(first['minTests'], `${at}.verdicts[0].minTests`),
              targetMbps: num(object(first['target'], `${at}.verdicts[0].target`)['minMbps'], `${at}.verdicts[0].target.minMbps`),
              medianMbps: download === undefined ? null : num(download['median'], `${at}.verdicts[0].download.median`),
            },
    };
  });
}

const one = (value: number | null): string => (value === null ? '–' : value.toFixed(1));

/** The verdict in words: "meets ≥102 Mbps", "below 42 Mbps", "too few tests (3/10)", … */
export function verdictWords(v: SiteStatus['verdict']): string {
  if (v === null) return 'verdict not computed yet';
  const median = v.medianMbps === null ? '' : ` (${v.window} median ${one(v.medianMbps)} Mbps of ${v.tests} test${v.tests === 1 ? '' : 's'})`;
  switch (v.verdict) {
    case 'meets':
      return `meets ≥${v.targetMbps} Mbps${median}`;
    case 'below':
      return `below ${v.targetMbps} Mbps${median}`;
    case 'insufficient-data':
      return `too few tests (${v.tests}/${v.minTests}) for a verdict`;
    case 'no-data':
      return `no test in ${v.window} yet`;
    default:
      return v.verdict;
  }
}

/** One line per site: name, area, technology, the latest test's figures (1 decimal), the verdict. */
export function summaryLines(sites: readonly SiteStatus[]): string[] {
  const nameWidth = Math.max(0, ...sites.map((s) => s.name.length));
  const areaWidth = Math.max(0, ...sites.map((s) => (s.area ?? '').length));
  const techWidth = Math.max(0, ...sites.map((s) => s.technology.length));
  return sites.map((s) => {
    const l = s.latest;
    const figures =
      l === null
        ? 'no test yet'
        : `down ${one(l.downloadMbps).padStart(5)}  up ${one(l.uploadMbps).padStart(5)} Mbps  latency ${one(l.latencyMs)} ms${l.status === 'ok' ? '' : ` (${l.status})`}`;
    return `  ${s.name.padEnd(nameWidth)}  ${(s.area ?? '').padEnd(areaWidth)}  ${s.technology.padEnd(techWidth)}  ${figures}  →  ${verdictWords(s.verdict)}`;
  });
}

/**
 * Prints the summary when it changes. A new result shows in /api/v1/agents at once and in the
 * verdicts at the collector's next maintenance pass; to print once per result rather than twice,
 * a new result whose verdict has not counted it yet is held until it has, or for `holdMs`.
 */
export class SummaryPrinter {
  readonly #holdMs: number;
  readonly #write: (text: string) => void;
  #text = '';
  #printed = new Map<string, { latestId: string | undefined; tests: number }>();
  #heldSince: number | undefined;

  constructor(holdMs: number, write: (text: string) => void) {
    this.#holdMs = holdMs;
    this.#write = write;
  }

  /** Sees the sites as of `now` (ms) and prints them if something a person would see changed. */
  update(sites: readonly SiteStatus[], now: number): void {
    // Before the first result there is nothing to say that the banner did not.
    if (sites.every((s) => s.latest === null)) return;
    const lines = summaryLines(sites);
    const text = lines.join('\n');
    if (text === this.#text) {
      this.#heldSince = undefined;
      return;
    }
    const behind = sites.some((s) => {
      const before = this.#printed.get(s.id);
      return s.latest !== null && s.latest.id !== before?.latestId && (s.verdict?.tests ?? 0) === (before?.tests ?? 0);
    });
    if (behind) {
      this.#heldSince ??= now;
      if (now - this.#heldSince < this.#holdMs) return;
    }
    this.#heldSince = undefined;
    this.#text = text;
    this.#printed = new Map(sites.map((s) => [s.id, { latestId: s.latest?.id, tests: s.verdict?.tests ?? 0 }]));
    const window = sites.find((s) => s.verdict !== null)?.verdict?.window;
    const time = new Date(now).toTimeString().slice(0, 8);
    this.#write(`[${time}] latest test per site${window === undefined ? '' : `; verdict over ${window}`}:\n${text}\n`);
  }
}
