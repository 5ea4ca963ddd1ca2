/**
 * The fleet's test settings, as the collector's config states them (`fleet:`, docs/fleet.md):
 * defaults for every agent, then overrides matched by area prefix, site kind, technology or
 * agent id. Every override whose `match` fits an agent applies, in the file's order, each field
 * it gives replacing the one before: write the general ones first and the specific ones after.
 * What no level gives comes from the agent's own config file, then from its defaults.
 */
import { createHash } from 'node:crypto';
import type { AgentSettings, Site, TestSettings } from '@speedwatch/shared';
import {
  agentVersionSchema,
  areaKey,
  array,
  boolean,
  durationMs,
  endpointUrlSchema,
  MIN_THROUGHPUT_WINDOW_MS,
  number,
  object,
  oneOf,
  optional,
  refine,
  SETTINGS_RANGES,
  sizeBytes,
  SETTINGS_TEST_NAMES,
  SITE_KINDS,
  string,
  TECHNOLOGIES,
} from '@speedwatch/shared';
import type { AgentRecord } from '../store/store-types.js';

/** One level of settings as the config file gives it (durations already in ms). */
export interface SettingsLevel {
  intervalMs?: number;
  endpoints?: string[];
  test?: TestSettings;
  /**
   * The agent version to run (docs/fleet.md, "Upgrades"): announced in an `upgrade` message,
   * not in the pushed settings, so it does not change their version.
   */
  agentVersion?: string;
  /** A monthly data budget (metered links, docs/fleet.md): bytes a month, pushed with the collector's time zone. */
  budget?: { monthlyBytes: number };
}

export interface SettingsMatch {
  /** An area path prefix, at level boundaries: "Lạng Sơn" fits "Lạng Sơn/Cao Lộc". Compared without case. */
  area?: string;
  siteKind?: Site['kind'];
  technology?: Site['technology'];
  agent?: string;
}

export interface FleetConfig {
  defaults: SettingsLevel;
  overrides: (SettingsLevel & { match: SettingsMatch })[];
  /** The zone whose calendar months a data budget runs by (the collector's `timeZone`); default Asia/Ho_Chi_Minh. */
  timeZone?: string;
}

export const EMPTY_FLEET_CONFIG: FleetConfig = Object.freeze({ defaults: Object.freeze({}), overrides: Object.freeze([]) as unknown as FleetConfig['overrides'] });

/** The zone a pushed budget runs by when the fleet config names none: the collector's default `timeZone`. */
const DEFAULT_BUDGET_TIME_ZONE = 'Asia/Ho_Chi_Minh';

const testLevel = refine(
  object({
    tests: optional(array(oneOf(SETTINGS_TEST_NAMES), { minItems: 1, maxItems: 3 })),
    duration: optional(durationMs(SETTINGS_RANGES.durationMs.min, SETTINGS_RANGES.durationMs.max)),
    warmup: optional(durationMs(SETTINGS_RANGES.warmupMs.min, SETTINGS_RANGES.warmupMs.max)),
    streams: optional(number({ ...SETTINGS_RANGES.streams, integer: true })),
    maxStreams: optional(number({ ...SETTINGS_RANGES.maxStreams, integer: true })),
    latencyCount: optional(number({ ...SETTINGS_RANGES.latencyCount, integer: true })),
    udp: optional(boolean()),
  }),
  ['duration', 'warmup'],
  (test, report) => {
    if (test.duration !== undefined && test.warmup !== undefined && test.duration - test.warmup < MIN_THROUGHPUT_WINDOW_MS) {
      report('warmup', `at least ${MIN_THROUGHPUT_WINDOW_MS} ms shorter than duration`, `must leave at least ${MIN_THROUGHPUT_WINDOW_MS / 1000} s of duration to measure`);
    }
  },
);

const levelFields = {
  interval: optional(durationMs(SETTINGS_RANGES.intervalMs.min, SETTINGS_RANGES.intervalMs.max)),
  endpoints: optional(array(endpointUrlSchema, { minItems: 1, maxItems: 100 })),
  test: optional(testLevel),
  agentVersion: optional(agentVersionSchema),
  budget: optional(object({ monthly: sizeBytes(SETTINGS_RANGES.monthlyBytes.min, SETTINGS_RANGES.monthlyBytes.max) })),
};

const matchSchema = refine(
  object({
    area: optional(string({ minLength: 1, maxLength: 400 })),
    siteKind: optional(oneOf(SITE_KINDS)),
    technology: optional(oneOf(TECHNOLOGIES)),
    agent: optional(string({ minLength: 1, maxLength: 100 })),
  }),
  (match, report) => {
    if (Object.keys(match).length === 0) report('', 'at least one of area, siteKind, technology, agent', 'an empty match would fit every agent: put those settings in fleet.defaults');
  },
);

/** The `fleet` key of the collector's config file. */
export const fleetConfigSchema = object({
  defaults: optional(object(levelFields)),
  overrides: optional(array(object({ match: matchSchema, ...levelFields }), { maxItems: 10_000 })),
});

type FileLevel = {
  interval?: number;
  endpoints?: string[];
  test?: { tests?: TestSettings['tests']; duration?: number; warmup?: number; streams?: number; maxStreams?: number; latencyCount?: number; udp?: boolean };
  agentVersion?: string;
  budget?: { monthly?: number };
};

function levelOf(file: FileLevel): SettingsLevel {
  const t = file.test;
  const test: TestSettings | undefined =
    t === undefined
      ? undefined
      : {
          ...(t.tests === undefined ? {} : { tests: t.tests }),
          ...(t.duration === undefined ? {} : { durationMs: t.duration }),
          ...(t.warmup === undefined ? {} : { warmupMs: t.warmup }),
          ...(t.streams === undefined ? {} : { streams: t.streams }),
          ...(t.maxStreams === undefined ? {} : { maxStreams: t.maxStreams }),
          ...(t.latencyCount === undefined ? {} : { latencyCount: t.latencyCount }),
          ...(t.udp === undefined ? {} : { udp: t.udp }),
        };
  return {
    ...(file.interval === undefined ? {} : { intervalMs: file.interval }),
    ...(file.endpoints === undefined ? {} : { endpoints: file.endpoints }),
    ...(test === undefined ? {} : { test }),
    ...(file.agentVersion === undefined ? {} : { agentVersion: file.agentVersion }),
    ...(file.budget?.monthly === undefined ? {} : { budget: { monthlyBytes: file.budget.monthly } }),
  };
}

/** The file's `fleet` key, parsed by fleetConfigSchema, in base units; `timeZone` is the collector's. */
export function fleetConfigOf(parsed: { defaults?: FileLevel; overrides?: (FileLevel & { match: SettingsMatch })[] } | undefined, timeZone?: string): FleetConfig {
  // No fleet settings, no budget to run by any zone.
  if (parsed === undefined) return EMPTY_FLEET_CONFIG;
  return {
    defaults: levelOf(parsed.defaults ?? {}),
    overrides: (parsed.overrides ?? []).map((o) => ({ match: o.match, ...levelOf(o) })),
    ...(timeZone === undefined ? {} : { timeZone }),
  };
}

/** Whether `agent` fits every field `match` gives. */
export function matchesAgent(match: SettingsMatch, agent: AgentRecord): boolean {
  if (match.agent !== undefined && match.agent !== agent.id) return false;
  if (match.siteKind !== undefined && match.siteKind !== agent.siteKind) return false;
  if (match.technology !== undefined && match.technology !== agent.technology) return false;
  if (match.area !== undefined) {
    if (agent.area === undefined) return false;
    const prefix = areaKey(match.area);
    const area = areaKey(agent.area);
    if (area !== prefix && !area.startsWith(`${prefix}/`)) return false;
  }
  return true;
}

/** The agent version the fleet config names for `agent`, by the same rules as its settings; undefined when none does. */
export function agentVersionFor(config: FleetConfig, agent: AgentRecord): string | undefined {
  let version = config.defaults.agentVersion;
  for (const o of config.overrides) if (o.agentVersion !== undefined && matchesAgent(o.match, agent)) version = o.agentVersion;
  return version;
}

/** The test interval the fleet config gives `agent` (ms), by the same rules as its settings, without hashing them; undefined when none does. */
export function intervalFor(config: FleetConfig, agent: AgentRecord): number | undefined {
  let intervalMs = config.defaults.intervalMs;
  for (const o of config.overrides) if (o.intervalMs !== undefined && matchesAgent(o.match, agent)) intervalMs = o.intervalMs;
  return intervalMs;
}

/** Every agent version the fleet config names, with the key that names it (`fleet.overrides[2].agentVersion`). */
export function namedAgentVersions(config: FleetConfig): { version: string; key: string }[] {
  const named: { version: string; key: string }[] = [];
  if (config.defaults.agentVersion !== undefined) named.push({ version: config.defaults.agentVersion, key: 'fleet.defaults.agentVersion' });
  config.overrides.forEach((o, i) => {
    if (o.agentVersion !== undefined) named.push({ version: o.agentVersion, key: `fleet.overrides[${i}].agentVersion` });
  });
  return named;
}

/** The site as the collector describes it: what results are judged by. */
export function siteOf(agent: AgentRecord): Site {
  return {
    name: agent.name,
    kind: agent.siteKind,
    technology: agent.technology,
    ...(agent.isp === undefined ? {} : { isp: agent.isp }),
    ...(agent.area === undefined ? {} : { area: agent.area }),
    ...(agent.lat === undefined ? {} : { lat: agent.lat }),
    ...(agent.lon === undefined ? {} : { lon: agent.lon }),
  };
}

/** The same fields in one order whichever levels gave them, so that equal settings hash alike. */
function inKeyOrder(test: TestSettings): TestSettings {
  const keys = ['tests', 'durationMs', 'warmupMs', 'streams', 'maxStreams', 'latencyCount', 'udp'] as const;
  return Object.fromEntries(keys.filter((k) => test[k] !== undefined).map((k) => [k, test[k]]));
}

/** An agent's settings, resolved from the fleet config and its site description. */
export function settingsFor(config: FleetConfig, agent: AgentRecord): AgentSettings {
  let intervalMs = config.defaults.intervalMs;
  let endpoints = config.defaults.endpoints;
  let test: TestSettings = { ...config.defaults.test };
  let budget = config.defaults.budget;
  for (const o of config.overrides) {
    if (!matchesAgent(o.match, agent)) continue;
    intervalMs = o.intervalMs ?? intervalMs;
    endpoints = o.endpoints ?? endpoints;
    test = { ...test, ...o.test };
    budget = o.budget ?? budget;
  }
  // A warm-up from one level and a duration from another may cross: keep the pair usable.
  if (test.warmupMs !== undefined && test.durationMs !== undefined && test.durationMs - test.warmupMs < MIN_THROUGHPUT_WINDOW_MS) delete test.warmupMs;
  const body = {
    site: siteOf(agent),
    ...(intervalMs === undefined ? {} : { intervalMs }),
    ...(endpoints === undefined ? {} : { endpoints: [...endpoints] }),
    ...(Object.keys(test).length === 0 ? {} : { test: inKeyOrder(test) }),
    ...(agent.pausedAt === undefined ? {} : { paused: true }),
    // Only when one is set: an agent older than `budget` refuses settings that carry it.
    ...(budget === undefined ? {} : { budget: { monthlyBytes: budget.monthlyBytes, timeZone: config.timeZone ?? DEFAULT_BUDGET_TIME_ZONE } }),
  };
  // The version names the content: the same settings always have the same version, so a
  // collector restart or a reload that changes nothing for an agent pushes it nothing new.
  const version = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
  return { version, ...body };
}
