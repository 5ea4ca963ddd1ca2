/**
 * What the daemon tests with: the collector's pushed settings over the config file's, over the
 * defaults, field by field. The collector is the controller (docs/fleet.md); the config file
 * keeps a box testing before its first contact and names what the collector leaves open.
 */
import type { AgentSettings, BudgetSettings, Site, Technology } from '@speedwatch/shared';
import { defaultWarmupFor, MIN_THROUGHPUT_WINDOW_MS, ValidationError } from '@speedwatch/shared';
import type { AgentConfig } from '../config/agent-config.js';
import type { Endpoint } from '../measure/endpoints.js';
import { endpointFromBaseUrl } from '../measure/endpoints.js';
import type { TestName } from '../measure/speed-test-options.js';

export interface TestPlan {
  intervalMs: number;
  /** Where the endpoints came from: `once` is given the same. */
  endpoints: { urls?: string[]; serverFile?: string; server?: string; caFile?: string; resolved: Endpoint[] };
  test: { tests: TestName[]; durationMs: number; warmupMs: number | 'auto'; streams: number; maxStreams: number; latencyCount: number; udp: boolean };
  /** The site: the collector's description once it has sent one, else the config file's. */
  site?: Site;
  /** The version of the pushed settings in force, if any. */
  settingsVersion?: string;
  /** Paused from the collector: no test runs. */
  paused: boolean;
  /** The monthly data budget: the collector's, else the config file's; none: tests as planned. */
  budget?: BudgetSettings;
}

/** Default warm-up: a quarter of the test, at most 2 s, leaving 1 s to measure (as the config file's). */
function warmupFor(durationMs: number, defaultWarmupMs: number): number {
  return defaultWarmupFor(durationMs, defaultWarmupMs);
}

/**
 * The plan from `config` and `pushed`. Pushed endpoints that this agent cannot use (a URL its
 * parser refuses) leave the config file's in force; `problems` says so.
 */
export function testPlan(config: Readonly<AgentConfig>, pushed: AgentSettings | undefined, defaults: { warmupMs: number }): { plan: TestPlan; problems: string[] } {
  const problems: string[] = [];
  let endpoints: TestPlan['endpoints'] = config.endpoints;
  if (pushed?.endpoints !== undefined) {
    try {
      const urls = pushed.endpoints;
      const resolved = urls.map((u, i) => endpointFromBaseUrl(u, urls.length > 1 ? u : undefined, `settings.endpoints[${i}]`));
      endpoints = { urls, resolved, ...(config.endpoints.caFile === undefined ? {} : { caFile: config.endpoints.caFile }) };
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      problems.push(`the collector's endpoints cannot be used (${err.message}); the config file's stay`);
    }
  }
  const t = pushed?.test;
  // A duration pushed without a warm-up gets the default warm-up for that duration, not the
  // file's fixed one; an adaptive warm-up fits any duration.
  const durationMs = t?.durationMs ?? config.test.durationMs;
  const fileWarmup = config.test.warmupMs;
  const warmupMs = t?.warmupMs ?? (t?.durationMs === undefined || fileWarmup === 'auto' ? fileWarmup : warmupFor(durationMs, defaults.warmupMs));
  const streams = t?.streams ?? config.test.streams;
  const site = pushed?.site ?? config.site;
  const budget = pushed?.budget ?? config.budget;
  return {
    plan: {
      intervalMs: pushed?.intervalMs ?? config.schedule.intervalMs,
      endpoints,
      test: {
        tests: t?.tests ?? config.test.tests,
        durationMs,
        // A warm-up from one level and a duration from another may leave too little to measure.
        warmupMs: warmupMs === 'auto' || durationMs - warmupMs >= MIN_THROUGHPUT_WINDOW_MS ? warmupMs : warmupFor(durationMs, defaults.warmupMs),
        streams,
        maxStreams: Math.max(streams, t?.maxStreams ?? config.test.maxStreams),
        latencyCount: t?.latencyCount ?? config.test.latencyCount,
        udp: t?.udp ?? config.test.udp,
      },
      ...(site === undefined ? {} : { site }),
      ...(pushed === undefined ? {} : { settingsVersion: pushed.version }),
      paused: pushed?.paused === true,
      ...(budget === undefined ? {} : { budget }),
    },
    problems,
  };
}

/** The `speedwatch-agent once` arguments that run this plan's test. */
export function onceArgs(plan: TestPlan): string[] {
  const e = plan.endpoints;
  const technology: Technology | undefined = plan.site?.technology;
  return [
    'once',
    '--json',
    ...(e.urls ?? []).flatMap((u) => ['--endpoint', u]),
    ...(e.serverFile === undefined ? [] : ['--server-file', e.serverFile]),
    ...(e.server === undefined ? [] : ['--server', e.server]),
    ...(e.caFile === undefined ? [] : ['--ca', e.caFile]),
    '--tests', plan.test.tests.join(','),
    '--duration', `${plan.test.durationMs}ms`,
    '--warmup', plan.test.warmupMs === 'auto' ? 'auto' : `${plan.test.warmupMs}ms`,
    '--streams', String(plan.test.streams),
    '--max-streams', String(plan.test.maxStreams),
    '--latency-count', String(plan.test.latencyCount),
    ...(plan.test.udp ? ['--udp'] : []),
    ...(technology === undefined ? [] : ['--technology', technology]),
  ];
}
