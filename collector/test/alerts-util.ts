/**
 * Helpers for tests of the collector's alerts end to end in one process: a real collector on a
 * temp SQLite file whose clock is a number the test moves (backoff sleeps advance it instead of
 * waiting), agents added as the CLI adds them, results stored or sent through the WebSocket.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@speedwatch/shared';
import type { Logger } from '@speedwatch/shared';
import { onTestFinished } from 'vitest';
import type { AlertClock } from '../src/alerts/alert-clock.js';
import type { AlertsConfig, CollectorConfig } from '../src/config/collector-config.js';
import { COLLECTOR_DEFAULTS } from '../src/config/collector-config.js';
import { hashToken, newToken } from '../src/ingest/tokens.js';
import { startCollector } from '../src/server/collector-server.js';
import type { RunningCollector } from '../src/server/collector-server.js';
import { sqliteCollectorStore } from '../src/store/sqlite-collector-store.js';
import { openStore } from '../src/store/sqlite-store.js';
import type { SqliteStore } from '../src/store/sqlite-store.js';
import type { NewAgent } from '../src/store/store-types.js';
import { parseVerdictConfig } from '../src/verdict/verdict-config.js';
import { makeResult } from './ingest-util.js';
import { storeResults as storeBatch } from './store-util.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
/** Long enough that a rule never fires within a test. */
export const NEVER = 7 * 24 * HOUR;

/** Only SpeedwatchSiteBelowTarget fires (at once, unless overridden). */
export function forMs(overrides: Partial<AlertsConfig['forMs']> = {}): AlertsConfig['forMs'] {
  return { siteBelowTarget: 0, groupBelowTarget: NEVER, agentSilent: NEVER, agentDisconnected: NEVER, collectorRejecting: NEVER, agentDiskLow: NEVER, agentTestsFailing: NEVER, siteUdpLossHigh: NEVER, siteUdpJitterHigh: NEVER, siteUdpRoundTripHigh: NEVER, ...overrides };
}

export class FakeClock implements AlertClock {
  ms: number;
  /** Every backoff sleep asked for, ms. */
  readonly sleeps: number[] = [];
  constructor(start = Date.now()) {
    this.ms = start;
  }
  now = (): number => this.ms;
  sleep = (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.ms += ms;
    return Promise.resolve();
  };
}

/** `2026-11-25T23:00` in Asia/Ho_Chi_Minh (UTC+7), as ms. */
export function local(text: string): number {
  return Date.parse(`${text}:00+07:00`);
}

export interface Running {
  collector: RunningCollector;
  store: SqliteStore;
  clock: FakeClock;
  addAgent(id: string, site: Partial<NewAgent>): string;
  /** Stores results with these downloads (Mbps), started a minute apart before the clock's now. */
  storeResults(agentId: string, downloads: readonly number[], technology?: 'fixed' | 'mobile'): void;
  /** A maintenance (verdicts at the clock's time), then an evaluation and its delivery round. */
  evaluate(): Promise<void>;
  close(): Promise<void>;
}

export function tempDb(): string {
  return join(mkdtempSync(join(tmpdir(), 'sw-alerts-')), 'speedwatch.db');
}

export interface AlertingOptions {
  /** Keys of the collector's config other than `alerts` (a read token, …). */
  extra?: Partial<CollectorConfig>;
  /** Default: silent. */
  logger?: Logger;
  /** The collector's random number, 0..1: the backoff's jitter. Default 0.5. */
  random?: number;
}

/**
 * A collector on `dbPath` whose clock and backoff sleeps are `clock`'s: `alerts` over the
 * defaults, evaluated only when the test says (the timer never ticks); 3 tests make a verdict;
 * closed after the test.
 */
export async function startAlertingCollector(dbPath: string, clock: FakeClock, alerts: Partial<AlertsConfig>, options: AlertingOptions = {}): Promise<Running> {
  const store = openStore(dbPath);
  const config: CollectorConfig = {
    ...COLLECTOR_DEFAULTS,
    port: 0,
    db: dbPath,
    heartbeatMs: 200,
    ...options.extra,
    alerts: {
      ...COLLECTOR_DEFAULTS.alerts,
      // The timer never ticks in a test: evaluations are the test's calls.
      evaluateIntervalMs: 24 * HOUR,
      ...alerts,
    },
  };
  const random = options.random ?? 0.5;
  const collector = await startCollector(config, {
    store: sqliteCollectorStore(store),
    logger: options.logger ?? createLogger({ level: 'silent' }),
    verdictConfig: parseVerdictConfig({ minTests: { agent: 3 } }, 'verdicts'),
    now: clock.now,
    alertClock: clock,
    random: () => random,
  });
  let closed = false;
  const running: Running = {
    collector,
    store,
    clock,
    addAgent(id, site) {
      const token = newToken();
      store.agents.add({ id, name: `Site ${id}`, siteKind: 'school', technology: 'fixed', ...site }, hashToken(token), clock.now());
      // On SQLite the reload is done before this turn of the event loop ends: nothing to wait for.
      void collector.refreshAgents();
      return token;
    },
    storeResults(agentId, downloads, technology = 'fixed') {
      const results = downloads.map((mbps, i) => {
        const startedAt = new Date(clock.now() - (i + 1) * MIN).toISOString();
        return makeResult({ startedAt, finishedAt: new Date(Date.parse(startedAt) + 25_000).toISOString(), technology }, mbps);
      });
      storeBatch(store, agentId, results, clock.now());
    },
    async evaluate() {
      await collector.maintain();
      await collector.alerts.evaluate();
    },
    async close() {
      if (closed) return;
      closed = true;
      await collector.close();
      store.close();
    },
  };
  onTestFinished(() => running.close());
  return running;
}

/**
 * startAlertingCollector with `externalUrl` http://console.example/, only SpeedwatchSiteBelowTarget
 * firing, at once (forMs()), and a 2 s delivery timeout, unless `alerts` says otherwise.
 */
export async function startAlerting(dbPath: string, clock: FakeClock, alerts: Partial<AlertsConfig>, options: AlertingOptions = {}): Promise<Running> {
  return startAlertingCollector(
    dbPath,
    clock,
    { externalUrl: 'http://console.example/', forMs: forMs(), delivery: { ...COLLECTOR_DEFAULTS.alerts.delivery, timeoutMs: 2_000 }, ...alerts },
    options,
  );
}

/** GET an API path of the collector, as JSON. */
export async function api<T>(collector: RunningCollector, path: string): Promise<T> {
  const res = await fetch(`${collector.url}${path.replace(/^\//, '')}`);
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status}`);
  return (await res.json()) as T;
}
