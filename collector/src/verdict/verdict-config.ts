/**
 * What a verdict is judged against: the targets per technology, the time windows, and how many
 * tests a verdict needs. `DEFAULT_VERDICT_CONFIG` is the plan's targets over 24 h, 7 d and 30 d;
 * `parseVerdictConfig` turns a config file's `unknown` into a checked, frozen `VerdictConfig`.
 * The rules and the reasons for the defaults are in docs/verdicts.md.
 */
import {
  DEFAULT_TARGETS,
  DURATION_EXPECTED,
  TECHNOLOGIES,
  ValidationError,
  array,
  number,
  object,
  oneOf,
  optional,
  parseDurationMs,
  string,
} from '@speedwatch/shared';
import type { Schema, Target, Technology } from '@speedwatch/shared';

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

export interface VerdictConfig {
  /** Exactly one download target per technology; at most one upload and one latency target per technology. */
  targets: readonly CollectorTarget[];
  /** In report order; names unique. */
  windows: readonly VerdictWindow[];
  minTests: MinTests;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * The plan's targets (download >= 102 Mbps fixed, >= 42 Mbps mobile) over 24 h, 7 d and 30 d.
 * Minimum tests: 10 for an agent (2.5 hours of tests at one every 15 minutes), 30 for a group,
 * and 300 for a province, district or commune: VNNIC publishes a commune's figure only from
 * 300 samples a month, and an area containing a commune is held to no lower bar. Frozen.
 */
export const DEFAULT_VERDICT_CONFIG: VerdictConfig = deepFreeze({
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
const targetSchema: Schema<CollectorTarget> = {
  expected: 'a target {technology, metric: "download"|"upload", minMbps} or {technology, metric: "latency", maxMs}',
  parse(value, path = '') {
    const metric = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)['metric'] : undefined;
    return metric === 'latency' ? latencyTargetSchema.parse(value, path) : throughputTargetSchema.parse(value, path);
  },
};

const positiveCount = number({ integer: true, min: 1 });
const windowMsSchema = number({ integer: true, min: 1 });
/** Lets `ms` through as is, so `windowSchema` can take a number or a duration string. */
const anySchema: Schema<unknown> = { expected: 'a value', parse: (value) => value };
const windowObjectSchema = object({ name: string({ minLength: 1, maxLength: 40 }), ms: anySchema });

/** A duration such as `7d` (named after itself), or `{name, ms}` where `ms` is milliseconds or a duration. */
const windowSchema: Schema<VerdictWindow> = {
  expected: `${DURATION_EXPECTED}, or {name, ms}`,
  parse(value, path = '') {
    if (typeof value === 'string') return { name: value, ms: durationMs(value, path) };
    const parsed = windowObjectSchema.parse(value, path);
    const msPath = `${path}.ms`;
    const ms = typeof parsed.ms === 'string' ? durationMs(parsed.ms, msPath) : windowMsSchema.parse(parsed.ms, msPath);
    return { name: parsed.name, ms };
  },
};

function durationMs(text: string, path: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms < 1) throw new ValidationError(path, `${DURATION_EXPECTED}, got ${JSON.stringify(text)}`);
  return ms;
}

const inputSchema = object({
  targets: optional(array(targetSchema, { minItems: 1, maxItems: 100 })),
  windows: optional(array(windowSchema, { minItems: 1, maxItems: 20 })),
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
});

/**
 * Checks a verdict config from a file and fills in defaults, returning a frozen config.
 * Every key is optional: a missing `targets` or `windows` list takes the default list whole,
 * a missing `minTests.agent`/`group` takes its default, and `minTests.area`, when given,
 * replaces the default levels (a level left out falls back to `group`).
 * Throws ValidationError (`SW_VALIDATION`) whose `path` starts with `path`, e.g. `verdicts.minTests.agent`.
 */
export function parseVerdictConfig(value: unknown, path: string): VerdictConfig {
  const input = inputSchema.parse(value, path);
  const join = (key: string): string => (path === '' ? key : `${path}.${key}`);
  const targets = input.targets ?? DEFAULT_VERDICT_CONFIG.targets;
  checkTargets(targets, join('targets'));
  const windows = input.windows ?? DEFAULT_VERDICT_CONFIG.windows;
  checkWindows(windows, join('windows'));
  const defaults = DEFAULT_VERDICT_CONFIG.minTests;
  const minTests: MinTests = {
    agent: input.minTests?.agent ?? defaults.agent,
    group: input.minTests?.group ?? defaults.group,
  };
  const area = input.minTests?.area === undefined ? defaults.area : areaMinimums(input.minTests.area);
  if (area !== undefined) minTests.area = area;
  return deepFreeze({ targets: targets.map((target) => ({ ...target })), windows: windows.map((w) => ({ ...w })), minTests });
}

function areaMinimums(input: Partial<Record<'1' | '2' | '3' | '4', number>>): Partial<Record<AreaLevel, number>> {
  const out: Partial<Record<AreaLevel, number>> = {};
  for (const level of [1, 2, 3, 4] as const) {
    const count = input[`${level}`];
    if (count !== undefined) out[level] = count;
  }
  return out;
}

/** Throws unless every technology has exactly one download target and no (technology, metric) repeats. */
export function checkTargets(targets: readonly CollectorTarget[], path: string): void {
  const seen = new Set<string>();
  targets.forEach((target, index) => {
    const key = `${target.technology}/${target.metric}`;
    if (seen.has(key)) {
      throw new ValidationError(
        `${path}[${index}]`,
        `one ${target.metric} target per technology, got a second for ${JSON.stringify(target.technology)}`,
      );
    }
    seen.add(key);
  });
  for (const technology of TECHNOLOGIES) {
    if (!seen.has(`${technology}/download`)) {
      throw new ValidationError(path, `a download target for ${JSON.stringify(technology)}`);
    }
  }
}

function checkWindows(windows: readonly VerdictWindow[], path: string): void {
  const seen = new Set<string>();
  windows.forEach((window, index) => {
    if (seen.has(window.name)) {
      throw new ValidationError(`${path}[${index}]`, `a window name not used before, got ${JSON.stringify(window.name)} again`);
    }
    seen.add(window.name);
  });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** The config file's `verdicts` section as the collector uses it: the defaults when absent. */
export function resolveVerdictConfig(section: unknown): VerdictConfig {
  return section === undefined ? DEFAULT_VERDICT_CONFIG : parseVerdictConfig(section, 'verdicts');
}
