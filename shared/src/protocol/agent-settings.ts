/**
 * The test settings the collector pushes to an agent (the controller role of IETF LMAP, RFC
 * 7594): what site it stands for, how often it tests, against which endpoints, with which
 * parameters. Every field but `version` and `site` is optional: what is absent comes from the
 * agent's own config file, then from its defaults. Base units on the wire (ms).
 */
import type { Site } from './site.js';
import { siteSchema } from './site.js';
import type { Schema } from '../validate/schema.js';
import { array, boolean, custom, number, object, oneOf, optional, refine, string } from '../validate/schema.js';
import { isTimeZone } from '../time/zoned-time.js';

export const SETTINGS_TEST_NAMES = ['latency', 'download', 'upload'] as const;
export type SettingsTestName = (typeof SETTINGS_TEST_NAMES)[number];

export interface TestSettings {
  tests?: SettingsTestName[];
  durationMs?: number;
  warmupMs?: number;
  streams?: number;
  /**
   * Most streams the agent's ramp may add to (the agent's `--max-streams`; docs/measurement.md,
   * "Warm-up and streams"). Agents older than this field refuse settings that carry it.
   */
  maxStreams?: number;
  latencyCount?: number;
  /** Run the UDP probe with each test (the agent's `--udp`). Agents older than this field refuse settings that carry it. */
  udp?: boolean;
}

/**
 * A monthly data budget for a metered link (docs/agent.md, "Metered links"): the agent plans its
 * tests so that the month's traffic stays within it. Agents older than this field refuse
 * settings that carry it.
 */
export interface BudgetSettings {
  /** Bytes a calendar month, both directions together, as the result's `usage` counts them. */
  monthlyBytes: number;
  /** The zone whose calendar months the budget runs by (the collector's `timeZone`). */
  timeZone: string;
}

export interface AgentSettings {
  /** Names this set of settings; the agent acknowledges it (`config-applied`). Equal settings have equal versions. */
  version: string;
  /** The site as the collector describes it: the description results are judged by. */
  site: Site;
  /** One test per interval, at a random point of it. */
  intervalMs?: number;
  /** Base URLs of i-Speed/LibreSpeed-style endpoints; the agent picks the nearest. */
  endpoints?: string[];
  test?: TestSettings;
  /** Paused from the collector: stay connected, run no test until settings without it come. */
  paused?: boolean;
  budget?: BudgetSettings;
}

/**
 * The shortest measured window of a throughput phase (duration less warm-up): a shorter one
 * gives no rate, so no setting, flag or config may leave less.
 */
export const MIN_THROUGHPUT_WINDOW_MS = 1000;

/** The warm-up to use when none is given: a quarter of the test, at most `defaultMs`, and always leaving MIN_THROUGHPUT_WINDOW_MS to measure. */
export function defaultWarmupFor(durationMs: number, defaultMs = 2000): number {
  return Math.max(0, Math.min(defaultMs, durationMs / 4, durationMs - MIN_THROUGHPUT_WINDOW_MS));
}

/** The ranges of the settings, as the agent's config file has them. */
export const SETTINGS_RANGES = {
  intervalMs: { min: 1000, max: 86_400_000 },
  durationMs: { min: 1000, max: 600_000 },
  warmupMs: { min: 0, max: 600_000 },
  streams: { min: 1, max: 32 },
  maxStreams: { min: 1, max: 64 },
  latencyCount: { min: 1, max: 1000 },
  /** 1 MB to 1 PB a month. */
  monthlyBytes: { min: 1_000_000, max: 1e15 },
} as const;

const int = (range: { min: number; max: number }): Schema<number> => number({ ...range, integer: true });
export const timeZoneSchema: Schema<string> = custom('an IANA time zone name such as Asia/Ho_Chi_Minh', (value): value is string => typeof value === 'string' && value.length <= 64 && isTimeZone(value));

export const budgetSettingsSchema: Schema<BudgetSettings> = object({
  monthlyBytes: int(SETTINGS_RANGES.monthlyBytes),
  timeZone: timeZoneSchema,
});

export const endpointUrlSchema = string({ pattern: /^https?:\/\/[^\s/]+(\/\S*)?$/, maxLength: 2000, patternName: 'an http:// or https:// URL' });

export const testSettingsSchema: Schema<TestSettings> = refine(
  object({
    tests: optional(array(oneOf(SETTINGS_TEST_NAMES), { minItems: 1, maxItems: 3 })),
    durationMs: optional(int(SETTINGS_RANGES.durationMs)),
    warmupMs: optional(int(SETTINGS_RANGES.warmupMs)),
    streams: optional(int(SETTINGS_RANGES.streams)),
    maxStreams: optional(int(SETTINGS_RANGES.maxStreams)),
    latencyCount: optional(int(SETTINGS_RANGES.latencyCount)),
    udp: optional(boolean()),
  }),
  ['warmupMs'],
  (test, report) => {
    if (test.warmupMs !== undefined && test.durationMs !== undefined && test.durationMs - test.warmupMs < MIN_THROUGHPUT_WINDOW_MS) {
      report('warmupMs', `at least ${MIN_THROUGHPUT_WINDOW_MS} ms shorter than durationMs`, `must leave at least ${MIN_THROUGHPUT_WINDOW_MS / 1000} s of durationMs to measure`);
    }
  },
);

export const agentSettingsSchema: Schema<AgentSettings> = object({
  version: string({ pattern: /^[A-Za-z0-9._-]{1,64}$/, patternName: 'a version of 1 to 64 letters, digits, ".", "_" or "-"' }),
  site: siteSchema,
  intervalMs: optional(int(SETTINGS_RANGES.intervalMs)),
  endpoints: optional(array(endpointUrlSchema, { minItems: 1, maxItems: 100 })),
  test: optional(testSettingsSchema),
  paused: optional(boolean()),
  budget: optional(budgetSettingsSchema),
});
