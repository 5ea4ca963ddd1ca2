/**
 * A real Prometheus (Debian's `prometheus` package) on loopback scraping a live collector, and
 * agents that speak the real WebSocket protocol to it, for the tests of the shipped Prometheus
 * rules and Grafana dashboards. Everything started here has a closer.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import WebSocket from 'ws';
import { freePort } from './net.js';
import { BIN, startUntil, stopChild } from './processes.js';

/** The shipped rules: recording rules in Mbps and the alerts. */
export const RULES = new URL('../../collector/deploy/prometheus/speedwatch.rules.yml', import.meta.url).pathname;

/** The job name the rules (and docs/dashboards.md's scrape config) expect for the collector. */
export const COLLECTOR_JOB = 'speedwatch-collector';

/**
 * Why a Prometheus test cannot run here, or undefined when it can. A missing binary is a printed
 * skip, except under CI (`CI=true`), where it throws: there the test must run.
 */
export function prometheusUnavailable(suite: string): string | undefined {
  let why: string | undefined;
  try {
    execFileSync('prometheus', ['--version'], { stdio: 'ignore' });
  } catch {
    why = 'the prometheus binary is not installed (apt-get install -y prometheus)';
  }
  if (why === undefined) return undefined;
  if (process.env['CI'] === 'true') throw new Error(`${suite} cannot run under CI: ${why}`);
  console.warn(`${suite} SKIPPED: ${why}`);
  return why;
}

/** Polls `probe` every 250 ms until it returns a value; a probe that throws counts as not yet. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The envelope of every Prometheus HTTP API answer. */
export interface PromAnswer<T = unknown> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
  warnings?: string[];
}

/** One series of an instant (`value`) or range (`values`) query, values as Prometheus sends them (strings). */
export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

export interface PrometheusServer {
  url: string;
  /** GET `path` (e.g. `/api/v1/query`) with `params`; repeated parameters as arrays. Answers with any HTTP status. */
  api: <T = unknown>(path: string, params?: Record<string, string | readonly string[]>) => Promise<PromAnswer<T>>;
  /** An instant query's series (throws with Prometheus' error when it fails). */
  query: (expr: string) => Promise<PromSeries[]>;
  stop: () => Promise<void>;
}

/**
 * Starts Prometheus in `dir` with the shipped rules, scraping `target` (host:port) every second
 * as job `speedwatch-collector`, and resolves once it is ready.
 */
export async function startPrometheus(dir: string, target: string, timeoutMs = 30_000): Promise<PrometheusServer> {
  copyFileSync(RULES, join(dir, basename(RULES)));
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 1s, evaluation_interval: 1s }\nrule_files: [${basename(RULES)}]\n` +
      `scrape_configs:\n  - job_name: ${COLLECTOR_JOB}\n    static_configs: [{ targets: ['${target}'] }]\n`,
  );
  const port = await freePort();
  const child = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  child.once('error', (err) => {
    log += `\n${String(err)}`;
  });
  const url = `http://127.0.0.1:${port}`;
  const api = async <T>(path: string, params: Record<string, string | readonly string[]> = {}): Promise<PromAnswer<T>> => {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) for (const v of typeof value === 'string' ? [value] : value) search.append(key, v);
    const res = await fetch(`${url}${path}?${search.toString()}`);
    return (await res.json()) as PromAnswer<T>;
  };
  const server: PrometheusServer = {
    url,
    api,
    async query(expr) {
      const answer = await api<{ result: PromSeries[] }>('/api/v1/query', { query: expr });
      if (answer.status !== 'success') throw new Error(`${expr}: ${answer.errorType ?? ''} ${answer.error ?? ''}`);
      return answer.data.result;
    },
    stop: () => stopChild(child),
  };
  try {
    await until('Prometheus to be ready', async () => {
      if (child.exitCode !== null) throw new Error('exited');
      return (await fetch(`${url}/-/ready`)).ok ? true : undefined;
    }, timeoutMs);
  } catch (err) {
    await server.stop();
    throw new Error(`Prometheus did not start: ${(err as Error).message}\n${log}`);
  }
  return server;
}

/** A site as `speedwatch-collector agents add` takes it. */
export interface Site {
  id: string;
  siteKind: 'office' | 'school' | 'clinic' | 'other';
  technology: 'fixed' | 'mobile';
  isp?: string;
  area?: string;
  lat?: number;
  lon?: number;
}

export interface LiveCollector {
  /** Base URL, ending in `/`. */
  url: string;
  /** host:port, for a scrape config. */
  target: string;
  /** Each site's agent token. */
  tokens: ReadonlyMap<string, string>;
  stop: () => Promise<void>;
}

/**
 * Adds `sites` to a new database in `dir` and serves it on a free port. One test is enough for
 * a verdict (`minTests` 1) and verdicts refresh every second, so results show at once.
 */
export async function startCollector(dir: string, sites: readonly Site[]): Promise<LiveCollector> {
  const db = join(dir, 'collector.db');
  const tokens = new Map<string, string>();
  for (const site of sites) {
    const args = ['agents', 'add', '--db', db, '--id', site.id, '--name', site.id, '--site-kind', site.siteKind, '--technology', site.technology];
    if (site.isp !== undefined) args.push('--isp', site.isp);
    if (site.area !== undefined) args.push('--area', site.area);
    if (site.lat !== undefined && site.lon !== undefined) args.push('--lat', String(site.lat), '--lon', String(site.lon));
    tokens.set(site.id, execFileSync(process.execPath, [BIN.collector, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim());
  }
  const config = join(dir, 'collector.yaml');
  writeFileSync(config, `db: ${db}\nport: 0\nmaintenanceInterval: 1s\nverdicts:\n  minTests: { agent: 1, group: 1 }\n`);
  const running = await startUntil(process.execPath, [BIN.collector, 'serve', '--config', config, '--log-level', 'warn'], (l) => l.includes('"listening"'));
  const { url } = JSON.parse(running.line) as { url: string };
  return { url, target: new URL(url).host, tokens, stop: () => running.stop() };
}

/** A message from the collector (`welcome`, `ack`, `reject`, `error`). */
export interface CollectorMessage {
  type: string;
  ids?: string[];
  code?: string;
  [key: string]: unknown;
}

/** One agent's WebSocket to the collector, after its hello was welcomed. */
export class AgentConnection {
  readonly #ws: WebSocket;
  readonly #inbox = new Map<string, CollectorMessage[]>();
  readonly #waiting = new Map<string, ((m: CollectorMessage) => void)[]>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as CollectorMessage;
      const waiter = this.#waiting.get(message.type)?.shift();
      if (waiter !== undefined) waiter(message);
      else this.#inbox.set(message.type, [...(this.#inbox.get(message.type) ?? []), message]);
    });
  }

  /** Connects with `token`, says hello as agent `version` and waits for the welcome. */
  static async open(collectorUrl: string, token: string, version = 'test'): Promise<AgentConnection> {
    const ws = new WebSocket(`${collectorUrl.replace(/^http/, 'ws')}v1/agents`, { headers: { authorization: `Bearer ${token}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const connection = new AgentConnection(ws);
    connection.send(JSON.stringify({ type: 'hello', protocol: 1, agent: { version }, clock: new Date().toISOString() }));
    await connection.next('welcome');
    return connection;
  }

  /** Sends one frame as is. */
  send(frame: string): void {
    this.#ws.send(frame);
  }

  /** Sends a batch and resolves with the ids of the collector's ack (it acks only after the commit). */
  async results(results: readonly object[]): Promise<string[]> {
    this.send(JSON.stringify({ type: 'results', results }));
    return (await this.next('ack')).ids ?? [];
  }

  /** The next message of `type` (one already received and not yet taken, or the next to come). */
  next(type: string, timeoutMs = 10_000): Promise<CollectorMessage> {
    const queued = this.#inbox.get(type)?.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} message from the collector within ${timeoutMs} ms`)), timeoutMs);
      const waiters = this.#waiting.get(type) ?? [];
      waiters.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.#waiting.set(type, waiters);
    });
  }

  close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.#ws.once('close', () => resolve());
      this.#ws.close();
    });
  }
}

export interface TestValues {
  downloadMbps: number;
  uploadMbps?: number;
  /** Median idle latency; the other latency figures are made up around it. */
  latencyMs?: number;
  technology?: 'fixed' | 'mobile';
  /** Median latency while the download and while the upload ran (`loadedLatency`); the other loaded figures are made up around it. */
  loadedLatencyMs?: { download: number; upload: number };
  /** How long before now the test started (default 30 s); it lasted 25 s. */
  startedAgoMs?: number;
}

function throughput(mbps: number): Record<string, unknown> {
  // 8 s measured at `mbps`: mbps × 10^6 bit/s × 8 s / 8 bit per byte = mbps × 10^6 bytes.
  return { mbps, bytes: Math.round(mbps * 1e6), durationMs: 8000, streams: 4, warmupMs: 2000, totalBytes: Math.round(mbps * 1.25e6), sampleIntervalMs: 200, samplesMbps: [] };
}

/** A minimal valid `ok` result (shared/src/result/result-schema.ts) with the given figures. */
export function testResult(values: TestValues): Record<string, unknown> {
  const startedMs = Date.now() - (values.startedAgoMs ?? 30_000);
  const result: Record<string, unknown> = {
    schemaVersion: 1,
    id: randomUUID(),
    status: 'ok',
    startedAt: new Date(startedMs).toISOString(),
    finishedAt: new Date(startedMs + 25_000).toISOString(),
    technology: values.technology ?? 'mobile',
    download: throughput(values.downloadMbps),
  };
  if (values.uploadMbps !== undefined) result['upload'] = throughput(values.uploadMbps);
  if (values.latencyMs !== undefined) {
    const m = values.latencyMs;
    result['latency'] = { count: 3, minMs: m * 0.9, medianMs: m, meanMs: m, p90Ms: m * 1.1, maxMs: m * 1.1, jitterMs: m * 0.1, lossRatio: 0, samplesMs: [m * 0.9, m, m * 1.1] };
  }
  if (values.loadedLatencyMs !== undefined) {
    const loaded = (medianMs: number): Record<string, number> => ({ count: 20, medianMs, p90Ms: medianMs * 1.5, lossRatio: 0 });
    result['loadedLatency'] = { download: loaded(values.loadedLatencyMs.download), upload: loaded(values.loadedLatencyMs.upload) };
  }
  return result;
}
