/**
 * Fleet simulator: `npm run bench:fleet -- --agents N`. Thousands of light simulated agents
 * (fleet-agent.ts), each with its own token, speak protocol v1 to the real collector process,
 * from one or two agents processes (fleet-agents.ts) so that the collector's CPU and memory are
 * its own. Phases:
 *   1. connect: every agent says hello and is welcomed;
 *   2. hold: each agent sends a result every ~interval (compressed time, ±50%) and answers the
 *      collector's pings (short heartbeat); at each result it may drop its connection (random
 *      reconnects, sometimes with a batch unacked) and reconnects with the agent's backoff.
 *      Afterwards the connections gauge must equal N and no agent may have been dropped by the
 *      collector's heartbeat;
 *   3. reconnect storm: every agent goes offline, accumulates a backlog, then all reconnect at
 *      once and replay it; results/s until the last is acked.
 * At the end every result id made is compared with the database: nothing acked may be missing
 * (lost), nothing stored twice or for the wrong agent. Prints a table, then one JSON line; exits
 * 1 when the fleet was not held or a result was lost or duplicated.
 *
 * With `--collectors N` (N ≥ 2), N collector processes share one PostgreSQL database (a
 * throwaway cluster with fsync on, collector/test/postgres-cluster.ts), the agents processes
 * spread over them (agents process p connects to collector p mod N): the gauges are summed,
 * the settings push goes to each, and the ids are compared with PostgreSQL's rows.
 *
 * The collector's RSS is sampled from /proc/PID/status every 200 ms. Progress goes to stderr.
 * Every child process and the temp directory are removed, also on failure.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { parseDurationMs, UsageError } from '@speedwatch/shared';
// Types only: the collector's package exports no store, so the built files are loaded by path
// at run time (as collector-bench.ts does).
import type * as TokensModule from '../../collector/src/ingest/tokens.js';
import type * as StoreModule from '../../collector/src/store/sqlite-store.js';
import type * as PostgresStoreModule from '../../collector/src/store/postgres/postgres-store.js';
import type * as PostgresClusterModule from '../../collector/test/postgres-cluster.js';
import type { PostgresCluster } from '../../collector/test/postgres-cluster.js';
import type { BenchRow } from './collector-bench.js';
import { formatBenchTable } from './collector-bench.js';
import { NodeChild, scoped } from './bench-process.js';
import type { Scope } from './bench-process.js';
import type { FleetAgentsPlan, FleetCommand, FleetCounters, FleetEvent } from './fleet-protocol.js';
import { fleetAgentId, fleetSite, zeroCounters } from './fleet-protocol.js';

const HERE = dirname(fileURLToPath(import.meta.url));
// The repository root, from test/dist/bench/ (compiled) or test/bench/ (source).
const ROOT = HERE.slice(0, HERE.lastIndexOf('/test/') + 1) || `${HERE}/../../`;
const COLLECTOR_BIN = join(ROOT, 'collector/dist/src/bin/speedwatch-collector.js');
const AGENTS_SCRIPT = join(HERE, 'fleet-agents.js');

const USAGE = `Usage: npm run bench:fleet -- [options]
       node test/dist/bench/fleet.js [options]

Simulated agents, each with its own token, hold connections to a real collector process on
loopback, send results at a compressed pace with random reconnects, then all reconnect at once
and replay a backlog. Prints a table, then one JSON line; exits 1 if the fleet was not held
(heartbeat drops, connections gauge not N) or a result was lost or stored twice.

Options:
  --agents N                simulated agents (default 10000)
  --processes N             agents processes (default 1 up to 5000 agents, else 2; at least --collectors)
  --collectors N            collector processes sharing one PostgreSQL database (default 1: one
                            collector on SQLite); each agents process connects to one of them
  --heartbeat DURATION      the collector's heartbeat, and the agents' own ping (default 5s)
  --hold DURATION           phase 2, at least two heartbeats (default 60s)
  --interval DURATION       mean time between two results of one agent, ±50% (default 20s)
  --drop-chance X           chance an agent drops its connection at a result, 0..1 (default 0.02)
  --backlog N               results each agent replays in the storm (default 20)
  --batch N                 results per message at most, the agent's default (default 100)
  --connect-concurrency N   handshakes in progress at once per process at the start (default 200)
  --scrape-every DURATION   GET /metrics as Prometheus would, throughout (default 15s)
  --collector-log-level L   warn (default; heartbeat misses are warnings), info or debug
  --cpu-prof DIR            write V8 CPU profiles of the collector's threads to DIR (node --cpu-prof)
  --keep                    keep the temp directory (database, logs, id files)
  --help                    this text

Durations take a unit (500ms, 5s, 2m) or are seconds.`;

const OPTIONS = {
  agents: { type: 'string' },
  processes: { type: 'string' },
  collectors: { type: 'string' },
  heartbeat: { type: 'string' },
  hold: { type: 'string' },
  interval: { type: 'string' },
  'drop-chance': { type: 'string' },
  backlog: { type: 'string' },
  batch: { type: 'string' },
  'connect-concurrency': { type: 'string' },
  'scrape-every': { type: 'string' },
  'collector-log-level': { type: 'string' },
  'cpu-prof': { type: 'string' },
  keep: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

export interface FleetOptions {
  agents: number;
  processes: number;
  /** Collector processes; 2 or more share one PostgreSQL database, 1 is a collector on SQLite. */
  collectors: number;
  heartbeatMs: number;
  holdMs: number;
  intervalMs: number;
  dropChance: number;
  backlog: number;
  batch: number;
  connectConcurrency: number;
  scrapeEveryMs: number;
  /** The collector's log level; its log is collector.log in the temp directory. */
  collectorLogLevel: 'warn' | 'info' | 'debug';
  /** Directory for V8 CPU profiles of the collector's threads (node --cpu-prof), when set. */
  cpuProfDir?: string;
  keep: boolean;
}

function integerFlag(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text.trim().replace(/_/g, ''));
  if (text.trim() === '' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function durationFlag(flag: string, text: string | undefined, fallback: number, minMs: number): number {
  if (text === undefined) return fallback;
  const ms = parseDurationMs(text, 's');
  if (ms === undefined || ms < minMs) throw new UsageError(`--${flag} must be a duration of at least ${minMs} ms (500ms, 5s, 2m), got ${JSON.stringify(text)}`);
  return ms;
}

function ratioFlag(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) throw new UsageError(`--${flag} must be a number from 0 to 1, got ${JSON.stringify(text)}`);
  return value;
}

function logLevelFlag(text: string | undefined): FleetOptions['collectorLogLevel'] {
  if (text === undefined) return 'warn';
  if (text === 'warn' || text === 'info' || text === 'debug') return text;
  throw new UsageError(`--collector-log-level must be warn, info or debug, got ${JSON.stringify(text)}`);
}

/** The options from argv, or `help`; throws UsageError naming the flag. */
export function parseFleetArgs(argv: readonly string[]): FleetOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help === true) return 'help';
  const agents = integerFlag('agents', values.agents, 10_000, 1, 100_000);
  const heartbeatMs = durationFlag('heartbeat', values.heartbeat, 5_000, 1000);
  const holdMs = durationFlag('hold', values.hold, 60_000, 1000);
  if (holdMs < 2 * heartbeatMs) throw new UsageError(`--hold must be at least two heartbeats (${2 * heartbeatMs} ms with --heartbeat ${heartbeatMs} ms), got ${holdMs} ms`);
  const collectors = integerFlag('collectors', values.collectors, 1, 1, 8);
  return {
    agents,
    collectors,
    processes: Math.max(collectors, integerFlag('processes', values.processes, agents > 5000 ? 2 : 1, 1, 16)),
    heartbeatMs,
    holdMs,
    intervalMs: durationFlag('interval', values.interval, 20_000, 100),
    dropChance: ratioFlag('drop-chance', values['drop-chance'], 0.02),
    backlog: integerFlag('backlog', values.backlog, 20, 1, 10_000),
    batch: integerFlag('batch', values.batch, 100, 1, 500),
    connectConcurrency: integerFlag('connect-concurrency', values['connect-concurrency'], 200, 1, 100_000),
    scrapeEveryMs: durationFlag('scrape-every', values['scrape-every'], 15_000, 1000),
    collectorLogLevel: logLevelFlag(values['collector-log-level']),
    ...(values['cpu-prof'] === undefined ? {} : { cpuProfDir: values['cpu-prof'] }),
    keep: values.keep === true,
  };
}

// ---------------------------------------------------------------------------------------------
// Processes and cleanup

/** An agents process: commands in, events out. */
class AgentsChild {
  readonly child: NodeChild;

  constructor(child: NodeChild) {
    this.child = child;
  }

  send(command: FleetCommand): void {
    this.child.write(`${JSON.stringify(command)}\n`);
  }

  /** The next event of type `type`; a `failed` event throws. */
  async next<T extends FleetEvent['event']>(type: T, timeoutMs: number): Promise<Extract<FleetEvent, { event: T }>> {
    const line = await this.child.line((l) => l.startsWith('{"event":'), timeoutMs);
    const event = JSON.parse(line) as FleetEvent;
    if (event.event === 'failed') throw new Error(`agents process: ${event.message}`);
    if (event.event !== type) throw new Error(`agents process answered ${event.event}, expected ${type}`);
    return event as Extract<FleetEvent, { event: T }>;
  }
}

/** VmRSS and VmHWM (peak) of a process, bytes; NaN once it has gone. */
function memoryOf(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: Number.NaN, hwm: Number.NaN };
  }
}

/** The soft open-files limit of a process (Linux), Infinity when unlimited. */
function openFilesOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
  return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
}

/**
 * The kernel's TCP counters of interest (Linux /proc/net/netstat, whole network namespace):
 * ListenOverflows (a connection completed while the accept queue was full, so dropped and left
 * to the client's retransmits) and SyncookiesSent (SYNs answered while the SYN queue was full).
 */
function tcpCounters(): { listenOverflows: number; syncookiesSent: number } {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const header = lines.findIndex((l) => l.startsWith('TcpExt:'));
    const names = (lines[header] ?? '').split(' ');
    const values = (lines[header + 1] ?? '').split(' ');
    const value = (name: string): number => Number(values[names.indexOf(name)] ?? Number.NaN);
    return { listenOverflows: value('ListenOverflows'), syncookiesSent: value('SyncookiesSent') };
  } catch {
    return { listenOverflows: Number.NaN, syncookiesSent: Number.NaN };
  }
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** User + system CPU of a process so far, ms, from /proc (Linux). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of proc(5), counted from field 3 (state) here.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** GET `url` on a keep-alive agent: the body as text; throws on a status other than 200. */
function getText(agent: http.Agent, url: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('error', reject);
      res.once('end', () => {
        const body = Buffer.concat(chunks).toString();
        if (res.statusCode === 200) resolve(body);
        else reject(new Error(`GET ${url} answered ${res.statusCode ?? '?'}: ${body.slice(0, 300)}`));
      });
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.once('error', reject);
  });
}

/** The value of an unlabelled series in a Prometheus text exposition (NaN when absent). */
function promValue(text: string, name: string): number {
  const match = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return match === null ? Number.NaN : Number(match[1]);
}

/** Each collector thread's V8 heap total, MB, from a scrape: `serving 284 · writer 95 · maintenance 60`. */
function threadHeaps(text: string): string {
  return ['serving', 'writer', 'maintenance'].map((t) => `${t} ${mb(promValue(text, `speedwatch_collector_thread_heap_bytes{thread="${t}",kind="total"}`))}`).join(' · ');
}

/** The sum of a labelled counter's series (0 when absent). */
function promSum(text: string, name: string): number {
  let sum = 0;
  for (const match of text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'gm'))) sum += Number(match[1]);
  return sum;
}

// ---------------------------------------------------------------------------------------------
// The run

type Phase = 'setup' | 'connect' | 'hold' | 'push' | 'offline' | 'storm' | 'stop';

/** What one run measured; the JSON line is `{"bench":"fleet", …FleetReport}`. */
export interface FleetReport {
  agents: number;
  processes: number;
  /** Collector processes (on one PostgreSQL database when more than one). */
  collectors: number;
  heartbeatMs: number;
  holdMs: number;
  intervalMs: number;
  dropChance: number;
  backlog: number;
  batch: number;
  /** The connections gauge after the hold, once every agent had reconnected and settled. */
  connected: number;
  /** The gauge's lowest and highest values scraped during the hold (random reconnects lower it). */
  connectedDuringHold: { min: number; max: number };
  connectS: number;
  /** Agents dropped by the collector's heartbeat (its `heartbeat-missed` log lines) during connect and hold. */
  heartbeatDrops: number;
  /** The same during the storm (a busy collector may miss pongs; the agents reconnect). */
  stormHeartbeatDrops: number;
  /** Pings each agent that stayed connected through the hold received: fewest, and the median (mean of the processes' medians); expected ≈ hold / heartbeat. */
  pingsPerAgent: { min: number; median: number };
  /** Connections the simulator dropped at random during the hold, and agents that dropped at least once. */
  randomDrops: number;
  droppedAgents: number;
  /** Connections closed that the simulator did not close, by close code: during the hold, and during the storm. */
  unexpectedCloses: { hold: Record<string, number>; storm: Record<string, number> };
  agentHeartbeatDrops: number;
  /** Connection attempts that failed before the welcome, by reason: over the whole run, and in the storm. */
  connectFailures: Record<string, number>;
  stormConnectFailures: Record<string, number>;
  /** The kernel's count of connections dropped because the collector's accept queue was full, and of SYN cookies sent, during the storm (whole namespace). */
  stormListenOverflows: number;
  stormSyncookiesSent: number;
  /** Peak collector RSS with the fleet connected (connect and hold), MB; with several collectors, the largest one's. */
  collectorPeakRssMb: number;
  collectorStormPeakRssMb: number;
  /** VmHWM at the end: the process's peak over the whole run, MB (the largest collector's). */
  collectorHwmMb: number;
  /** All collectors' RSS together at its peak during the storm, MB (= collectorStormPeakRssMb with one). */
  collectorsStormPeakRssMb: number;
  agentsPeakRssMb: number;
  /** From the collector's own metrics at the end of the hold: V8 heap used and total, memory outside the heap, MB. */
  collectorHeapMb: { used: number; total: number; external: number };
  collectorCpuCores: { hold: number; storm: number };
  /** All agents processes together. */
  agentsCpuCores: { hold: number; storm: number };
  resultsGenerated: number;
  /** Results put on the wire, resends included. */
  resultsSent: number;
  resent: number;
  /** Results whose ack was lost with a dropped connection: stored, re-sent, recognised and acked again. */
  acksLost: number;
  /** Results sent into a dropped connection that never reached the collector, re-sent later. */
  vanished: number;
  acked: number;
  stored: number;
  /** Acked but not in the database. */
  lost: number;
  /** Rows beyond one per id. */
  duplicated: number;
  /** Rows stored under an agent other than the one whose token sent them. */
  misattributed: number;
  /** Rows whose id no simulated agent made. */
  unknown: number;
  /** Stored but never acked (allowed: the ack was lost; none remain once every outbox is empty). */
  storedUnacked: number;
  /** Made but never acked (0 when every outbox emptied). */
  unacked: number;
  /** The collector's speedwatch_collector_ingested_results_total at the end (must equal stored). */
  ingestedCounter: number;
  refusals: number;
  firstRefusal?: string;
  /** Results replayed in the storm, time until the last was acked, and the rate. */
  stormResults: number;
  stormS: number;
  stormWelcomedS: number;
  /** Per agent, storm start to its welcome and to its last ack, s: median and p90 (of the slower agents process). */
  stormWelcomeS: { p50: number; p90: number };
  stormDrainS: { p50: number; p90: number };
  stormResultsPerS: number;
  /** From SIGHUP with new fleet settings until every agent had acked them: as the agents saw it, and until /api/v1/agents showed every agent's applied version current. */
  pushAgentsS: number;
  pushS: number;
  /** Each failed check, in words; empty when the run is clean. */
  failures: string[];
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
}

/** `now` minus `before`, per key, without the keys that did not change. */
function countsSince(now: Readonly<Record<string, number>>, before: Readonly<Record<string, number>>): Record<string, number> {
  const since: Record<string, number> = {};
  for (const [key, n] of Object.entries(now)) if (n !== (before[key] ?? 0)) since[key] = n - (before[key] ?? 0);
  return since;
}

function sumCounters(list: readonly FleetCounters[]): FleetCounters {
  const total = zeroCounters();
  for (const c of list) {
    total.generated += c.generated;
    total.sent += c.sent;
    total.resent += c.resent;
    total.acked += c.acked;
    total.acksLost += c.acksLost;
    total.vanished += c.vanished;
    total.welcomes += c.welcomes;
    total.drops += c.drops;
    total.agentHeartbeatDrops += c.agentHeartbeatDrops;
    total.pings += c.pings;
    total.settings += c.settings;
    total.refusals += c.refusals;
    addCounts(total.unexpectedCloses, c.unexpectedCloses);
    addCounts(total.connectFailures, c.connectFailures);
    if (total.firstRefusal === undefined && c.firstRefusal !== undefined) total.firstRefusal = c.firstRefusal;
  }
  return total;
}

const mb = (bytes: number): number => Math.round(bytes / 1e5) / 10;
const cores = (ratio: number): number => Math.round(ratio * 100) / 100;
const seconds = (ms: number): number => Math.round(ms / 100) / 10;

/**
 * Adds agents fleet-00000 … with a token each, through the collector's store as `agents add`
 * does (many times faster than one CLI process per agent); returns the tokens in order.
 */
async function addAgents(db: string, count: number): Promise<string[]> {
  const load = (path: string): Promise<unknown> => import(pathToFileURL(join(ROOT, path)).href);
  const storeModule = (await load('collector/dist/src/store/sqlite-store.js')) as typeof StoreModule;
  const tokensModule = (await load('collector/dist/src/ingest/tokens.js')) as typeof TokensModule;
  const tokens: string[] = [];
  // NORMAL: set-up, not measured; it spares an fsync per agent.
  const store = storeModule.openStore(db, { synchronous: 'NORMAL' });
  try {
    const now = Date.now();
    for (let i = 0; i < count; i++) {
      const token = tokensModule.newToken();
      const { name, kind, technology, isp, area } = fleetSite(i);
      const agent = { id: fleetAgentId(i), name, siteKind: kind, technology, ...(isp === undefined ? {} : { isp }), ...(area === undefined ? {} : { area }) };
      store.agents.add(agent, tokensModule.hashToken(token), now);
      tokens.push(token);
    }
  } finally {
    store.close();
  }
  return tokens;
}

/**
 * As addAgents, into a PostgreSQL database: rows of a few thousand agents per statement (one
 * `agents add` each would take an hour at 50 000); returns the tokens in order.
 */
async function addAgentsPostgres(url: string, password: string, count: number): Promise<string[]> {
  const load = (path: string): Promise<unknown> => import(pathToFileURL(join(ROOT, path)).href);
  const stores = (await load('collector/dist/src/store/postgres/postgres-store.js')) as typeof PostgresStoreModule;
  const tokensModule = (await load('collector/dist/src/ingest/tokens.js')) as typeof TokensModule;
  const store = await stores.openPostgresStore({ url, password });
  const tokens: string[] = [];
  try {
    const now = Date.now();
    for (let from = 0; from < count; from += 5000) {
      const rows = Array.from({ length: Math.min(5000, count - from) }, (_, k) => {
        const i = from + k;
        const token = tokensModule.newToken();
        tokens.push(token);
        const { name, kind, technology, isp, area } = fleetSite(i);
        return [fleetAgentId(i), name, kind, technology, isp ?? null, area ?? null, tokensModule.hashToken(token)] as const;
      });
      const column = (n: number): unknown[] => rows.map((r) => r[n]);
      await store.pool.query(
        `INSERT INTO agents (id, name, site_kind, technology, isp, area, token_hash, created_at)
         SELECT t.*, $8::int8 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS t`,
        [column(0), column(1), column(2), column(3), column(4), column(5), column(6), now],
      );
    }
  } finally {
    await store.close();
  }
  return tokens;
}

/** Every result id made (with its agent) and acked, against the database's rows. */
interface Comparison {
  generated: number;
  acked: number;
  stored: number;
  lost: number;
  duplicated: number;
  misattributed: number;
  unknown: number;
  storedUnacked: number;
  unacked: number;
}

/** The stored results as [id, agent id]: from the SQLite file, or from PostgreSQL. */
type StoredRows = Iterable<[string, string]>;

function sqliteRows(db: string): { rows: StoredRows; close: () => void } {
  const check = new Database(db, { readonly: true, fileMustExist: true });
  return { rows: check.prepare('SELECT id, agent_id FROM results').raw().iterate() as Iterable<[string, string]>, close: () => check.close() };
}

async function postgresRows(cluster: PostgresCluster, database: string): Promise<StoredRows> {
  const { rows } = await cluster.admin<{ id: string; agent_id: string }>('SELECT id, agent_id FROM results', database);
  return rows.map((r): [string, string] => [r.id, r.agent_id]);
}

function compareWithDatabase(source: { rows: StoredRows; close: () => void }, files: readonly { generatedFile: string; ackedFile: string }[]): Comparison {
  const owner = new Map<string, string>();
  const acked = new Set<string>();
  for (const f of files) {
    for (const line of readFileSync(f.generatedFile, 'utf8').split('\n')) {
      if (line === '') continue;
      const space = line.indexOf(' ');
      owner.set(line.slice(0, space), line.slice(space + 1));
    }
    for (const id of readFileSync(f.ackedFile, 'utf8').split('\n')) if (id !== '') acked.add(id);
  }
  const stored = new Set<string>();
  let rows = 0;
  let misattributed = 0;
  let unknown = 0;
  try {
    for (const [id, agentId] of source.rows) {
      rows++;
      stored.add(id);
      const made = owner.get(id);
      if (made === undefined) unknown++;
      else if (made !== agentId) misattributed++;
    }
  } finally {
    source.close();
  }
  let lost = 0;
  for (const id of acked) if (!stored.has(id)) lost++;
  let storedUnacked = 0;
  for (const id of stored) if (!acked.has(id)) storedUnacked++;
  let unacked = 0;
  for (const id of owner.keys()) if (!acked.has(id)) unacked++;
  return { generated: owner.size, acked: acked.size, stored: stored.size, lost, duplicated: rows - stored.size, misattributed, unknown, storedUnacked, unacked };
}

/** Runs the simulator (see the file comment) and returns what it measured. */
export async function runFleet(o: FleetOptions, say: (line: string) => void, signal?: AbortSignal): Promise<FleetReport> {
  return scoped('fleet', (scope) => run(o, say, scope, signal));
}

async function run(o: FleetOptions, say: (line: string) => void, scope: Scope, signal: AbortSignal | undefined): Promise<FleetReport> {
  // Every wait on the agents races this, so that Ctrl-C ends the run and the cleanup still runs.
  const aborted = new Promise<never>((_, reject) => {
    signal?.addEventListener('abort', () => reject(signal.reason instanceof Error ? signal.reason : new Error('interrupted')), { once: true });
  });
  aborted.catch(() => {});
  const dir = mkdtempSync(join(tmpdir(), 'sw-fleet-'));
  if (o.keep) say(`keeping ${dir}`);
  else scope.defer(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, 'fleet.db');
  const multi = o.collectors > 1;

  // Several collectors share a PostgreSQL database: a throwaway cluster, fsync on.
  let pg: { cluster: PostgresCluster; database: string; passwordFile: string } | undefined;
  if (multi) {
    const clusters = (await import(pathToFileURL(join(ROOT, 'collector/dist/test/postgres-cluster.js')).href)) as typeof PostgresClusterModule;
    const unavailable = clusters.postgresUnavailable();
    if (unavailable !== undefined) throw new Error(`--collectors ${o.collectors} needs PostgreSQL: ${unavailable}`);
    const cluster = await clusters.startPostgresCluster({ durable: true });
    scope.defer(() => cluster.stop());
    const passwordFile = join(dir, 'pg-password');
    writeFileSync(passwordFile, `${cluster.password}\n`, { mode: 0o600 });
    pg = { cluster, database: await cluster.createDatabase(), passwordFile };
    say(`PostgreSQL cluster on port ${cluster.port}, database ${pg.database}`);
  }

  const seedStarted = performance.now();
  const tokens = pg === undefined ? await addAgents(db, o.agents) : await addAgentsPostgres(pg.cluster.url(pg.database), pg.cluster.password, o.agents);
  say(`added ${o.agents} agents with tokens in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

  // The collectors: real processes, defaults except a short heartbeat; logs at warn (heartbeat misses are warnings).
  const configOf = (n: number, extra: Record<string, unknown> = {}): string => {
    const file = join(dir, `collector-${n}-config.json`);
    const store = pg === undefined ? {} : { db: join(dir, `local-${n}.db`), store: { kind: 'postgres', url: pg.cluster.url(pg.database), passwordFile: pg.passwordFile } };
    writeFileSync(file, JSON.stringify({ logLevel: o.collectorLogLevel, heartbeat: o.heartbeatMs, ...store, ...extra }));
    return file;
  };
  const perCollector = Math.ceil(o.agents / o.collectors);
  const openFiles = perCollector + 4096;
  const profile = o.cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir];
  const collectors: NodeChild[] = [];
  const urls: string[] = [];
  for (let n = 0; n < o.collectors; n++) {
    const collector = new NodeChild(scope, `speedwatch-collector-${n + 1}`, [...profile, COLLECTOR_BIN, 'serve', '--config', configOf(n), ...(pg === undefined ? ['--db', db] : []), '--port', '0'], {
      openFiles,
      stdin: false,
      countStderr: ['"heartbeat-missed"'],
      stderrFile: join(dir, o.collectors === 1 ? 'collector.log' : `collector-${n + 1}.log`),
    });
    collectors.push(collector);
  }
  for (const collector of collectors) {
    const listening = JSON.parse(await collector.line((l) => l.includes('"listening"'), 60_000)) as { url: string };
    const collectorFiles = openFilesOf(collector.pid);
    if (collectorFiles < perCollector + 256) throw new Error(`the collector's open-file limit is ${collectorFiles}, too low for ${perCollector} sockets; raise the hard limit (ulimit -Hn; raising it needs root) to at least ${perCollector + 256}`);
    urls.push(listening.url);
    say(`collector listening at ${listening.url} (pid ${collector.pid}, open-file limit ${collectorFiles})`);
  }
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 2 * o.collectors });
  scope.defer(() => httpAgent.destroy());
  const collectorsCount = (pattern: string): number => collectors.reduce((n, c) => n + c.count(pattern), 0);
  const collectorsCpuMs = (): number => collectors.reduce((ms, c) => ms + cpuMsOf(c.pid), 0);
  const collectorsRss = (): number[] => collectors.map((c) => memoryOf(c.pid).rss);

  // Memory, sampled for the collectors and the agents processes, peak per phase: the largest
  // collector's, and all of them together.
  let phase: Phase = 'setup';
  const collectorPeak = new Map<Phase, number>();
  const collectorsPeak = new Map<Phase, number>();
  let agentsPeak = 0;
  const agentsChildren: AgentsChild[] = [];
  const sample = (): void => {
    const rss = collectorsRss();
    const largest = Math.max(...rss);
    const together = rss.reduce((a, b) => a + b, 0);
    if (largest > (collectorPeak.get(phase) ?? 0)) collectorPeak.set(phase, largest);
    if (together > (collectorsPeak.get(phase) ?? 0)) collectorsPeak.set(phase, together);
    for (const a of agentsChildren) agentsPeak = Math.max(agentsPeak, memoryOf(a.child.pid).rss || 0);
  };
  const sampler = setInterval(sample, 200);
  scope.defer(() => clearInterval(sampler));

  // Prometheus-like scrapes of every collector throughout; the gauges' sum's range per phase.
  const gauge = new Map<Phase, { min: number; max: number }>();
  /** Every collector's scrape, in order. */
  const scrapeAll = async (): Promise<string[]> => {
    const texts = await Promise.all(urls.map((url) => getText(httpAgent, `${url}metrics`)));
    const value = texts.reduce((n, text) => n + promValue(text, 'speedwatch_collector_agent_connections'), 0);
    const seen = gauge.get(phase) ?? { min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY };
    gauge.set(phase, { min: Math.min(seen.min, value), max: Math.max(seen.max, value) });
    return texts;
  };
  const sum = (texts: readonly string[], name: string): number => texts.reduce((n, text) => n + promValue(text, name), 0);
  let scraping: Promise<unknown> = Promise.resolve();
  const scraper = setInterval(() => {
    scraping = scraping
      .then(scrapeAll)
      .then((texts) => {
        const heap = texts.map((text) => mb(promValue(text, 'speedwatch_collector_nodejs_heap_size_used_bytes'))).join(' + ');
        say(
          `  ${phase}: gauge ${texts.map((text) => promValue(text, 'speedwatch_collector_agent_connections')).join(' + ')}, collector RSS ${collectorsRss().map(mb).join(' + ')} MB, ` +
            `V8 heap used ${heap} MB; heap total by thread: ${texts.map(threadHeaps).join(' | ')} MB`,
        );
      })
      .catch((err: unknown) => say(`scrape failed: ${err instanceof Error ? err.message : String(err)}`));
  }, o.scrapeEveryMs);
  scope.defer(() => scraping);
  scope.defer(() => clearInterval(scraper));
  const connections = async (): Promise<number> => sum(await scrapeAll(), 'speedwatch_collector_agent_connections');

  // The agents processes, process p on collector p mod N.
  const per = Math.ceil(o.agents / o.processes);
  for (let p = 0; p * per < o.agents; p++) {
    const plan: FleetAgentsPlan = {
      label: `agents-${p + 1}`,
      wsUrl: `${(urls[p % urls.length] as string).replace(/^http/, 'ws')}v1/agents`,
      firstIndex: p * per,
      tokens: tokens.slice(p * per, (p + 1) * per),
      intervalMs: o.intervalMs,
      dropChance: o.dropChance,
      backlog: o.backlog,
      batch: o.batch,
      pingIntervalMs: o.heartbeatMs,
      connectConcurrency: o.connectConcurrency,
      outDir: dir,
    };
    const planPath = join(dir, `${plan.label}-plan.json`);
    writeFileSync(planPath, JSON.stringify(plan));
    const child = new NodeChild(scope, plan.label, [AGENTS_SCRIPT, planPath], { openFiles: plan.tokens.length + 4096, stdin: true, stderrFile: join(dir, `${plan.label}.log`) });
    agentsChildren.push(new AgentsChild(child));
  }
  await Promise.all(agentsChildren.map((a) => a.next('ready', 60_000)));
  const all = async <T extends FleetEvent['event']>(command: FleetCommand, type: T, timeoutMs: number): Promise<Extract<FleetEvent, { event: T }>[]> => {
    for (const a of agentsChildren) a.send(command);
    return Promise.race([Promise.all(agentsChildren.map((a) => a.next(type, timeoutMs))), aborted]);
  };

  // 1. Connect.
  phase = 'connect';
  say(`phase 1: connecting ${o.agents} agents from ${agentsChildren.length} process(es) to ${o.collectors} collector(s), ${o.connectConcurrency} handshakes at a time each`);
  const connectStarted = performance.now();
  const connectedEvents = await all({ cmd: 'connect' }, 'connected', 10 * 60_000);
  const connectS = (performance.now() - connectStarted) / 1000;
  const afterConnect = await connections();
  say(`  all welcomed in ${connectS.toFixed(1)} s; gauge ${afterConnect}; collector RSS ${collectorsRss().map(mb).join(' + ')} MB`);

  // 2. Hold with pacing and random reconnects.
  phase = 'hold';
  say(`phase 2: holding for ${o.holdMs / 1000} s: a result every ~${o.intervalMs / 1000} s per agent, drop chance ${o.dropChance} per result, heartbeat ${o.heartbeatMs / 1000} s`);
  const agentsCpuMs = (): number => agentsChildren.reduce((ms, a) => ms + cpuMsOf(a.child.pid), 0);
  let cpu = collectorsCpuMs();
  let agentsCpu = agentsCpuMs();
  let clock = performance.now();
  const held = await all({ cmd: 'hold', durationMs: o.holdMs }, 'held', o.holdMs + 10 * 60_000);
  const holdCores = (collectorsCpuMs() - cpu) / (performance.now() - clock);
  const agentsHoldCores = (agentsCpuMs() - agentsCpu) / (performance.now() - clock);
  const holdScrapes = await scrapeAll();
  const holdMetrics = holdScrapes[0] as string;
  const connected = sum(holdScrapes, 'speedwatch_collector_agent_connections');
  const heartbeatDrops = collectorsCount('"heartbeat-missed"');
  const holdCounters = sumCounters(held.map((h) => h.counters));
  const pingsMin = Math.min(...held.map((h) => h.pingsMin));
  const pingsMedian = held.reduce((s, h) => s + h.pingsMedian, 0) / held.length;
  say(
    `  gauge ${connected} after settling (${Math.max(...held.map((h) => h.settleMs)).toFixed(0)} ms); heartbeat drops ${heartbeatDrops}; ` +
      `pings per steady agent min ${pingsMin}, median ${pingsMedian}; random drops ${holdCounters.drops}; collector peak RSS ${mb(collectorPeak.get('hold') ?? Number.NaN)} MB`,
  );

  // 3. Reconnect storm.
  phase = 'offline';
  say(`phase 3: every agent goes offline and accumulates ${o.backlog} results`);
  const offline = await all({ cmd: 'offline' }, 'offline', 5 * 60_000);
  await waitFor(async () => (await connections()) === 0, 60_000, 'the connections gauge did not fall to 0');
  const stormBacklog = offline.reduce((n, e) => n + e.backlog, 0);
  phase = 'storm';
  const heartbeatBefore = collectorsCount('"heartbeat-missed"');
  say(`  all reconnect at once and replay ${stormBacklog} results`);
  cpu = collectorsCpuMs();
  agentsCpu = agentsCpuMs();
  const tcpBefore = tcpCounters();
  clock = performance.now();
  const drained = await all({ cmd: 'storm' }, 'drained', 10 * 60_000);
  const stormMs = performance.now() - clock;
  const stormCores = (collectorsCpuMs() - cpu) / stormMs;
  const agentsStormCores = (agentsCpuMs() - agentsCpu) / stormMs;
  const tcpAfter = tcpCounters();
  const afterStorm = await scrapeAll();
  say(`  storm over: collector RSS ${collectorsRss().map(mb).join(' + ')} MB (peak ${mb(collectorPeak.get('storm') ?? Number.NaN)}); heap total by thread: ${afterStorm.map(threadHeaps).join(' | ')} MB`);
  const stormHeartbeatDrops = collectorsCount('"heartbeat-missed"') - heartbeatBefore;
  const stormResults = drained.reduce((n, e) => n + e.results, 0);
  const connectedCounters = sumCounters(connectedEvents.map((e) => e.counters));
  const offlineCounters = sumCounters(offline.map((e) => e.counters));
  const drainedCounters = sumCounters(drained.map((e) => e.counters));
  const stormConnectFailures = countsSince(drainedCounters.connectFailures, offlineCounters.connectFailures);
  const stormWelcomedS = Math.max(...drained.map((e) => e.welcomedMs)) / 1000;
  say(`  ${stormResults} results acked in ${(stormMs / 1000).toFixed(1)} s (${Math.round(stormResults / (stormMs / 1000))}/s); all welcomed after ${stormWelcomedS.toFixed(1)} s`);

  // 4. A settings push, once the storm is over: the fleet config changes and the collector is
  // told (SIGHUP), as an operator changing the schedule of the whole fleet would. After the
  // storm, so that the storm's memory is measured as before (the push's polling of
  // /api/v1/agents at 10 000 agents grows the serving heap by itself).
  phase = 'push';
  say(`phase 4: new fleet settings, SIGHUP: every agent must receive and acknowledge them`);
  collectors.forEach((_, n) => configOf(n, { fleet: { defaults: { interval: '20m', test: { streams: 2 } } } }));
  clock = performance.now();
  for (const collector of collectors) process.kill(collector.pid, 'SIGHUP');
  const pushed = await all({ cmd: 'push' }, 'pushed', 5 * 60_000);
  // Each agents process timed it from the command, sent just after the signal.
  const pushAgentsS = Math.max(...pushed.map((p) => p.elapsedMs)) / 1000;
  let behind = o.agents;
  await waitFor(
    async () => {
      // What an agent applied is known to the collector it is connected to.
      const applied = new Set<string>();
      for (const url of urls) {
        const { agents } = (await (await fetch(`${url}api/v1/agents`)).json()) as { agents: { id: string; settings: { version: string | null; appliedVersion: string | null } }[] };
        for (const a of agents) if (a.settings.version !== null && a.settings.appliedVersion === a.settings.version) applied.add(a.id);
      }
      behind = o.agents - applied.size;
      return behind === 0;
    },
    5 * 60_000,
    'the API did not show every agent with its new settings applied',
  );
  const pushS = (performance.now() - clock) / 1000;
  say(`  every agent acked the new settings ${pushAgentsS.toFixed(1)} s after SIGHUP; /api/v1/agents showed all applied after ${pushS.toFixed(1)} s`);

  // Stop: agents close normally and write their ids; the collector's last figures; the collector stops.
  phase = 'stop';
  await scraping;
  const finalMetrics = await scrapeAll();
  const stopped = await all({ cmd: 'stop' }, 'stopped', 120_000);
  await Promise.all(agentsChildren.map((a) => a.child.exited));
  sample();
  const collectorHwm = Math.max(...collectors.map((c) => memoryOf(c.pid).hwm));
  clearInterval(scraper);
  clearInterval(sampler);
  await Promise.all(collectors.map((c) => c.stop(30_000)));

  const c = compareWithDatabase(pg === undefined ? sqliteRows(db) : { rows: await postgresRows(pg.cluster, pg.database), close: () => {} }, stopped);
  const totals = sumCounters(stopped.map((s) => s.counters));
  const ingestedCounter = sum(finalMetrics, 'speedwatch_collector_ingested_results_total');
  const rejectedCounter = finalMetrics.reduce((n, text) => n + promSum(text, 'speedwatch_collector_rejected_total'), 0);

  const failures: string[] = [];
  if (c.lost > 0) failures.push(`${c.lost} acked results are not in the database (lost)`);
  if (c.duplicated > 0) failures.push(`${c.duplicated} results stored twice (duplicated)`);
  if (c.misattributed > 0) failures.push(`${c.misattributed} results stored under an agent other than the one that made them`);
  if (c.unknown > 0) failures.push(`${c.unknown} stored results that no simulated agent made`);
  if (c.unacked > 0) failures.push(`${c.unacked} results never acked`);
  if (ingestedCounter !== c.stored) failures.push(`the collector${o.collectors > 1 ? 's' : ''} counted ${ingestedCounter} results ingested; ${c.stored} are stored`);
  if (totals.refusals > 0 || rejectedCounter > 0) failures.push(`${totals.refusals} reject/error messages (${rejectedCounter} counted by the collector); first: ${totals.firstRefusal ?? '-'}`);
  if (afterConnect !== o.agents) failures.push(`the connections gauge read ${afterConnect} after connecting, not ${o.agents}`);
  if (connected !== o.agents) failures.push(`the connections gauge read ${connected} after the hold, not ${o.agents}`);
  if (heartbeatDrops > 0) failures.push(`the collector's heartbeat dropped ${heartbeatDrops} agents while the fleet was held`);
  if (!(pingsMin >= 2)) failures.push(`an agent received only ${pingsMin} pings during the hold (at least 2 expected)`);

  const holdGauge = gauge.get('hold');
  return {
    agents: o.agents,
    processes: agentsChildren.length,
    collectors: o.collectors,
    heartbeatMs: o.heartbeatMs,
    holdMs: o.holdMs,
    intervalMs: o.intervalMs,
    dropChance: o.dropChance,
    backlog: o.backlog,
    batch: o.batch,
    connected,
    connectedDuringHold: { min: holdGauge?.min ?? Number.NaN, max: holdGauge?.max ?? Number.NaN },
    connectS,
    heartbeatDrops,
    stormHeartbeatDrops,
    pingsPerAgent: { min: pingsMin, median: pingsMedian },
    randomDrops: holdCounters.drops,
    droppedAgents: held.reduce((n, h) => n + h.droppedAgents, 0),
    unexpectedCloses: {
      hold: countsSince(holdCounters.unexpectedCloses, connectedCounters.unexpectedCloses),
      // To the end: a close can come after the last ack (a stale upgrade replacing a live connection).
      storm: countsSince(totals.unexpectedCloses, offlineCounters.unexpectedCloses),
    },
    agentHeartbeatDrops: totals.agentHeartbeatDrops,
    connectFailures: totals.connectFailures,
    stormConnectFailures,
    stormListenOverflows: tcpAfter.listenOverflows - tcpBefore.listenOverflows,
    stormSyncookiesSent: tcpAfter.syncookiesSent - tcpBefore.syncookiesSent,
    collectorPeakRssMb: mb(Math.max(collectorPeak.get('connect') ?? 0, collectorPeak.get('hold') ?? 0)),
    collectorStormPeakRssMb: mb(collectorPeak.get('storm') ?? Number.NaN),
    collectorHwmMb: mb(collectorHwm),
    collectorsStormPeakRssMb: mb(collectorsPeak.get('storm') ?? Number.NaN),
    agentsPeakRssMb: mb(agentsPeak),
    collectorHeapMb: {
      used: mb(promValue(holdMetrics, 'speedwatch_collector_nodejs_heap_size_used_bytes')),
      total: mb(promValue(holdMetrics, 'speedwatch_collector_nodejs_heap_size_total_bytes')),
      external: mb(promValue(holdMetrics, 'speedwatch_collector_nodejs_external_memory_bytes')),
    },
    collectorCpuCores: { hold: cores(holdCores), storm: cores(stormCores) },
    agentsCpuCores: { hold: cores(agentsHoldCores), storm: cores(agentsStormCores) },
    resultsGenerated: c.generated,
    resultsSent: totals.sent,
    resent: totals.resent,
    acksLost: totals.acksLost,
    vanished: totals.vanished,
    acked: c.acked,
    stored: c.stored,
    lost: c.lost,
    duplicated: c.duplicated,
    misattributed: c.misattributed,
    unknown: c.unknown,
    storedUnacked: c.storedUnacked,
    unacked: c.unacked,
    ingestedCounter,
    refusals: totals.refusals,
    ...(totals.firstRefusal === undefined ? {} : { firstRefusal: totals.firstRefusal }),
    stormResults,
    stormS: Math.round(stormMs / 100) / 10,
    stormWelcomedS: Math.round(stormWelcomedS * 10) / 10,
    stormWelcomeS: { p50: seconds(Math.max(...drained.map((e) => e.welcomeMs.p50))), p90: seconds(Math.max(...drained.map((e) => e.welcomeMs.p90))) },
    stormDrainS: { p50: seconds(Math.max(...drained.map((e) => e.drainMs.p50))), p90: seconds(Math.max(...drained.map((e) => e.drainMs.p90))) },
    stormResultsPerS: Math.round(stormResults / (stormMs / 1000)),
    pushAgentsS: Math.round(pushAgentsS * 10) / 10,
    pushS: Math.round(pushS * 10) / 10,
    failures,
  };
}

/** The report as table rows (measure, value, goal). */
export function fleetRows(r: FleetReport): BenchRow[] {
  const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US').replace(/,/g, ' ') : '-');
  const row = (measure: string, value: string, goal = ''): BenchRow => ({ measure, value, peer: '', ratio: '', goal });
  const mark = (ok: boolean): string => (ok ? ' ✓' : ' ✗');
  const closes = (counts: Readonly<Record<string, number>>): string => Object.entries(counts).map(([k, n]) => `${k}: ${int(n)}`).join(', ') || '0';
  return [
    row('agents connected, connections gauge after the hold', `${int(r.connected)} of ${int(r.agents)}`, `= agents${mark(r.connected === r.agents)}`),
    row(`time to connect all (${r.processes} agents process(es), ${r.collectors} collector(s))`, `${r.connectS.toFixed(1)} s`),
    row(`agents dropped by the collector's heartbeat (${r.heartbeatMs / 1000} s) during the hold`, int(r.heartbeatDrops), `0${mark(r.heartbeatDrops === 0)}`),
    row('pings per agent that stayed connected through the hold, min / median', `${r.pingsPerAgent.min} / ${r.pingsPerAgent.median}`, `>= 2${mark(r.pingsPerAgent.min >= 2)}`),
    row('collector peak RSS with the fleet connected', `${r.collectorPeakRssMb} MB`, `< 1000 MB${mark(r.collectorPeakRssMb < 1000)}`),
    row('collector peak RSS during the storm / whole run (VmHWM)', `${r.collectorStormPeakRssMb} / ${r.collectorHwmMb} MB`),
    ...(r.collectors > 1 ? [row(`${r.collectors} collectors together, peak RSS during the storm`, `${r.collectorsStormPeakRssMb} MB`)] : []),
    row('collector V8 heap used / total, external, at the end of the hold', `${r.collectorHeapMb.used} / ${r.collectorHeapMb.total} MB, ${r.collectorHeapMb.external} MB`),
    row('CPU cores, hold / storm: collector (agents processes)', `${r.collectorCpuCores.hold} / ${r.collectorCpuCores.storm} (${r.agentsCpuCores.hold} / ${r.agentsCpuCores.storm})`),
    row('random reconnects during the hold (agents that dropped)', `${int(r.randomDrops)} (${int(r.droppedAgents)})`),
    row('results re-sent after a drop: sent into the dead link / stored, ack lost', `${int(r.resent)}: ${int(r.vanished)} / ${int(r.acksLost)}`),
    row(`storm: ${int(r.agents)} agents reconnect at once, replay ${r.backlog} results each`, `${int(r.stormResultsPerS)} results/s`),
    row('storm: all welcomed / all acked', `${r.stormWelcomedS} s / ${r.stormS} s`),
    row('storm: per agent to welcome, to last ack, p50 / p90', `${r.stormWelcomeS.p50} / ${r.stormWelcomeS.p90} s, ${r.stormDrainS.p50} / ${r.stormDrainS.p90} s`),
    row('storm: failed connection attempts (retried with backoff)', closes(r.stormConnectFailures)),
    row('storm: kernel ListenOverflows / SyncookiesSent (accept / SYN queue full)', `${int(r.stormListenOverflows)} / ${int(r.stormSyncookiesSent)}`),
    row('storm: agents dropped by the heartbeat', int(r.stormHeartbeatDrops)),
    row('connections closed by the collector unasked, hold / storm (by close code)', `${closes(r.unexpectedCloses.hold)} / ${closes(r.unexpectedCloses.storm)}`),
    row('results made / sent (with resends) / acked / stored', `${int(r.resultsGenerated)} / ${int(r.resultsSent)} / ${int(r.acked)} / ${int(r.stored)}`),
    row(`settings push (SIGHUP) to ${int(r.agents)} agents: all acked, agents' view / the API's`, `${r.pushAgentsS} s / ${r.pushS} s`, `<= 30 s${mark(r.pushS <= 30)}`),
    row('lost (acked, not stored) / duplicated', `${int(r.lost)} / ${int(r.duplicated)}`, `0 / 0${mark(r.lost === 0 && r.duplicated === 0)}`),
  ];
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  let options: FleetOptions | 'help' | undefined;
  try {
    options = parseFleetArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`fleet: ${err.message}\n\n${USAGE}\n`);
    process.exitCode = 1;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
  } else if (options !== undefined) {
    const started = performance.now();
    const say = (line: string): void => void process.stderr.write(`[fleet +${((performance.now() - started) / 1000).toFixed(0)}s] ${line}\n`);
    const abort = new AbortController();
    const onSignal = (): void => abort.abort(new Error('interrupted'));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const done = (): void => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    };
    runFleet(options, say, abort.signal).then(
      (report) => {
        process.stdout.write(`${formatBenchTable(fleetRows(report))}\n`);
        process.stdout.write(`${JSON.stringify({ bench: 'fleet', date: new Date().toISOString(), node: process.versions.node, ...report })}\n`);
        for (const failure of report.failures) process.stderr.write(`fleet: FAILED: ${failure}\n`);
        if (report.failures.length > 0) process.exitCode = 1;
        done();
      },
      (err: unknown) => {
        process.stderr.write(`fleet: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exitCode = 1;
        done();
      },
    );
  }
}
