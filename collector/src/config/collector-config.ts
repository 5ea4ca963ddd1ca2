/**
 * The collector's configuration: defaults, then a YAML or JSON file, then environment
 * variables, then flags (each overrides the one before). Validated once at start against a
 * schema that rejects unknown keys; every problem names its key. The result is frozen.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { LogLevel, WireLimits } from '@speedwatch/shared';
import { durationMs, LOG_LEVELS, number, object, oneOf, optional, parseAll, sizeBytes, SpeedwatchError, string } from '@speedwatch/shared';

export interface CollectorConfig {
  host: string;
  port: number;
  db: string;
  retentionDays: number;
  limits: WireLimits;
  /** Results dated further ahead of the collector's clock are rejected. */
  maxFutureSkewMs: number;
  heartbeatMs: number;
  /** How often roll-ups, retention and verdicts are refreshed. */
  maintenanceIntervalMs: number;
  /** When set, /api/v1/* and /metrics need `Authorization: Bearer <readToken>`. */
  readToken?: string;
  logLevel: LogLevel;
  /** The verdict section as given; validated by the verdict module. */
  verdicts?: unknown;
}

export const COLLECTOR_DEFAULTS: Readonly<CollectorConfig> = Object.freeze({
  host: '127.0.0.1',
  port: 8600,
  db: './data/speedwatch.db',
  retentionDays: 400,
  limits: Object.freeze({ maxFrameBytes: 1024 * 1024, maxBatch: 500, maxMessagesPerMinute: 120 }),
  maxFutureSkewMs: 10 * 60_000,
  heartbeatMs: 30_000,
  maintenanceIntervalMs: 60_000,
  logLevel: 'info',
});

export class ConfigError extends SpeedwatchError {
  readonly problems: string[];

  constructor(problems: string[]) {
    super('SW_CONFIG', `configuration is not valid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const port = number({ min: 0, max: 65535, integer: true });
const logLevel = oneOf(Object.keys(LOG_LEVELS) as LogLevel[]);

const fileSchema = object({
  host: optional(string({ minLength: 1, maxLength: 255 })),
  port: optional(port),
  db: optional(string({ minLength: 1, maxLength: 4096 })),
  retentionDays: optional(number({ min: 1, max: 36_500, integer: true })),
  limits: optional(
    object({
      maxFrameBytes: optional(sizeBytes(1024, 64 * 1024 * 1024)),
      maxBatch: optional(number({ min: 1, max: 10_000, integer: true })),
      maxMessagesPerMinute: optional(number({ min: 1, max: 1_000_000, integer: true })),
    }),
  ),
  maxFutureSkew: optional(durationMs(0, 7 * 86_400_000)),
  heartbeat: optional(durationMs(1000, 3_600_000)),
  maintenanceInterval: optional(durationMs(1000, 86_400_000)),
  readToken: optional(string({ minLength: 16, maxLength: 512 })),
  readTokenFile: optional(string({ minLength: 1, maxLength: 4096 })),
  logLevel: optional(logLevel),
  verdicts: optional({ expected: 'an object', parse: (v) => v }),
});

/** Overrides from the environment and flags, already split into keys of the file's shape. */
export type ConfigOverrides = Record<string, string | undefined>;

/** Environment variables the collector reads, and the file key each overrides. */
export const ENV_KEYS: Readonly<Record<string, string>> = Object.freeze({
  SPEEDWATCH_HOST: 'host',
  SPEEDWATCH_PORT: 'port',
  SPEEDWATCH_DB: 'db',
  SPEEDWATCH_READ_TOKEN: 'readToken',
  SPEEDWATCH_LOG_LEVEL: 'logLevel',
});

/**
 * Builds the configuration. `file` is a path to YAML or JSON (by content: JSON is YAML);
 * `env` and `flags` map file keys to text values. Throws ConfigError listing every problem.
 */
export function loadCollectorConfig(options: { file?: string; env?: NodeJS.ProcessEnv; flags?: ConfigOverrides }): Readonly<CollectorConfig> {
  const problems: string[] = [];
  let raw: Record<string, unknown> = {};
  if (options.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (err) {
      throw new ConfigError([`${options.file}: cannot read (${(err as { code?: string }).code ?? String(err)})`]);
    }
    try {
      const parsed: unknown = parseYaml(text);
      if (parsed !== null && parsed !== undefined) {
        if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError([`${options.file}: expected a mapping of keys at the top`]);
        raw = { ...(parsed as Record<string, unknown>) };
      }
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError([`${options.file}: not valid YAML or JSON: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`]);
    }
  }
  const override = (overrides: ConfigOverrides): void => {
    for (const [key, value] of Object.entries(overrides)) {
      if (value === undefined) continue;
      // Numbers arrive as text from env and flags; the schema wants them typed.
      raw[key] = key === 'port' || key === 'retentionDays' ? (/^\d+$/.test(value) ? Number(value) : value) : value;
    }
  };
  const env = options.env ?? {};
  override(Object.fromEntries(Object.entries(ENV_KEYS).map(([name, key]) => [key, env[name]])));
  override(options.flags ?? {});

  const outcome = parseAll(fileSchema, raw);
  problems.push(...outcome.problems);
  const parsed = outcome.value ?? {};
  if (parsed.readToken !== undefined && parsed.readTokenFile !== undefined) problems.push('readToken, readTokenFile: give one or the other');
  let readToken = parsed.readToken;
  if (parsed.readTokenFile !== undefined) {
    try {
      readToken = readFileSync(parsed.readTokenFile, 'utf8').trim();
      if (readToken.length < 16) problems.push(`readTokenFile: ${parsed.readTokenFile} holds fewer than 16 characters`);
    } catch (err) {
      problems.push(`readTokenFile: cannot read ${parsed.readTokenFile} (${(err as { code?: string }).code ?? String(err)})`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const d = COLLECTOR_DEFAULTS;
  return Object.freeze({
    host: parsed.host ?? d.host,
    port: parsed.port ?? d.port,
    db: parsed.db ?? d.db,
    retentionDays: parsed.retentionDays ?? d.retentionDays,
    limits: Object.freeze({
      maxFrameBytes: parsed.limits?.maxFrameBytes ?? d.limits.maxFrameBytes,
      maxBatch: parsed.limits?.maxBatch ?? d.limits.maxBatch,
      maxMessagesPerMinute: parsed.limits?.maxMessagesPerMinute ?? d.limits.maxMessagesPerMinute,
    }),
    maxFutureSkewMs: parsed.maxFutureSkew ?? d.maxFutureSkewMs,
    heartbeatMs: parsed.heartbeat ?? d.heartbeatMs,
    maintenanceIntervalMs: parsed.maintenanceInterval ?? d.maintenanceIntervalMs,
    logLevel: parsed.logLevel ?? d.logLevel,
    ...(readToken === undefined ? {} : { readToken }),
    ...(parsed.verdicts === undefined ? {} : { verdicts: parsed.verdicts }),
  });
}
