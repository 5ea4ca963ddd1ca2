/**
 * The agent daemon's configuration file (YAML or JSON), validated once at start. Every problem
 * is reported with its key; secrets (the token) may come from a file or the environment
 * (SPEEDWATCH_AGENT_TOKEN, SPEEDWATCH_AGENT_TOKEN_FILE), which override the file.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { LogLevel, Site } from '@speedwatch/shared';
import {
  array,
  durationMs,
  LOG_LEVELS,
  number,
  object,
  oneOf,
  optional,
  parseAll,
  siteSchema,
  sizeBytes,
  SpeedwatchError,
  string,
} from '@speedwatch/shared';
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
  site: Site;
  schedule: { intervalMs: number };
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
  test: { tests: TestName[]; durationMs: number; warmupMs: number; streams: number; latencyCount: number };
  /** Where the outbox and dead-letter file live. */
  dataDir: string;
  outbox: { maxBytes: number };
  logLevel: LogLevel;
}

export class AgentConfigError extends SpeedwatchError {
  readonly problems: string[];

  constructor(file: string, problems: string[]) {
    super('SW_AGENT_CONFIG', `${file}: configuration is not valid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'AgentConfigError';
    this.problems = problems;
  }
}

const wsUrl = string({ pattern: /^wss?:\/\/[^\s/]+(\/\S*)?$/, patternName: 'a ws:// or wss:// URL, like ws://collector.example:8600/v1/agents' });
const httpUrl = string({ pattern: /^https?:\/\/[^\s/]+(\/\S*)?$/, patternName: 'an http:// or https:// URL' });
const path = string({ minLength: 1, maxLength: 4096 });

const fileSchema = object({
  collector: object({
    url: wsUrl,
    token: optional(string({ minLength: 8, maxLength: 512 })),
    tokenFile: optional(path),
    caFile: optional(path),
  }),
  site: siteSchema,
  // Seconds are allowed for labs and tests; a fleet should keep minutes (default 15 min).
  schedule: optional(object({ interval: optional(durationMs(1000, 86_400_000)) })),
  endpoints: object({
    urls: optional(array(httpUrl, { minItems: 1, maxItems: 100 })),
    serverFile: optional(path),
    server: optional(string({ minLength: 1, maxLength: 200 })),
    caFile: optional(path),
  }),
  test: optional(
    object({
      tests: optional(array(oneOf(TEST_NAMES), { minItems: 1, maxItems: 3 })),
      duration: optional(durationMs(1000, 600_000)),
      warmup: optional(durationMs(0, 600_000)),
      streams: optional(number({ min: 1, max: 32, integer: true })),
      latencyCount: optional(number({ min: 1, max: 1000, integer: true })),
    }),
  ),
  dataDir: path,
  // The outbox keeps its live records in memory too: a Pi's RAM bounds it.
  outbox: optional(object({ maxBytes: optional(sizeBytes(1024 * 1024, 256 * 1024 * 1024)) })),
  logLevel: optional(oneOf(Object.keys(LOG_LEVELS) as LogLevel[])),
});

export const AGENT_DEFAULTS = Object.freeze({
  intervalMs: 15 * 60_000,
  durationMs: 10_000,
  warmupMs: 2_000,
  streams: 4,
  latencyCount: 20,
  outboxMaxBytes: 64 * 1024 * 1024,
});

/** Reads and validates `file`. Relative paths in it are taken from the file's directory. */
export function loadAgentConfig(file: string, env: NodeJS.ProcessEnv = {}): Readonly<AgentConfig> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AgentConfigError(file, [`cannot read the file (${(err as { code?: string }).code ?? String(err)})`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new AgentConfigError(file, [`not valid YAML or JSON: ${err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)}`]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AgentConfigError(file, ['expected a mapping of keys at the top']);
  const { value, problems } = parseAll(fileSchema, raw as Record<string, unknown>);
  if (value === undefined) throw new AgentConfigError(file, problems.map((p) => p.message));

  const base = dirname(resolve(file));
  const at = (p: string): string => resolve(base, p);
  const more: string[] = [];
  const readSecret = (key: string, p: string): string | undefined => {
    try {
      const secret = readFileSync(at(p), 'utf8').trim();
      if (secret.length < 8) more.push(`${key}: ${p} holds no token`);
      return secret;
    } catch (err) {
      more.push(`${key}: cannot read ${p} (${(err as { code?: string }).code ?? String(err)})`);
      return undefined;
    }
  };
  let token = value.collector.token;
  if (value.collector.tokenFile !== undefined) {
    if (token !== undefined) more.push('collector.token, collector.tokenFile: give one or the other');
    token = readSecret('collector.tokenFile', value.collector.tokenFile);
  }
  const envFile = env['SPEEDWATCH_AGENT_TOKEN_FILE'];
  if (envFile !== undefined && envFile !== '') token = readSecret('SPEEDWATCH_AGENT_TOKEN_FILE', envFile);
  const envToken = env['SPEEDWATCH_AGENT_TOKEN'];
  if (envToken !== undefined && envToken !== '') token = envToken;
  if (token === undefined) more.push('collector.token: required (or collector.tokenFile, or SPEEDWATCH_AGENT_TOKEN)');

  let ca: string | undefined;
  if (value.collector.caFile !== undefined) {
    try {
      ca = readFileSync(at(value.collector.caFile), 'utf8');
    } catch (err) {
      more.push(`collector.caFile: cannot read ${value.collector.caFile} (${(err as { code?: string }).code ?? String(err)})`);
    }
  }
  const { urls, serverFile, server, caFile } = value.endpoints;
  if ((urls === undefined) === (serverFile === undefined)) more.push('endpoints: give exactly one of endpoints.urls or endpoints.serverFile');
  if (server !== undefined && serverFile === undefined) more.push('endpoints.server: only with endpoints.serverFile');
  let resolved: Endpoint[] = [];
  try {
    if (urls !== undefined) resolved = urls.map((u, i) => endpointFromBaseUrl(u, urls.length > 1 ? u : undefined, `endpoints.urls[${i}]`));
    if (serverFile !== undefined) resolved = endpointsFromServerList(JSON.parse(readFileSync(at(serverFile), 'utf8')), `endpoints.serverFile (${serverFile})`);
    if (server !== undefined && !resolved.some((e) => e.name === server)) more.push(`endpoints.server: ${JSON.stringify(server)} is not in ${serverFile ?? 'the list'}`);
  } catch (err) {
    more.push(err instanceof Error ? err.message : String(err));
  }
  const durationMsValue = value.test?.duration ?? AGENT_DEFAULTS.durationMs;
  const warmupMsValue = value.test?.warmup ?? Math.min(AGENT_DEFAULTS.warmupMs, durationMsValue / 4);
  if (warmupMsValue >= durationMsValue) more.push('test.warmup: must be shorter than test.duration');
  if (value.site.lat === undefined !== (value.site.lon === undefined)) more.push('site.lat, site.lon: give both or neither');
  if (more.length > 0) throw new AgentConfigError(file, more);

  const url = new URL(value.collector.url);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/agents';
  return Object.freeze({
    collector: { url: url.href, token: token as string, ...(ca === undefined ? {} : { ca }) },
    site: value.site,
    schedule: { intervalMs: value.schedule?.interval ?? AGENT_DEFAULTS.intervalMs },
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
      streams: value.test?.streams ?? AGENT_DEFAULTS.streams,
      latencyCount: value.test?.latencyCount ?? AGENT_DEFAULTS.latencyCount,
    },
    dataDir: at(value.dataDir),
    outbox: { maxBytes: value.outbox?.maxBytes ?? AGENT_DEFAULTS.outboxMaxBytes },
    logLevel: value.logLevel ?? 'info',
  });
}

/** The `speedwatch-agent once` arguments that run this config's test. */
export function onceArgs(config: AgentConfig): string[] {
  const e = config.endpoints;
  return [
    'once',
    '--json',
    ...(e.urls ?? []).flatMap((u) => ['--endpoint', u]),
    ...(e.serverFile === undefined ? [] : ['--server-file', e.serverFile]),
    ...(e.server === undefined ? [] : ['--server', e.server]),
    ...(e.caFile === undefined ? [] : ['--ca', e.caFile]),
    '--tests', config.test.tests.join(','),
    '--duration', `${config.test.durationMs}ms`,
    '--warmup', `${config.test.warmupMs}ms`,
    '--streams', String(config.test.streams),
    '--latency-count', String(config.test.latencyCount),
    '--technology', config.site.technology,
  ];
}
