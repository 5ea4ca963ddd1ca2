/**
 * The collector's configuration: defaults, then a YAML or JSON file, then environment
 * variables, then flags (each overrides the one before). Validated once at start, verdicts
 * and alerts included, against a schema that rejects unknown keys: every problem is listed at
 * once with its key, in one ConfigError. The result is frozen.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { LogLevel, Problem, Schema, WireLimits } from '@speedwatch/shared';
import {
  array,
  boolean,
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
  sizeBytes,
  string,
  ValidationError,
  WIRE_LIMIT_RANGES,
} from '@speedwatch/shared';
import { EMPTY_FLEET_CONFIG, fleetConfigOf, fleetConfigSchema, namedAgentVersions } from '../fleet/fleet-settings.js';
import type { FleetConfig } from '../fleet/fleet-settings.js';
import { loadReleases } from '../releases/release-dir.js';
import type { ReleasesConfig } from '../releases/release-dir.js';
import type { RouteConfig } from '../alerts/alert-routes.js';
import type { ChannelConfig } from '../alerts/channels/channel-config.js';
import { isTimeZone } from '@speedwatch/shared';
import { channelNamesIn, channelsSchema, checkUniqueNames, resolveAlertRouting, routesSchema } from './alert-routing-config.js';
import { parsePostgresUrl, POSTGRES_DEFAULTS } from '../store/postgres/postgres-connection.js';
import { DEFAULT_VERDICT_CONFIG, verdictConfigSchema } from '../verdict/verdict-config.js';
import { httpUrl } from './http-url.js';
import { readSecretFile } from './secret.js';
import type { VerdictConfig } from '../verdict/verdict-config.js';

/**
 * Where results, agents and roll-ups are kept: the SQLite file `db` (the default), or a
 * PostgreSQL database (docs/operations.md, "PostgreSQL").
 */
export type StoreConfig =
  | { kind: 'sqlite' }
  | {
      kind: 'postgres';
      /** postgres://ROLE@HOST[:PORT]/DATABASE[?sslmode=…][&host=/socket/dir], without a password. */
      url: string;
      /** From `store.passwordFile` or SPEEDWATCH_PG_PASSWORD; absent: the server's own rules (peer, ~/.pgpass). Never logged. */
      password?: string;
      /** Connections of the serving thread's pool. */
      poolSize: number;
    };

export interface CollectorConfig {
  host: string;
  port: number;
  /** The SQLite file. Not used with a PostgreSQL store (everything, the alerts' state included, is there). */
  db: string;
  store: StoreConfig;
  retentionDays: number;
  limits: WireLimits;
  /** Results dated further ahead of the collector's clock are rejected. */
  maxFutureSkewMs: number;
  heartbeatMs: number;
  /** How often roll-ups, retention and verdicts are refreshed. */
  maintenanceIntervalMs: number;
  /**
   * With several collectors on one PostgreSQL database: the time to live of the lease whose
   * holder runs maintenance, verdicts and alerts for all, ms; renewed every third of it, taken
   * over within 4/3 of it when its holder dies (cluster/lease.ts). Unused on SQLite.
   */
  leaseTtlMs: number;
  /** When set, /api/v1/* and /metrics need `Authorization: Bearer <readToken>`. */
  readToken?: string;
  /**
   * When set, the API's actions (`POST /api/v1/tests`, `/pause`, `/resume`) take
   * `Authorization: Bearer <adminToken>`, which also reads what the read token reads. Unset:
   * the actions are refused.
   */
  adminToken?: string;
  /** When set, the collector serves https and wss only, with this PEM certificate chain and key. */
  tls?: { cert: Buffer; key: Buffer };
  logLevel: LogLevel;
  /**
   * The IANA time zone the console shows times in and reports read dates in (a month, a
   * `--from 2026-11-01`); default Asia/Ho_Chi_Minh, whatever zone the server runs in.
   */
  timeZone: string;
  /** What verdicts are judged against (docs/verdicts.md): the file's `verdicts`, defaults filled in. */
  verdicts: VerdictConfig;
  /** The collector's own alerts (docs/alerts.md). */
  alerts: AlertsConfig;
  /** The test settings pushed to agents (docs/fleet.md): defaults and overrides. */
  fleet: FleetConfig;
  /**
   * The agent releases served at /v1/releases/ (docs/fleet.md, "Upgrades"): the tarball of each
   * version `fleet` names, hashed when this config was loaded. Absent without `releases.dir`.
   */
  releases?: ReleasesConfig;
}

/** How long each alert's condition must hold before it fires (Prometheus' `for`), ms. */
export interface AlertForDurations {
  siteBelowTarget: number;
  groupBelowTarget: number;
  agentSilent: number;
  agentDisconnected: number;
  collectorRejecting: number;
  agentDiskLow: number;
  agentTestsFailing: number;
  siteUdpLossHigh: number;
  siteUdpJitterHigh: number;
  siteUdpRoundTripHigh: number;
}

/** The fleet-health alerts' thresholds, judged on each agent's latest health report. */
export interface FleetHealthThresholds {
  /** SpeedwatchAgentDiskLow below this many bytes free in the agent's data directory. */
  diskFreeBelowBytes: number;
  /** SpeedwatchAgentTestsFailing at this many failed tests in a row… */
  failedTestsInARow: number;
  /** …or when the latest ok test finished more than this long (ms) before the report. */
  okTestWithinMs: number;
}

/** Delivery of notifications to webhooks. */
export interface AlertDelivery {
  /** Bound on one POST, body included, ms. */
  timeoutMs: number;
  /** POSTs per delivery round before the notification waits for a later round. */
  attempts: number;
  /** Delay before the first retry, ms; doubles at each further attempt, with jitter. */
  backoffMs: number;
  /** Longest delay between two attempts, ms, within a round or between rounds. */
  maxBackoffMs: number;
  /** POSTs in flight at once, over all webhooks. */
  concurrency: number;
}

export interface AlertsConfig {
  /**
   * Alertmanager-style webhook receivers (http or https URLs), each a route of its own that
   * takes every alert. With no webhook and no route, alerts are evaluated and listed only.
   */
  webhooks: readonly string[];
  /** Where routes send (docs/alerts.md#channels): e-mail, Telegram, Zalo, ntfy, webhooks; secrets read. */
  channels: readonly ChannelConfig[];
  /** Which alerts go to which channel, in which language, when (docs/alerts.md#routes). */
  routes: readonly RouteConfig[];
  /** How often the conditions are evaluated, ms. */
  evaluateIntervalMs: number;
  /** The agents' test interval, ms: an agent is silent after three of them without a result. */
  scheduleIntervalMs: number;
  /** The verdict window whose `below` makes SpeedwatchSiteBelowTarget; one of `verdicts.windows`. */
  verdictWindow: string;
  /**
   * Before SpeedwatchSiteBelowTarget fires, ask the site's agent for a test now and fire only if
   * it is below too (an agent that cannot be asked: its next result). Default false.
   */
  confirmBelowTarget: boolean;
  /**
   * When set, a site that declares a contracted speed (`contractMbps`) is also below target when
   * its window's median download is under this share of the contract (0.8: below 80 % of what it
   * pays for), even where the plan's target is met. Unset: the plan's target alone.
   */
  belowShareOfContract?: number;
  /** Base of `externalURL` and `generatorURL` in notifications; the collector's own URL when absent. */
  externalUrl?: string;
  forMs: Readonly<AlertForDurations>;
  fleetHealth: Readonly<FleetHealthThresholds>;
  delivery: Readonly<AlertDelivery>;
}

export const COLLECTOR_DEFAULTS: Readonly<CollectorConfig> = Object.freeze({
  host: '127.0.0.1',
  port: 8600,
  db: './data/speedwatch.db',
  store: Object.freeze({ kind: 'sqlite' as const }),
  retentionDays: 400,
  limits: Object.freeze({ maxFrameBytes: 1024 * 1024, maxBatch: 500, maxMessagesPerMinute: 120 }),
  maxFutureSkewMs: 10 * 60_000,
  heartbeatMs: 30_000,
  maintenanceIntervalMs: 60_000,
  leaseTtlMs: 15_000,
  logLevel: 'info',
  timeZone: 'Asia/Ho_Chi_Minh',
  verdicts: DEFAULT_VERDICT_CONFIG,
  // The `for` durations and the 15-minute schedule are those of the shipped Prometheus rules
  // (deploy/prometheus/speedwatch.rules.yml), so both ways of alerting say the same thing.
  alerts: Object.freeze({
    webhooks: Object.freeze([]),
    channels: Object.freeze([]),
    routes: Object.freeze([]),
    evaluateIntervalMs: 60_000,
    scheduleIntervalMs: 15 * 60_000,
    verdictWindow: '24h',
    confirmBelowTarget: false,
    forMs: Object.freeze({
      siteBelowTarget: 3_600_000,
      groupBelowTarget: 6 * 3_600_000,
      agentSilent: 5 * 60_000,
      agentDisconnected: 15 * 60_000,
      collectorRejecting: 10 * 60_000,
      agentDiskLow: 15 * 60_000,
      agentTestsFailing: 5 * 60_000,
      siteUdpLossHigh: 30 * 60_000,
      siteUdpJitterHigh: 30 * 60_000,
      siteUdpRoundTripHigh: 30 * 60_000,
    }),
    fleetHealth: Object.freeze({ diskFreeBelowBytes: 100_000_000, failedTestsInARow: 3, okTestWithinMs: 6 * 3_600_000 }),
    delivery: Object.freeze({ timeoutMs: 10_000, attempts: 4, backoffMs: 1000, maxBackoffMs: 5 * 60_000, concurrency: 4 }),
  }),
  fleet: EMPTY_FLEET_CONFIG,
});

/** The configuration is not usable; `problems` lists every problem, each with its key path. */
export class ConfigError extends OptionsError {
  constructor(problems: readonly Problem[]) {
    super('SW_CONFIG', 'configuration is not valid', problems);
    this.name = 'ConfigError';
  }
}

const port = number({ min: 0, max: 65535, integer: true });
const logLevel = oneOf(Object.keys(LOG_LEVELS) as LogLevel[]);

/** An IANA time zone this runtime knows. */
const timeZoneName: Schema<string> = {
  expected: 'an IANA time zone such as Asia/Ho_Chi_Minh',
  parse(value, path = '') {
    if (typeof value !== 'string' || value.length > 64 || !isTimeZone(value)) {
      throw new ValidationError(path, `an IANA time zone such as Asia/Ho_Chi_Minh, got ${JSON.stringify(typeof value === 'string' ? value.slice(0, 64) : typeof value)}`);
    }
    return value;
  },
};
const forDuration = optional(durationMs(0, 7 * 86_400_000));

/** The read token; a refused one is described by its length, never echoed (it is a secret, if a short one). */
const readTokenText: Schema<string> = {
  expected: 'a string of 16 to 512 characters',
  parse(value, path = '') {
    if (typeof value !== 'string' || value.length < 16 || value.length > 512) {
      throw new ValidationError(path, `a string of 16 to 512 characters, got ${typeof value === 'string' ? `${value.length} characters` : typeof value}`);
    }
    return value;
  },
};

const fileSchema = refine(
  refine(
    refine(
      object({
        host: optional(string({ minLength: 1, maxLength: 255 })),
        port: optional(port),
        db: optional(string({ minLength: 1, maxLength: 4096 })),
        store: optional(
          object({
            kind: optional(oneOf(['sqlite', 'postgres'] as const)),
            url: optional(string({ minLength: 1, maxLength: 4096 })),
            passwordFile: optional(string({ minLength: 1, maxLength: 4096 })),
            poolSize: optional(number({ min: 1, max: 100, integer: true })),
          }),
        ),
        retentionDays: optional(number({ min: 1, max: 36_500, integer: true })),
        limits: optional(
          object({
            // The ranges agents accept in welcome: a collector cannot be configured into one they refuse.
            maxFrameBytes: optional(sizeBytes(WIRE_LIMIT_RANGES.maxFrameBytes.min, WIRE_LIMIT_RANGES.maxFrameBytes.max)),
            maxBatch: optional(number({ ...WIRE_LIMIT_RANGES.maxBatch, integer: true })),
            maxMessagesPerMinute: optional(number({ ...WIRE_LIMIT_RANGES.maxMessagesPerMinute, integer: true })),
          }),
        ),
        maxFutureSkew: optional(durationMs(0, 7 * 86_400_000)),
        heartbeat: optional(durationMs(1000, 3_600_000)),
        maintenanceInterval: optional(durationMs(1000, 86_400_000)),
        leaseTtl: optional(durationMs(1000, 600_000)),
        readToken: optional(readTokenText),
        readTokenFile: optional(string({ minLength: 1, maxLength: 4096 })),
        adminToken: optional(readTokenText),
        adminTokenFile: optional(string({ minLength: 1, maxLength: 4096 })),
        tlsCertFile: optional(string({ minLength: 1, maxLength: 4096 })),
        tlsKeyFile: optional(string({ minLength: 1, maxLength: 4096 })),
        logLevel: optional(logLevel),
        timeZone: optional(timeZoneName),
        verdicts: optional(verdictConfigSchema),
        fleet: optional(fleetConfigSchema),
        releases: optional(object({ dir: string({ minLength: 1, maxLength: 4096 }) })),
        alerts: optional(
          object({
            webhooks: optional(
              refine(array(httpUrl, { maxItems: 20 }), (urls, report, path) => {
                urls.forEach((url, index) => {
                  const first = urls.indexOf(url);
                  if (first !== index) report(`[${index}]`, 'a URL not listed before', `the same URL as ${path}[${first}]`);
                });
              }),
            ),
            channels: optional(channelsSchema),
            routes: optional(routesSchema),
            evaluateInterval: optional(durationMs(1000, 86_400_000)),
            scheduleInterval: optional(durationMs(1000, 86_400_000)),
            verdictWindow: optional(string({ minLength: 1, maxLength: 40 })),
            confirmBelowTarget: optional(boolean()),
            belowShareOfContract: optional(number({ min: 0.01, max: 1 })),
            externalUrl: optional(httpUrl),
            for: optional(
              object({
                siteBelowTarget: forDuration,
                groupBelowTarget: forDuration,
                agentSilent: forDuration,
                agentDisconnected: forDuration,
                collectorRejecting: forDuration,
                agentDiskLow: forDuration,
                agentTestsFailing: forDuration,
                siteUdpLossHigh: forDuration,
                siteUdpJitterHigh: forDuration,
                siteUdpRoundTripHigh: forDuration,
              }),
            ),
            fleetHealth: optional(
              object({
                diskFreeBelow: optional(sizeBytes(0, Number.MAX_SAFE_INTEGER)),
                failedTestsInARow: optional(number({ min: 1, max: 10_000, integer: true })),
                okTestWithin: optional(durationMs(60_000, 365 * 86_400_000)),
              }),
            ),
            delivery: optional(
              refine(
                object({
                  timeout: optional(durationMs(100, 300_000)),
                  attempts: optional(number({ min: 1, max: 20, integer: true })),
                  backoff: optional(durationMs(10, 3_600_000)),
                  maxBackoff: optional(durationMs(10, 86_400_000)),
                  concurrency: optional(number({ min: 1, max: 64, integer: true })),
                }),
                ['backoff', 'maxBackoff'],
                (delivery, report, path) => {
                  if (delivery.backoff !== undefined && delivery.maxBackoff !== undefined && delivery.maxBackoff < delivery.backoff) {
                    report('maxBackoff', `at least ${path}.backoff`);
                  }
                },
              ),
            ),
          }),
        ),
      }),
      ['readToken', 'readTokenFile'],
      (config, report) => {
        if (config.readToken !== undefined && config.readTokenFile !== undefined) report('readTokenFile', 'readToken or readTokenFile', 'give readToken or readTokenFile, not both');
        if (config.adminToken !== undefined && config.adminTokenFile !== undefined) report('adminTokenFile', 'adminToken or adminTokenFile', 'give adminToken or adminTokenFile, not both');
      },
    ),
    ['tlsCertFile', 'tlsKeyFile'],
    (config, report) => {
      if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined)) {
        const missing = config.tlsCertFile === undefined ? 'tlsCertFile' : 'tlsKeyFile';
        report(missing, 'tlsCertFile and tlsKeyFile together', 'give both tlsCertFile and tlsKeyFile to serve https and wss, or neither');
      }
    },
  ),
  // The alerts' window must be one the verdicts compute, the defaults' included.
  ['alerts.verdictWindow', 'verdicts'],
  (config, report) => {
    const window = config.alerts?.verdictWindow ?? COLLECTOR_DEFAULTS.alerts.verdictWindow;
    const windows = (config.verdicts?.windows ?? DEFAULT_VERDICT_CONFIG.windows).map((w) => w.name);
    if (!windows.includes(window)) {
      const given = config.alerts?.verdictWindow === undefined ? ' (the default)' : '';
      report('alerts.verdictWindow', `one of the verdict windows ${windows.map((w) => JSON.stringify(w)).join(', ')}, got ${JSON.stringify(window)}${given}`);
    }
  },
);

/** Overrides from the environment and flags, already split into keys of the file's shape. */
export type ConfigOverrides = Record<string, string | undefined>;

/** Environment variables the collector reads, and the file key each overrides. */
export const ENV_KEYS: Readonly<Record<string, string>> = Object.freeze({
  SPEEDWATCH_HOST: 'host',
  SPEEDWATCH_PORT: 'port',
  SPEEDWATCH_DB: 'db',
  SPEEDWATCH_READ_TOKEN: 'readToken',
  SPEEDWATCH_ADMIN_TOKEN: 'adminToken',
  SPEEDWATCH_TLS_CERT_FILE: 'tlsCertFile',
  SPEEDWATCH_TLS_KEY_FILE: 'tlsKeyFile',
  SPEEDWATCH_LOG_LEVEL: 'logLevel',
});

/**
 * Builds the configuration. `file` is a path to YAML or JSON (by content: JSON is YAML);
 * `env` and `flags` map file keys to text values. Throws ConfigError listing every problem:
 * the schema's, and those of the files it names (read token, TLS certificate and key).
 */
export function loadCollectorConfig(options: { file?: string; env?: NodeJS.ProcessEnv; flags?: ConfigOverrides }): Readonly<CollectorConfig> {
  const raw = options.file === undefined ? {} : readConfigFile(options.file);
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

  // The files named by keys that are valid are read even when other keys are not, so that one
  // run lists every problem.
  const { value: parsed, partial, problems: schemaProblems } = parseAll(fileSchema, raw);
  const problems: Problem[] = [...schemaProblems];
  const readError = (err: unknown): string => (err as { code?: string }).code ?? String(err);
  const secret = (given: string | undefined, fileKey: string, file: string | undefined): string | undefined =>
    file === undefined ? given : readSecretFile(file, fileKey, problems, { minLength: 16 });
  const store = storeConfig(partial?.store, env, problems);
  const readToken = secret(partial?.readToken, 'readTokenFile', partial?.readTokenFile);
  const adminToken = secret(partial?.adminToken, 'adminTokenFile', partial?.adminTokenFile);
  if (adminToken !== undefined && adminToken === readToken) problems.push(problemAt('adminToken', 'must differ from readToken: whoever reads dashboards must not start tests'));
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (partial?.tlsCertFile !== undefined && partial.tlsKeyFile !== undefined) {
    const read = (key: string, file: string, marker: RegExp, what: string): Buffer | undefined => {
      try {
        const pem = readFileSync(file);
        if (marker.test(pem.toString('latin1'))) return pem;
        problems.push(problemAt(key, `${file} holds no PEM ${what}`));
      } catch (err) {
        problems.push(problemAt(key, `cannot read ${file} (${readError(err)})`));
      }
      return undefined;
    };
    const cert = read('tlsCertFile', partial.tlsCertFile, /-----BEGIN CERTIFICATE-----/, 'certificate');
    const key = read('tlsKeyFile', partial.tlsKeyFile, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'private key');
    if (cert !== undefined && key !== undefined) tls = { cert, key };
  }
  // Secrets of valid channels are read even when another key is bad, so that one run lists every problem.
  checkUniqueNames(raw, problems);
  const routing = resolveAlertRouting(partial?.alerts, channelNamesIn(raw), env, problems);
  // Every agentVersion must have its tarball in releases.dir: a reload naming a missing one is refused.
  const releases = loadReleases(partial?.releases?.dir, namedAgentVersions(fleetConfigOf(partial?.fleet)), problems);
  if (parsed === undefined || problems.length > 0) throw new ConfigError(problems);
  const d = COLLECTOR_DEFAULTS;
  const da = d.alerts;
  const alertsFor = parsed.alerts?.for;
  const fleetHealth = parsed.alerts?.fleetHealth;
  const delivery = parsed.alerts?.delivery;
  const externalUrl = parsed.alerts?.externalUrl;
  const alerts: AlertsConfig = Object.freeze({
    webhooks: Object.freeze([...(parsed.alerts?.webhooks ?? [])]),
    channels: Object.freeze(routing.channels),
    routes: Object.freeze(routing.routes),
    evaluateIntervalMs: parsed.alerts?.evaluateInterval ?? da.evaluateIntervalMs,
    scheduleIntervalMs: parsed.alerts?.scheduleInterval ?? da.scheduleIntervalMs,
    verdictWindow: parsed.alerts?.verdictWindow ?? da.verdictWindow,
    confirmBelowTarget: parsed.alerts?.confirmBelowTarget ?? da.confirmBelowTarget,
    ...(parsed.alerts?.belowShareOfContract === undefined ? {} : { belowShareOfContract: parsed.alerts.belowShareOfContract }),
    ...(externalUrl === undefined ? {} : { externalUrl: externalUrl.endsWith('/') ? externalUrl : `${externalUrl}/` }),
    forMs: Object.freeze({
      siteBelowTarget: alertsFor?.siteBelowTarget ?? da.forMs.siteBelowTarget,
      groupBelowTarget: alertsFor?.groupBelowTarget ?? da.forMs.groupBelowTarget,
      agentSilent: alertsFor?.agentSilent ?? da.forMs.agentSilent,
      agentDisconnected: alertsFor?.agentDisconnected ?? da.forMs.agentDisconnected,
      collectorRejecting: alertsFor?.collectorRejecting ?? da.forMs.collectorRejecting,
      agentDiskLow: alertsFor?.agentDiskLow ?? da.forMs.agentDiskLow,
      agentTestsFailing: alertsFor?.agentTestsFailing ?? da.forMs.agentTestsFailing,
      siteUdpLossHigh: alertsFor?.siteUdpLossHigh ?? da.forMs.siteUdpLossHigh,
      siteUdpJitterHigh: alertsFor?.siteUdpJitterHigh ?? da.forMs.siteUdpJitterHigh,
      siteUdpRoundTripHigh: alertsFor?.siteUdpRoundTripHigh ?? da.forMs.siteUdpRoundTripHigh,
    }),
    fleetHealth: Object.freeze({
      diskFreeBelowBytes: fleetHealth?.diskFreeBelow ?? da.fleetHealth.diskFreeBelowBytes,
      failedTestsInARow: fleetHealth?.failedTestsInARow ?? da.fleetHealth.failedTestsInARow,
      okTestWithinMs: fleetHealth?.okTestWithin ?? da.fleetHealth.okTestWithinMs,
    }),
    delivery: Object.freeze({
      timeoutMs: delivery?.timeout ?? da.delivery.timeoutMs,
      attempts: delivery?.attempts ?? da.delivery.attempts,
      backoffMs: delivery?.backoff ?? da.delivery.backoffMs,
      maxBackoffMs: delivery?.maxBackoff ?? Math.max(da.delivery.maxBackoffMs, delivery?.backoff ?? 0),
      concurrency: delivery?.concurrency ?? da.delivery.concurrency,
    }),
  });
  return Object.freeze({
    host: parsed.host ?? d.host,
    port: parsed.port ?? d.port,
    db: parsed.db ?? d.db,
    store: Object.freeze(store),
    retentionDays: parsed.retentionDays ?? d.retentionDays,
    limits: Object.freeze({
      maxFrameBytes: parsed.limits?.maxFrameBytes ?? d.limits.maxFrameBytes,
      maxBatch: parsed.limits?.maxBatch ?? d.limits.maxBatch,
      maxMessagesPerMinute: parsed.limits?.maxMessagesPerMinute ?? d.limits.maxMessagesPerMinute,
    }),
    maxFutureSkewMs: parsed.maxFutureSkew ?? d.maxFutureSkewMs,
    heartbeatMs: parsed.heartbeat ?? d.heartbeatMs,
    maintenanceIntervalMs: parsed.maintenanceInterval ?? d.maintenanceIntervalMs,
    leaseTtlMs: parsed.leaseTtl ?? d.leaseTtlMs,
    logLevel: parsed.logLevel ?? d.logLevel,
    timeZone: parsed.timeZone ?? d.timeZone,
    ...(readToken === undefined ? {} : { readToken }),
    ...(adminToken === undefined ? {} : { adminToken }),
    ...(tls === undefined ? {} : { tls: Object.freeze(tls) }),
    verdicts: parsed.verdicts ?? d.verdicts,
    alerts,
    fleet: fleetConfigOf(parsed.fleet, parsed.timeZone ?? d.timeZone),
    ...(releases === undefined ? {} : { releases: Object.freeze(releases) }),
  });
}

/** The PostgreSQL password: in the environment, for a deployment whose secrets come that way. */
export const PG_PASSWORD_ENV = 'SPEEDWATCH_PG_PASSWORD';

/** `store` as given, checked: a postgres store needs a usable URL and at most one source of password. */
function storeConfig(
  given: { kind?: 'sqlite' | 'postgres' | undefined; url?: string | undefined; passwordFile?: string | undefined; poolSize?: number | undefined } | undefined,
  env: NodeJS.ProcessEnv,
  problems: Problem[],
): StoreConfig {
  const kind = given?.kind ?? 'sqlite';
  if (kind === 'sqlite') {
    for (const key of ['url', 'passwordFile', 'poolSize'] as const) {
      if (given?.[key] !== undefined) problems.push(problemAt(`store.${key}`, 'only with store.kind: postgres'));
    }
    return { kind };
  }
  let url = '';
  if (given?.url === undefined) {
    problems.push(problemAt('store.url', 'required with store.kind: postgres, e.g. postgres://speedwatch@db.example.org:5432/speedwatch'));
  } else {
    const parts = parsePostgresUrl(given.url);
    // The URL is not echoed: a password in it is exactly the mistake this catches.
    if ('problem' in parts) problems.push(problemAt('store.url', `expected ${parts.problem}`));
    else url = given.url;
  }
  const fromEnv = env[PG_PASSWORD_ENV];
  let password: string | undefined;
  if (given?.passwordFile !== undefined) {
    if (fromEnv !== undefined) problems.push(problemAt('store.passwordFile', `give the password in store.passwordFile or ${PG_PASSWORD_ENV}, not both`));
    // Spaces at either end may be part of a password: only the file's final newline goes.
    password = readSecretFile(given.passwordFile, 'store.passwordFile', problems, { keepSpaces: true });
  } else if (fromEnv !== undefined && fromEnv !== '') {
    password = fromEnv;
  }
  return { kind, url, ...(password === undefined ? {} : { password }), poolSize: given?.poolSize ?? POSTGRES_DEFAULTS.poolSize };
}

/** The file's keys, as a mutable copy; a file that cannot be used is a ConfigError of its own. */
function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([problemAt('', `${file}: cannot read (${(err as { code?: string }).code ?? String(err)})`)]);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError([problemAt('', `${file}: not valid YAML or JSON: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`)]);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError([problemAt('', `${file}: expected a mapping of keys at the top`)]);
  return { ...(parsed as Record<string, unknown>) };
}
