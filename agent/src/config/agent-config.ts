/**
 * The agent daemon's configuration file (YAML or JSON), validated once at start. Every problem
 * is listed at once with its key, in one AgentConfigError: the schema's, and those of the files
 * the config names. Secrets (the token) may come from a file or the environment
 * (SPEEDWATCH_AGENT_TOKEN, SPEEDWATCH_AGENT_TOKEN_FILE), which override the file.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { BudgetSettings, LogLevel, Problem, Schema, Site } from '@speedwatch/shared';
import {
  array,
  boolean,
  deepFreeze,
  durationMs,
  LOG_LEVELS,
  number,
  object,
  oneOf,
  optional,
  OptionsError,
  parseAll,
  problemAt,
  refine,
  select,
  siteSchema,
  sizeBytes,
  string,
  ValidationError,
  MIN_THROUGHPUT_WINDOW_MS,
  SETTINGS_RANGES,
  timeZoneSchema,
} from '@speedwatch/shared';
import type { BusyLineSettings } from '../traffic/busy-line.js';
import { BUSY_LINE_DEFAULTS } from '../traffic/busy-line.js';
import type { Endpoint } from '../measure/endpoints.js';
import { endpointFromBaseUrl, endpointsFromServerList } from '../measure/endpoints.js';
import type { TestName } from '../measure/speed-test-options.js';
import { TEST_NAMES } from '../measure/speed-test-options.js';

export interface AgentConfig {
  collector: {
    /** ws:// or wss:// URL of the collector's agent endpoint (`/v1/agents` added when the path is empty). */
    url: string;
    token: string;
    /** Extra CA (PEM text) for wss://. */
    ca?: string;
  };
  /** The site as this file describes it; the collector's description replaces it once it has sent one. */
  site?: Site;
  schedule: { intervalMs: number };
  /** The `health` message (docs/protocol.md#health): sent after each welcome and every `intervalMs`. */
  health: { intervalMs: number };
  endpoints: {
    urls?: string[];
    /** A LibreSpeed server-list file. */
    serverFile?: string;
    /** Force one server of the list. */
    server?: string;
    /** CA file (path) for https endpoints. */
    caFile?: string;
    /** The endpoints the URLs or the server list name, checked at load. */
    resolved: Endpoint[];
  };
  test: { tests: TestName[]; durationMs: number; warmupMs: number | 'auto'; streams: number; maxStreams: number; latencyCount: number; udp: boolean };
  /** Where the outbox and dead-letter file live. */
  dataDir: string;
  outbox: { maxBytes: number };
  logLevel: LogLevel;
  /**
   * Install the agent release the collector announces, on its own (docs/fleet.md, "Upgrades").
   * Default false: announcements are kept for `speedwatch-agent upgrade`.
   */
  autoUpgrade: boolean;
  /** Busy lines (docs/agent.md, "Busy lines"): check the line before each scheduled test, count cross traffic during it. */
  busyLine: BusyLineSettings;
  /** The config file's monthly data budget (docs/agent.md, "Metered links"); the collector's replaces it. */
  budget?: BudgetSettings;
}

/** The config file is not usable; `problems` lists every problem, each with its key path. */
export class AgentConfigError extends OptionsError {
  constructor(file: string, problems: readonly Problem[]) {
    super('SW_AGENT_CONFIG', `${file}: configuration is not valid`, problems);
    this.name = 'AgentConfigError';
  }
}

const wsUrl = string({ pattern: /^wss?:\/\/[^\s/]+(\/\S*)?$/, patternName: 'a ws:// or wss:// URL, like ws://collector.example:8600/v1/agents' });
const httpUrl = string({ pattern: /^https?:\/\/[^\s/]+(\/\S*)?$/, patternName: 'an http:// or https:// URL' });
const path = string({ minLength: 1, maxLength: 4096 });

export const AGENT_DEFAULTS = Object.freeze({
  intervalMs: 15 * 60_000,
  healthIntervalMs: 5 * 60_000,
  durationMs: 10_000,
  warmupMs: 2_000,
  streams: 4,
  maxStreams: 4,
  latencyCount: 20,
  outboxMaxBytes: 64 * 1024 * 1024,
});

const fileSchema = object({
  collector: refine(
    object({
      url: wsUrl,
      token: optional(string({ minLength: 8, maxLength: 512 })),
      tokenFile: optional(path),
      caFile: optional(path),
    }),
    ['token', 'tokenFile'],
    (collector, report) => {
      if (collector.token !== undefined && collector.tokenFile !== undefined) report('tokenFile', 'token or tokenFile', 'give collector.token or collector.tokenFile, not both');
    },
  ),
  // Optional: an enrolled box gets its site and its test settings from the collector.
  site: optional(
    refine(siteSchema, ['lat', 'lon'], (site, report) => {
      if ((site.lat === undefined) !== (site.lon === undefined)) report(site.lat === undefined ? 'lat' : 'lon', 'lat and lon together', 'give both site.lat and site.lon, or neither');
    }),
  ),
  // Seconds are allowed for labs and tests; a fleet should keep minutes (default 15 min).
  schedule: optional(object({ interval: optional(durationMs(1000, 86_400_000)) })),
  health: optional(object({ interval: optional(durationMs(1000, 86_400_000)) })),
  endpoints: optional(refine(
    object({
      urls: optional(array(httpUrl, { minItems: 1, maxItems: 100 })),
      serverFile: optional(path),
      server: optional(string({ minLength: 1, maxLength: 200 })),
      caFile: optional(path),
    }),
    ['urls', 'serverFile', 'server'],
    (endpoints, report) => {
      if ((endpoints.urls === undefined) === (endpoints.serverFile === undefined)) report('', 'exactly one of endpoints.urls or endpoints.serverFile', 'give exactly one of endpoints.urls or endpoints.serverFile');
      if (endpoints.server !== undefined && endpoints.serverFile === undefined) report('server', 'endpoints.serverFile beside it', 'only with endpoints.serverFile');
    },
  )),
  test: optional(
    refine(
      object({
        tests: optional(array(oneOf(TEST_NAMES), { minItems: 1, maxItems: 3 })),
        duration: optional(durationMs(1000, 600_000)),
        // `auto` (the default): until the rate settles (docs/measurement.md, "Warm-up and streams").
        warmup: optional(select<number | 'auto'>('a duration or auto', (v: unknown): Schema<number | 'auto'> => (v === 'auto' ? oneOf(['auto'] as const) : durationMs(0, 600_000)))),
        streams: optional(number({ min: 1, max: 32, integer: true })),
        maxStreams: optional(number({ min: 1, max: 64, integer: true })),
        latencyCount: optional(number({ min: 1, max: 1000, integer: true })),
        udp: optional(boolean()),
      }),
      ['duration', 'warmup'],
      (test, report) => {
        const durationMs = test.duration ?? AGENT_DEFAULTS.durationMs;
        if (typeof test.warmup === 'number' && durationMs - test.warmup < MIN_THROUGHPUT_WINDOW_MS) {
          report('warmup', `at least ${MIN_THROUGHPUT_WINDOW_MS} ms shorter than test.duration (${durationMs} ms)`, `must leave at least ${MIN_THROUGHPUT_WINDOW_MS / 1000} s of test.duration to measure`);
        }
      },
    ),
  ),
  dataDir: path,
  // The outbox keeps its live records in memory too: a Pi's RAM bounds it.
  outbox: optional(object({ maxBytes: optional(sizeBytes(1024 * 1024, 256 * 1024 * 1024)) })),
  logLevel: optional(oneOf(Object.keys(LOG_LEVELS) as LogLevel[])),
  autoUpgrade: optional(boolean()),
  busyLine: optional(
    object({
      check: optional(boolean()),
      // Bytes a second, both directions together; units as for sizes (25000, 25kB).
      threshold: optional(sizeBytes(0, 1e12)),
      sample: optional(durationMs(500, 60_000)),
      tries: optional(number({ min: 1, max: 10, integer: true })),
      retryAfter: optional(durationMs(1000, 3_600_000)),
    }),
  ),
  budget: optional(object({ monthly: sizeBytes(SETTINGS_RANGES.monthlyBytes.min, SETTINGS_RANGES.monthlyBytes.max), timeZone: optional(timeZoneSchema) })),
});

/** A host name or address of this machine's loopback interface. */
function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** Reads and validates `file`. Relative paths in it are taken from the file's directory. Throws AgentConfigError listing every problem. */
export function loadAgentConfig(file: string, env: NodeJS.ProcessEnv = {}): Readonly<AgentConfig> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AgentConfigError(file, [problemAt('', `cannot read the file (${(err as { code?: string }).code ?? String(err)})`)]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new AgentConfigError(file, [problemAt('', `not valid YAML or JSON: ${err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)}`)]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AgentConfigError(file, [problemAt('', 'expected a mapping of keys at the top')]);

  // The files named by keys that are valid are read even when other keys are not, so that one
  // run lists every problem.
  const { value, partial, problems: schemaProblems } = parseAll(fileSchema, raw);
  const problems: Problem[] = [...schemaProblems];
  /** True when a problem is at `key` or inside it. */
  const bad = (key: string): boolean => problems.some((p) => p.path === key || p.path.startsWith(`${key}.`) || p.path.startsWith(`${key}[`));
  const base = dirname(resolve(file));
  const at = (p: string): string => resolve(base, p);
  const readError = (err: unknown): string => (err as { code?: string }).code ?? String(err);
  const readSecret = (key: string, p: string): string | undefined => {
    try {
      const secret = readFileSync(at(p), 'utf8').trim();
      if (secret.length < 8) problems.push(problemAt(key, `${p} holds no token`));
      return secret;
    } catch (err) {
      problems.push(problemAt(key, `cannot read ${p} (${readError(err)})`));
      return undefined;
    }
  };
  const collector = partial?.collector;
  let token = collector?.token;
  if (collector?.tokenFile !== undefined) token = readSecret('collector.tokenFile', collector.tokenFile);
  const envFile = env['SPEEDWATCH_AGENT_TOKEN_FILE'];
  if (envFile !== undefined && envFile !== '') token = readSecret('SPEEDWATCH_AGENT_TOKEN_FILE', envFile);
  const envToken = env['SPEEDWATCH_AGENT_TOKEN'];
  if (envToken !== undefined && envToken !== '') token = envToken;
  // A token given but not usable is reported where it was given, not again as missing.
  if (token === undefined && !bad('collector') && !bad('SPEEDWATCH_AGENT_TOKEN_FILE')) {
    problems.push(problemAt('collector.token', 'required (or collector.tokenFile, or SPEEDWATCH_AGENT_TOKEN)'));
  }

  // A release runs as the agent: over plain ws:// anyone on the path could announce one of their own.
  if (partial?.autoUpgrade === true && collector?.url !== undefined && collector.url.startsWith('ws://') && !isLoopback(new URL(collector.url).hostname)) {
    problems.push(problemAt('autoUpgrade', 'needs a wss:// collector.url (or a collector on this host): over ws:// anyone on the path could announce a release of their own, and the agent would run it'));
  }

  let ca: string | undefined;
  if (collector?.caFile !== undefined) {
    try {
      ca = readFileSync(at(collector.caFile), 'utf8');
    } catch (err) {
      problems.push(problemAt('collector.caFile', `cannot read ${collector.caFile} (${readError(err)})`));
    }
  }
  const endpoints = bad('endpoints') ? undefined : partial?.endpoints;
  let resolved: Endpoint[] = [];
  const givenUrls = endpoints?.urls;
  givenUrls?.forEach((u, i) => {
    try {
      resolved.push(endpointFromBaseUrl(u, givenUrls.length > 1 ? u : undefined, `endpoints.urls[${i}]`));
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      problems.push(err);
    }
  });
  const givenServerFile = endpoints?.serverFile;
  if (givenServerFile !== undefined) {
    try {
      resolved = endpointsFromServerList(JSON.parse(readFileSync(at(givenServerFile), 'utf8')), `endpoints.serverFile (${givenServerFile})`);
      const server = endpoints?.server;
      if (server !== undefined && !resolved.some((e) => e.name === server)) problems.push(problemAt('endpoints.server', `${JSON.stringify(server)} is not in ${givenServerFile}`));
    } catch (err) {
      if (err instanceof ValidationError) problems.push(err);
      else problems.push(problemAt('endpoints.serverFile', `cannot read ${givenServerFile} as a server list: ${err instanceof SyntaxError ? 'not JSON' : readError(err)}`));
    }
  }
  if (value === undefined || problems.length > 0) throw new AgentConfigError(file, problems);
  const { urls, serverFile, server, caFile } = value.endpoints ?? {};
  const durationMsValue = value.test?.duration ?? AGENT_DEFAULTS.durationMs;
  const warmupMsValue = value.test?.warmup ?? 'auto';
  const streamsValue = value.test?.streams ?? AGENT_DEFAULTS.streams;

  const url = new URL(value.collector.url);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/agents';
  return deepFreeze({
    collector: { url: url.href, token: token as string, ...(ca === undefined ? {} : { ca }) },
    ...(value.site === undefined ? {} : { site: value.site }),
    schedule: { intervalMs: value.schedule?.interval ?? AGENT_DEFAULTS.intervalMs },
    health: { intervalMs: value.health?.interval ?? AGENT_DEFAULTS.healthIntervalMs },
    endpoints: {
      ...(urls === undefined ? {} : { urls }),
      ...(serverFile === undefined ? {} : { serverFile: at(serverFile) }),
      ...(server === undefined ? {} : { server }),
      ...(caFile === undefined ? {} : { caFile: at(caFile) }),
      resolved,
    },
    test: {
      tests: value.test?.tests ?? [...TEST_NAMES],
      durationMs: durationMsValue,
      warmupMs: warmupMsValue,
      streams: streamsValue,
      maxStreams: Math.max(streamsValue, value.test?.maxStreams ?? AGENT_DEFAULTS.maxStreams),
      latencyCount: value.test?.latencyCount ?? AGENT_DEFAULTS.latencyCount,
      udp: value.test?.udp ?? false,
    },
    dataDir: at(value.dataDir),
    outbox: { maxBytes: value.outbox?.maxBytes ?? AGENT_DEFAULTS.outboxMaxBytes },
    logLevel: value.logLevel ?? 'info',
    autoUpgrade: value.autoUpgrade ?? false,
    busyLine: {
      check: value.busyLine?.check ?? BUSY_LINE_DEFAULTS.check,
      thresholdBytesPerSec: value.busyLine?.threshold ?? BUSY_LINE_DEFAULTS.thresholdBytesPerSec,
      sampleMs: value.busyLine?.sample ?? BUSY_LINE_DEFAULTS.sampleMs,
      tries: value.busyLine?.tries ?? BUSY_LINE_DEFAULTS.tries,
      retryAfterMs: value.busyLine?.retryAfter ?? BUSY_LINE_DEFAULTS.retryAfterMs,
    },
    // Without a zone the box's own: set it where the box's clock is kept in UTC.
    ...(value.budget === undefined ? {} : { budget: { monthlyBytes: value.budget.monthly, timeZone: value.budget.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone } }),
  });
}
