/**
 * What a verdict is judged against: the targets per technology, the time windows, and how many
 * tests a verdict needs. `DEFAULT_VERDICT_CONFIG` is the plan's targets over 24 h, 7 d and 30 d;
 * `verdictConfigSchema` turns a config file's `unknown` into a checked, frozen `VerdictConfig`.
 * The rules and the reasons for the defaults are in docs/verdicts.md.
 */
import {
  DEFAULT_TARGETS,
  DURATION_EXPECTED,
  LIBRESPEED_OVERHEAD_FACTOR,
  TECHNOLOGIES,
  ValidationError,
  array,
  boolean,
  deepFreeze,
  keyPath,
  number,
  object,
  oneOf,
  optional,
  parseDurationMs,
  refine,
  select,
  string,
  transform,
} from '@speedwatch/shared';
import type { Report, Schema, Target, Technology } from '@speedwatch/shared';

/** A latency target: the median round-trip time must be at most `maxMs`. */
export interface LatencyTarget {
  technology: Technology;
  metric: 'latency';
  /** Round-trip time in milliseconds (<=). */
  maxMs: number;
}

/** A throughput target (`minMbps`, >=) from `@speedwatch/shared`, or a latency target (`maxMs`, <=). */
export type CollectorTarget = Target | LatencyTarget;

export type VerdictMetric = CollectorTarget['metric'];

/** A window ending at `now`: a sample counts when `now - ms <= ts < now`. */
export interface VerdictWindow {
  /** How reports name it, e.g. `24h`. Unique within a config. */
  name: string;
  /** Length in milliseconds. */
  ms: number;
}

/** Area levels: 1 province, 2 district, 3 commune, 4 below a commune. */
export type AreaLevel = 1 | 2 | 3 | 4;

/**
 * The fewest tests (per metric) a verdict needs, in any window. A count, not a rate: how far a
 * median can be trusted depends on how many tests it is taken over, not on how long they took.
 */
export interface MinTests {
  /** For one agent. */
  agent: number;
  /** For a group of agents (any `groupBy`), unless `area` names a level. */
  group: number;
  /** For an area group at this level (number of path segments); a level not listed uses `group`. */
  area?: Partial<Record<AreaLevel, number>>;
}

/**
 * What a verdict's figures are taken over: every test (the default), or representative samples
 * the way VNNIC builds an area's figure: a site's tests within one `bucketMs` count as one sample
 * (their median), only `ok` tests count, and a test whose download is above the site's contracted
 * speed by more than `contractMargin` (a share: 0.1 is 10 %) is left out as implausible.
 */
export type SampleRule = { mode: 'tests' } | { mode: 'representative'; bucketMs: number; contractMargin: number };

/**
 * Which throughput figure verdicts judge (docs/verdicts.md, "Basis"): `payload`, the payload
 * goodput each result reports as `mbps`; or `librespeed`, that figure × 1.06, what a
 * LibreSpeed-style client shows for the same transfer (each result's `librespeedMbps`).
 */
export const VERDICT_BASES = ['payload', 'librespeed'] as const;
export type VerdictBasis = (typeof VERDICT_BASES)[number];

export interface VerdictConfig {
  /**
   * The throughput figure judged against `minMbps`, reported in the figures and filtered against
   * a contract. Absent: `payload` (the parser always sets it).
   */
  basis?: VerdictBasis;
  /** Exactly one download target per technology; at most one upload and one latency target per technology. */
  targets: readonly CollectorTarget[];
  /** In report order; names unique. */
  windows: readonly VerdictWindow[];
  minTests: MinTests;
  /** Absent: every test (`{ mode: 'tests' }`). */
  samples?: SampleRule;
  /**
   * Leave out the tests that ran on a busy line (their result's `busyLine.flagged`: cross traffic
   * above the agent's threshold, docs/verdicts.md "Busy lines"). Absent: true.
   */
  excludeCrossTraffic?: boolean;
}

/** Representative samples' defaults: one sample per site and hour; 10 % above the contract is implausible. */
export const REPRESENTATIVE_DEFAULTS = Object.freeze({ bucketMs: 3_600_000, contractMargin: 0.1 });

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * The plan's targets (download >= 102 Mbps fixed, >= 42 Mbps mobile) over 24 h, 7 d and 30 d.
 * Minimum tests: 10 for an agent (2.5 hours of tests at one every 15 minutes), 30 for a group,
 * and 300 for a province, district or commune: VNNIC publishes a commune's figure only from
 * 300 samples a month, and an area containing a commune is held to no lower bar. Frozen.
 */
export const DEFAULT_VERDICT_CONFIG: VerdictConfig = deepFreeze({
  basis: 'payload',
  targets: DEFAULT_TARGETS.map((target) => ({ ...target })),
  windows: [
    { name: '24h', ms: DAY_MS },
    { name: '7d', ms: 7 * DAY_MS },
    { name: '30d', ms: 30 * DAY_MS },
  ],
  minTests: { agent: 10, group: 30, area: { 1: 300, 2: 300, 3: 300 } },
});

const throughputTargetSchema = object({
  technology: oneOf(TECHNOLOGIES),
  metric: oneOf(['download', 'upload'] as const),
  minMbps: number({ min: 0 }),
});

const latencyTargetSchema = object({
  technology: oneOf(TECHNOLOGIES),
  metric: oneOf(['latency'] as const),
  maxMs: number({ min: 0 }),
});

/** Dispatches on `metric`, so an error names the field of the right kind of target. */
const targetSchema: Schema<CollectorTarget> = select<CollectorTarget>(
  'a target {technology, metric: "download"|"upload", minMbps} or {technology, metric: "latency", maxMs}',
  (value) => {
    const metric = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)['metric'] : undefined;
    return metric === 'latency' ? latencyTargetSchema : throughputTargetSchema;
  },
);

const positiveCount = number({ integer: true, min: 1 });

/** Milliseconds as a whole number, or a duration such as `7d`; at least 1 ms. */
const windowMsSchema: Schema<number> = {
  expected: `an integer >= 1 (milliseconds), or ${DURATION_EXPECTED}`,
  parse(value, path = '') {
    if (typeof value !== 'string') return positiveCount.parse(value, path);
    const ms = parseDurationMs(value);
    if (ms === undefined || ms < 1) throw new ValidationError(path, `${DURATION_EXPECTED}, got ${JSON.stringify(value)}`);
    return ms;
  },
};

/** A representative sample's bucket: a duration from one minute to one day. */
const bucketSchema: Schema<number> = {
  expected: 'a duration from 1m to 1d, such as 1h',
  parse(value, path = '') {
    const ms = typeof value === 'string' && value.length <= 16 ? parseDurationMs(value) : undefined;
    if (ms === undefined || ms < 60_000 || ms > DAY_MS) throw new ValidationError(path, `a duration from 1m to 1d, such as 1h, got ${JSON.stringify(value)}`);
    return ms;
  },
};

/** A duration such as `7d` (named after itself), or `{name, ms}` where `ms` is milliseconds or a duration. */
const windowSchema: Schema<VerdictWindow> = select<VerdictWindow>(`${DURATION_EXPECTED}, or {name, ms}`, (value) =>
  typeof value === 'string' ? transform(windowMsSchema, (ms) => ({ name: value, ms })) : object({ name: string({ minLength: 1, maxLength: 40 }), ms: windowMsSchema }),
);

const inputSchema = object({
  basis: optional(oneOf(VERDICT_BASES)),
  targets: optional(refine(array(targetSchema, { minItems: 1, maxItems: 100 }), checkTargetList)),
  windows: optional(refine(array(windowSchema, { minItems: 1, maxItems: 20 }), checkWindowNames)),
  minTests: optional(
    object({
      agent: optional(positiveCount),
      group: optional(positiveCount),
      area: optional(
        object({
          '1': optional(positiveCount),
          '2': optional(positiveCount),
          '3': optional(positiveCount),
          '4': optional(positiveCount),
        }),
      ),
    }),
  ),
  excludeCrossTraffic: optional(boolean()),
  samples: optional(
    refine(
      object({
        mode: oneOf(['tests', 'representative'] as const),
        bucket: optional(bucketSchema),
        contractMargin: optional(number({ min: 0, max: 10 })),
      }),
      (samples, report) => {
        // Not silently ignored: a bucket or a margin only means something for representative samples.
        if (samples.mode !== 'representative' && (samples.bucket !== undefined || samples.contractMargin !== undefined)) report('mode', '"representative" when bucket or contractMargin is given');
      },
    ),
  ),
});

/**
 * The `verdicts` section of the collector's configuration, to a frozen `VerdictConfig`.
 * Every key is optional: a missing `targets` or `windows` list takes the default list whole,
 * a missing `minTests.agent`/`group` takes its default, and `minTests.area`, when given,
 * replaces the default levels (a level left out falls back to `group`).
 */
export const verdictConfigSchema: Schema<VerdictConfig> = transform(inputSchema, (input) => {
  const defaults = DEFAULT_VERDICT_CONFIG.minTests;
  const minTests: MinTests = {
    agent: input.minTests?.agent ?? defaults.agent,
    group: input.minTests?.group ?? defaults.group,
  };
  const area = input.minTests?.area === undefined ? defaults.area : areaMinimums(input.minTests.area);
  if (area !== undefined) minTests.area = area;
  const targets = input.targets ?? DEFAULT_VERDICT_CONFIG.targets;
  const windows = input.windows ?? DEFAULT_VERDICT_CONFIG.windows;
  const config: VerdictConfig = {
    basis: input.basis ?? 'payload',
    targets: targets.map((target) => ({ ...target })),
    windows: windows.map((w) => ({ ...w })),
    minTests,
  };
  if (input.excludeCrossTraffic !== undefined) config.excludeCrossTraffic = input.excludeCrossTraffic;
  if (input.samples?.mode === 'representative') {
    config.samples = {
      mode: 'representative',
      bucketMs: input.samples.bucket ?? REPRESENTATIVE_DEFAULTS.bucketMs,
      contractMargin: input.samples.contractMargin ?? REPRESENTATIVE_DEFAULTS.contractMargin,
    };
  }
  return deepFreeze(config);
});

/**
 * What a stored payload figure (`download_mbps`, `upload_mbps`) is multiplied by to give the
 * basis's figure: 1, or 1.06 for `librespeed`. Exact for every result: an agent's
 * `librespeedMbps` is its `mbps` × 1.06 rounded (results of agents older than the field get the
 * figure they would have carried).
 */
export function throughputScale(config: Pick<VerdictConfig, 'basis'>): number {
  return config.basis === 'librespeed' ? LIBRESPEED_OVERHEAD_FACTOR : 1;
}

/**
 * Checks a verdict config and fills in defaults (see `verdictConfigSchema`), returning a
 * frozen config. Throws ValidationError (`SW_VALIDATION`) for the first problem, whose `path`
 * starts with `path`, e.g. `verdicts.minTests.agent`; `parseAll(verdictConfigSchema, …)` lists them all.
 */
export function parseVerdictConfig(value: unknown, path: string): VerdictConfig {
  return verdictConfigSchema.parse(value, path);
}

function areaMinimums(input: Partial<Record<'1' | '2' | '3' | '4', number>>): Partial<Record<AreaLevel, number>> {
  const out: Partial<Record<AreaLevel, number>> = {};
  for (const level of [1, 2, 3, 4] as const) {
    const count = input[`${level}`];
    if (count !== undefined) out[level] = count;
  }
  return out;
}

/** Reports every target whose (technology, metric) came before, and every technology without a download target. */
function checkTargetList(targets: readonly CollectorTarget[], report: Report): void {
  const seen = new Set<string>();
  targets.forEach((target, index) => {
    const key = `${target.technology}/${target.metric}`;
    if (seen.has(key)) report(`[${index}]`, `one ${target.metric} target per technology, got a second for ${JSON.stringify(target.technology)}`);
    seen.add(key);
  });
  for (const technology of TECHNOLOGIES) {
    if (!seen.has(`${technology}/download`)) report('', `a download target for ${JSON.stringify(technology)}`);
  }
}

/** Throws unless every technology has exactly one download target and no (technology, metric) repeats. */
export function checkTargets(targets: readonly CollectorTarget[], path: string): void {
  checkTargetList(targets, (key, expected, message) => {
    throw new ValidationError(keyPath(path, key), expected, message === undefined ? undefined : { message });
  });
}

function checkWindowNames(windows: readonly VerdictWindow[], report: Report): void {
  const seen = new Set<string>();
  windows.forEach((window, index) => {
    if (seen.has(window.name)) report(`[${index}]`, `a window name not used before, got ${JSON.stringify(window.name)} again`);
    seen.add(window.name);
  });
}
