/**
 * Benchmarks of the collector, each beside its ceiling measured in the same run:
 *   1. ingest end to end (WebSocket frames → validation → commit → ack) from a load-generator
 *      process, against raw better-sqlite3 inserting the same rows with the store's own SQL in
 *      transactions as large as the collector's group commits were (the ceiling of BASELINES.md
 *      §2), and, for context, in one transaction per agent batch (a writer without group commit);
 *      with the collector's event-loop delay meanwhile;
 *   2. GET /metrics at 1 000 and 10 000 agents, against GET /healthz on the same server (the HTTP floor);
 *   3. on a database of `seriesRows` results: time from start to /healthz, the event-loop delay
 *      while ingesting at full rate during the first maintenance, time to ready, then GET
 *      /api/v1/series (30 days, step 1h) against the same SQL run directly on the file;
 *   4. the verdict refresh a minute after the last, on a month of a fleet testing every 15
 *      minutes, against computing the same verdicts from the window read again; then the
 *      collector on that database refreshing every 5 s while ingesting at full rate, and its
 *      event-loop delay;
 *   5. ingest end to end on PostgreSQL (a throwaway cluster, fsync on, as in production) against
 *      raw COPY of the same rows into the same table in transactions of the collector's commit
 *      size, and the store's own idempotent group-commit statement alone, same sizes.
 * Event-loop delay is the collector's own monitorEventLoopDelay (prom-client's
 * nodejs_eventloop_lag_*, reset at each scrape) less its 10 ms resolution.
 * The collector always runs as its own process (`speedwatch-collector serve`). Wall clock comes
 * from performance.now(), collector CPU from /proc/<pid>/stat. Progress goes to stderr; every
 * child process and temporary file is removed, also on failure.
 *
 * Run on its own: node test/dist/bench/collector-bench.js prints the table, then one JSON line.
 * Environment (own runs only): BENCH_RUNS (3), BENCH_SERIES_ROWS (10 000 000), BENCH_INGEST_RESULTS
 * (200 000), BENCH_INGEST_BATCHES (50,500), BENCH_COLLECTOR_PARTS (ingest,metrics,series,verdicts,postgres), BENCH_VERDICT_AGENTS (1 000),
 * BENCH_PG_RESULTS (100 000),
 * BENCH_COLLECTOR_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the collector).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import type { MeasurementResult, SiteKind, Technology } from '@speedwatch/shared';
import { median, percentile, seededRandom, SITE_KINDS } from '@speedwatch/shared';
// Types only: the collector's package exports no store, so the built files are loaded by path
// at run time (as test/support/processes.ts reaches its built binaries).
import type * as TokensModule from '../../collector/src/ingest/tokens.js';
import type * as StoreModule from '../../collector/src/store/sqlite-store.js';
import type * as SqliteCollectorStoreModule from '../../collector/src/store/sqlite-collector-store.js';
import type * as PostgresStoreModule from '../../collector/src/store/postgres/postgres-store.js';
import type * as PostgresCopyModule from '../../collector/src/store/postgres/postgres-copy.js';
import type * as PostgresClusterModule from '../../collector/test/postgres-cluster.js';
import type * as FrameBatchModule from '../../collector/src/store/frame-batch.js';
import type * as SampleWindowModule from '../../collector/src/verdict/sample-window.js';
import type * as VerdictConfigModule from '../../collector/src/verdict/verdict-config.js';
import type * as VerdictSnapshotModule from '../../collector/src/server/verdict-snapshot.js';
import type { LoadOutcome, LoadPlan } from './collector-load.js';
import { NodeChild, scoped } from './bench-process.js';
import type { Scope } from './bench-process.js';
import { ResultText, resultTemplate } from './collector-results.js';

/** One row of the benchmark table: the measure, its ceiling or floor, their ratio, the goal. */
export interface BenchRow {
  measure: string;
  value: string;
  peer: string;
  ratio: string;
  goal: string;
}

export type CollectorBenchPart = 'ingest' | 'metrics' | 'series' | 'verdicts' | 'postgres';
export const COLLECTOR_BENCH_PARTS: readonly CollectorBenchPart[] = ['ingest', 'metrics', 'series', 'verdicts', 'postgres'];

export interface CollectorBenchOptions {
  /** Repetitions of the ingest comparison (medians are reported). */
  runs: number;
  /** Results in the series database (10 000 000 by default in `npm run bench`). */
  seriesRows: number;
  /** Results sent per ingest run. Default 200 000. */
  ingestResults?: number;
  /** Simulated agents (WebSocket connections). Default 1 000. */
  ingestAgents?: number;
  /** Results per batch, for ingest and its raw peer; one comparison per size. Default [100, 500]: the agent's default and the protocol's limit. */
  batches?: readonly number[];
  /** Unacked batches per agent. Default 1, as the agent sends (collector-client.ts). */
  inFlight?: number;
  /** Agent counts at which /metrics is scraped. Default [1000, 10000]. */
  scrapeAgents?: readonly number[];
  /** Timed scrapes per agent count, after one warm-up. Default 20. */
  scrapes?: number;
  /** Timed series queries. Default 200. */
  seriesQueries?: number;
  /** Agents testing every 15 minutes for 31 days in the verdict refresh database. Default 1 000 (2.98 M results). */
  verdictAgents?: number;
  /** Results sent per PostgreSQL ingest run (batch 100, `ingestAgents` agents). Default 100 000. */
  postgresResults?: number;
  /** Which parts to run. Default all. */
  parts?: readonly CollectorBenchPart[];
  /** Aborts between steps (the caller's Ctrl-C); cleanup still runs. */
  signal?: AbortSignal;
  /** Progress lines. Default: stderr. */
  progress?: (line: string) => void;
  /** Extra Node flags for the collector processes, e.g. ["--cpu-prof", "--cpu-prof-dir=/tmp/prof"]. */
  collectorNodeArgs?: readonly string[];
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const HERE = dirname(fileURLToPath(import.meta.url));
// The repository root, from test/dist/bench/ (compiled) or test/bench/ (source).
const ROOT = HERE.slice(0, HERE.lastIndexOf('/test/') + 1) || `${HERE}/../../`;
const COLLECTOR_BIN = join(ROOT, 'collector/dist/src/bin/speedwatch-collector.js');
const LOAD_SCRIPT = join(HERE, 'collector-load.js');

/** The store's INSERT (sqlite-store.ts, `insertResult`), so the ceiling does the same work per row. */
const INSERT_RESULT =
  'INSERT INTO results (id, agent_id, ts, received_at, status, download_mbps, upload_mbps, latency_ms, jitter_ms, loss_ratio, doc, busy) ' +
  'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING';
type ResultRow = [string, string, number, number, string, number, number, number, number, number, string, number | null];

interface Modules {
  store: typeof StoreModule;
  frameBatch: typeof FrameBatchModule;
  sampleWindow: typeof SampleWindowModule;
  sqliteCollectorStore: typeof SqliteCollectorStoreModule;
  postgresStore: typeof PostgresStoreModule;
  postgresCopy: typeof PostgresCopyModule;
  postgresCluster: typeof PostgresClusterModule;
  verdictConfig: typeof VerdictConfigModule;
  tokens: typeof TokensModule;
  verdictSnapshot: typeof VerdictSnapshotModule;
}

async function loadModules(): Promise<Modules> {
  const load = (path: string): Promise<unknown> => import(pathToFileURL(join(ROOT, path)).href);
  return {
    store: (await load('collector/dist/src/store/sqlite-store.js')) as typeof StoreModule,
    frameBatch: (await load('collector/dist/src/store/frame-batch.js')) as typeof FrameBatchModule,
    sampleWindow: (await load('collector/dist/src/verdict/sample-window.js')) as typeof SampleWindowModule,
    sqliteCollectorStore: (await load('collector/dist/src/store/sqlite-collector-store.js')) as typeof SqliteCollectorStoreModule,
    postgresStore: (await load('collector/dist/src/store/postgres/postgres-store.js')) as typeof PostgresStoreModule,
    postgresCopy: (await load('collector/dist/src/store/postgres/postgres-copy.js')) as typeof PostgresCopyModule,
    // The throwaway cluster the collector's tests use (initdb and pg_ctl in a temp directory).
    postgresCluster: (await load('collector/dist/test/postgres-cluster.js')) as typeof PostgresClusterModule,
    verdictConfig: (await load('collector/dist/src/verdict/verdict-config.js')) as typeof VerdictConfigModule,
    tokens: (await load('collector/dist/src/ingest/tokens.js')) as typeof TokensModule,
    verdictSnapshot: (await load('collector/dist/src/server/verdict-snapshot.js')) as typeof VerdictSnapshotModule,
  };
}

interface RunningCollector {
  child: NodeChild;
  url: string;
  /** From spawn to the listening line. */
  startMs: number;
  /** From spawn to a 200 from /healthz (the first maintenance runs after, on its own thread). */
  healthyMs: number;
}

async function startCollector(ctx: Context, scope: Scope, db: string, config: object, timeoutMs: number): Promise<RunningCollector> {
  const configPath = join(dirname(db), 'collector-config.json');
  writeFileSync(configPath, JSON.stringify({ logLevel: 'warn', ...config }));
  const started = performance.now();
  const child = new NodeChild(scope, 'speedwatch-collector', [...ctx.nodeArgs, COLLECTOR_BIN, 'serve', '--config', configPath, '--db', db, '--port', '0']);
  const line = await child.line((l) => l.includes('"listening"'), timeoutMs);
  const startMs = performance.now() - started;
  const url = (JSON.parse(line) as { url: string }).url;
  const agent = new http.Agent({ keepAlive: false });
  try {
    await getOk(agent, `${url}healthz`, 10_000);
  } finally {
    agent.destroy();
  }
  return { child, url, startMs, healthyMs: performance.now() - started };
}

/** Polls /readyz until it answers 200 (the first maintenance has computed verdicts); returns ms waited. */
async function untilReady(ctx: Context, url: string, timeoutMs: number): Promise<number> {
  const started = performance.now();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let said = started; ; ) {
      ctx.signal?.throwIfAborted();
      const answer = await get(agent, `${url}readyz`, 10_000);
      if (answer.status === 200) return performance.now() - started;
      if (performance.now() - started > timeoutMs) throw new Error(`${url}readyz not ready within ${fmt.s(timeoutMs)}: ${answer.body.toString().slice(0, 300)}`);
      if (performance.now() - said > 30_000) {
        said = performance.now();
        ctx.say(`  still warming up after ${fmt.s(said - started)}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    agent.destroy();
  }
}

/**
 * The collector's event-loop delay since the last scrape, from prom-client's
 * monitorEventLoopDelay figures (which it resets at each scrape); the histogram's 10 ms
 * resolution is taken off, so an idle loop reads 0.
 */
function loopDelay(scrape: string): { p99Ms: number; maxMs: number } {
  const resolutionMs = 10;
  const ms = (name: string): number => Math.max(0, promValue(scrape, `speedwatch_collector_nodejs_eventloop_lag_${name}_seconds`) * 1000 - resolutionMs);
  return { p99Ms: ms('p99'), maxMs: ms('max') };
}

/** Limits raised so that a benchmark measures throughput: no rate limit, frames of 500 default-size results. */
const THROUGHPUT_LIMITS = { maxMessagesPerMinute: 1_000_000, maxBatch: 500, maxFrameBytes: 16 * 1024 * 1024 };

interface LoadFigures {
  outcome: LoadOutcome;
  resultsPerS: number;
  /** The collector's CPU over the load, in cores. */
  collectorCores: number;
  /** The collector's event-loop delay over the load (see loopDelay). */
  loopDelay: { p99Ms: number; maxMs: number };
  /** The collector's /metrics right after the load. */
  scrape: string;
}

/**
 * Runs the load generator against a running collector: every token's agent connects, then all
 * send `total` results as fast as acks allow. The collector's event-loop figures are reset by a
 * scrape just before the go and read just after the last ack.
 */
async function loadDuring(ctx: Context, scope: Scope, collector: RunningCollector, dir: string, o: { tokens: string[]; total: number; batch: number; inFlight: number }): Promise<LoadFigures> {
  try {
    return await runLoad(ctx, scope, collector, dir, o);
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${collector.child.state}`, { cause: err });
  }
}

async function runLoad(ctx: Context, scope: Scope, collector: RunningCollector, dir: string, o: { tokens: string[]; total: number; batch: number; inFlight: number }): Promise<LoadFigures> {
  const plan: LoadPlan = { wsUrl: `${collector.url.replace(/^http/, 'ws')}v1/agents`, tokens: o.tokens, batch: o.batch, inFlight: o.inFlight, total: o.total };
  const planPath = join(dir, 'load-plan.json');
  writeFileSync(planPath, JSON.stringify(plan));
  const load = new NodeChild(scope, 'collector-load', [LOAD_SCRIPT, planPath], { stdin: true });
  await load.line((l) => l.includes('"ready"'), 120_000);
  ctx.say(`  ${fmt.int(o.tokens.length)} agents welcomed; ${fmt.int(o.total)} results in batches of ${o.batch}, ${o.inFlight} in flight each`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  scope.defer(() => agent.destroy());
  await getOk(agent, `${collector.url}metrics`);
  const cpuBefore = processCpuMs(collector.child.pid);
  load.write('go\n');
  const outcome = JSON.parse(await load.line((l) => l.includes('"done"'), 30 * 60_000)) as LoadOutcome;
  const collectorCpuMs = processCpuMs(collector.child.pid) - cpuBefore;
  const scrape = (await getOk(agent, `${collector.url}metrics`)).body.toString();
  await load.stop();
  if (outcome.refusals > 0 || outcome.acked !== o.total) {
    throw new Error(`load not clean: ${outcome.acked} of ${o.total} acked, ${outcome.refusals} refusals (first: ${outcome.firstRefusal ?? '-'})`);
  }
  return { outcome, resultsPerS: o.total / (outcome.elapsedMs / 1000), collectorCores: collectorCpuMs / outcome.elapsedMs, loopDelay: loopDelay(scrape), scrape };
}

/** User + system CPU of a process so far, from /proc (Linux). */
function processCpuMs(pid: number): number {
  const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of proc(5), counted from field 3 (state) here.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

interface Fetched {
  status: number;
  body: Buffer;
  ms: number;
}

/** GET on a keep-alive agent; the time runs from the request to the last body byte. */
function get(agent: http.Agent, url: string, timeoutMs = 120_000): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.get(url, { agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('error', reject);
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - started }));
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.once('error', reject);
  });
}

async function getOk(agent: http.Agent, url: string, timeoutMs?: number): Promise<Fetched> {
  const answer = await get(agent, url, timeoutMs);
  if (answer.status !== 200) throw new Error(`GET ${url} answered ${answer.status}: ${answer.body.toString().slice(0, 300)}`);
  return answer;
}

/** The value of an unlabelled series in a Prometheus text exposition (NaN when absent). */
function promValue(text: string, name: string): number {
  const match = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return match === null ? Number.NaN : Number(match[1]);
}

const fmt = {
  int: (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US').replace(/,/g, ' ') : '-'),
  ms: (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)),
  ratio: (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '-'),
  mb: (bytes: number): string => `${(bytes / 1e6).toFixed(bytes >= 1e8 ? 0 : 1)} MB`,
  s: (ms: number): string => `${(ms / 1000).toFixed(1)} s`,
};

const AGENT_VERSION = '0.1.0';
const ISPS = ['VNPT', 'Viettel', 'FPT', 'MobiFone'];
const TECHS: readonly Technology[] = ['fixed', 'fixed', 'mobile'];

function benchAgentId(i: number): string {
  return `bench-${String(i).padStart(5, '0')}`;
}

/** Adds `count` agents with varied site labels; returns their tokens. */
function addAgents(mods: Modules, store: StoreModule.SqliteStore, count: number, now: number): string[] {
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const token = mods.tokens.newToken();
    store.agents.add(
      {
        id: benchAgentId(i),
        name: `Site ${i}`,
        siteKind: SITE_KINDS[i % SITE_KINDS.length] as SiteKind,
        technology: TECHS[i % TECHS.length] as Technology,
        isp: ISPS[i % ISPS.length] as string,
        area: `Province ${i % 63}/District ${i % 705}/Commune ${i}`,
      },
      mods.tokens.hashToken(token),
      now,
    );
    tokens.push(token);
  }
  return tokens;
}

/** A start time a live agent would send: in the current hour, at least 30 s ago when the hour allows. */
function liveStartMs(now: number, random: () => number): number {
  const low = Math.max(Math.floor(now / HOUR_MS) * HOUR_MS, now - HOUR_MS);
  const high = now - 30_000;
  return high <= low ? high : low + Math.floor(random() * (high - low));
}

interface Context {
  mods: Modules;
  say: (line: string) => void;
  signal: AbortSignal | undefined;
  nodeArgs: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// 1. Ingest end to end vs raw SQLite

interface IngestRun {
  ingestPerS: number;
  /** Raw inserts in transactions of the collector's mean commit size: the ceiling. */
  rawPerS: number;
  /** Raw inserts in one transaction per agent batch. */
  rawPerBatchPerS: number;
  /** Results per group commit in the collector, mean. */
  commitRows: number;
  /** Collector CPU over the run, in cores (1 = one core busy all the time). */
  collectorCores: number;
  loadCores: number;
  /** Share of the collector's wall time spent in insertResults (its commit histogram). */
  commitShare: number;
  /** Mean group commit time in the collector, and the raw peer's transaction of the same size. */
  commitMs: number;
  rawCommitMs: number;
  ackP50Ms: number;
  ackP99Ms: number;
  /** The collector's event-loop delay over the run, p99 and max, ms. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

/** The store's INSERT through a raw connection, one IMMEDIATE transaction per `batch` rows; only the transactions are timed. */
function rawInsert(ctx: Context, path: string, o: { agents: number; total: number; batch: number; agentBatch: number }): { perS: number; msPerBatch: number } {
  const { agents, total, batch, agentBatch } = o;
  const setup = ctx.mods.store.openStore(path);
  try {
    addAgents(ctx.mods, setup, agents, Date.now());
  } finally {
    setup.close();
  }
  const db = new Database(path, { timeout: 5_000 });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    const insert = db.prepare<ResultRow>(INSERT_RESULT);
    const insertBatch = db.transaction((rows: readonly ResultRow[]) => {
      for (const row of rows) insert.run(...row);
    });
    const text = new ResultText(resultTemplate('agent-default'));
    const random = Math.random;
    let timedMs = 0;
    let batches = 0;
    for (let done = 0; done < total; done += batch, batches++) {
      const now = Date.now();
      const rows: ResultRow[] = [];
      for (let i = 0; i < Math.min(batch, total - done); i++) {
        // Each agent's rows come in runs of its batch size, as in the collector's commits.
        const agentId = benchAgentId(Math.floor((done + i) / agentBatch) % agents);
        const id = randomUUID();
        const ts = liveStartMs(now, random);
        rows.push([id, agentId, ts, now, 'ok', 104.3, 43.8, 12.9, 1.7, 0, text.make({ id, startedMs: ts, downloadMbps: 104.3, uploadMbps: 43.8, latencyMs: 12.9 }), null]);
      }
      const started = performance.now();
      insertBatch.immediate(rows);
      timedMs += performance.now() - started;
    }
    return { perS: total / (timedMs / 1000), msPerBatch: timedMs / batches };
  } finally {
    db.close();
  }
}

async function ingestEndToEnd(
  ctx: Context,
  scope: Scope,
  dir: string,
  o: { agents: number; total: number; batch: number; inFlight: number },
): Promise<Omit<IngestRun, 'rawPerS' | 'rawPerBatchPerS' | 'rawCommitMs'>> {
  const db = join(dir, 'ingest.db');
  const setup = ctx.mods.store.openStore(db);
  let tokens: string[];
  try {
    tokens = addAgents(ctx.mods, setup, o.agents, Date.now());
  } finally {
    setup.close();
  }
  const collector = await startCollector(ctx, scope, db, { limits: { ...THROUGHPUT_LIMITS, maxBatch: Math.max(500, o.batch) } }, 60_000);
  const load = await loadDuring(ctx, scope, collector, dir, { tokens, total: o.total, batch: o.batch, inFlight: o.inFlight });
  const { outcome, scrape } = load;
  const ingested = promValue(scrape, 'speedwatch_collector_ingested_results_total');
  const commitS = promValue(scrape, 'speedwatch_collector_batch_commit_seconds_sum');
  const commits = promValue(scrape, 'speedwatch_collector_batch_commit_seconds_count');
  if (ingested !== o.total) throw new Error(`the collector counted ${ingested} results ingested, expected ${o.total}`);
  await collector.child.stop();
  const check = new Database(db, { readonly: true });
  const stored = (check.prepare('SELECT count(*) AS n FROM results').get() as { n: number }).n;
  check.close();
  if (stored !== o.total) throw new Error(`${stored} results stored, expected ${o.total}`);
  return {
    ingestPerS: load.resultsPerS,
    collectorCores: load.collectorCores,
    loadCores: outcome.cpuMs / outcome.elapsedMs,
    commitShare: (commitS * 1000) / outcome.elapsedMs,
    commitRows: o.total / commits,
    commitMs: (commitS * 1000) / commits,
    ackP50Ms: outcome.ackP50Ms,
    ackP99Ms: outcome.ackP99Ms,
    loopDelayP99Ms: load.loopDelay.p99Ms,
    loopDelayMaxMs: load.loopDelay.maxMs,
  };
}

async function benchIngest(
  ctx: Context,
  o: { runs: number; ingestResults: number; ingestAgents: number; batch: number; inFlight: number },
): Promise<{ rows: BenchRow[]; summary: object }> {
  const total = Math.ceil(o.ingestResults / o.batch) * o.batch;
  const docBytes = Buffer.byteLength(JSON.stringify(resultTemplate('agent-default')));
  const runs: IngestRun[] = [];
  for (let run = 0; run < o.runs; run++) {
    ctx.signal?.throwIfAborted();
    const figures = await scoped('collector-bench', async (scope) => {
      const dir = scope.tempDir('sw-bench-ingest-');
      const doRaw = (rows: number): { perS: number; msPerBatch: number } => {
        ctx.say(`ingest run ${run + 1}/${o.runs}: raw better-sqlite3, ${fmt.int(total)} rows in transactions of ${fmt.int(rows)}`);
        const raw = rawInsert(ctx, join(dir, `raw-${rows}.db`), { agents: o.ingestAgents, total, batch: rows, agentBatch: o.batch });
        rmSync(join(dir, `raw-${rows}.db`), { force: true });
        return raw;
      };
      const doIngest = () => {
        ctx.say(`ingest run ${run + 1}/${o.runs}: collector, ${o.ingestAgents} agents × ${o.inFlight} batches of ${o.batch} in flight, ${fmt.int(total)} results`);
        return ingestEndToEnd(ctx, scope, dir, { agents: o.ingestAgents, total, batch: o.batch, inFlight: o.inFlight });
      };
      // The ceiling's transaction size is the collector's mean group commit: of this run when
      // the collector goes first, else of the previous run. The order alternates so that drift
      // on the shared machine hits both sides alike.
      let ingest: Awaited<ReturnType<typeof doIngest>>;
      let ceiling: { perS: number; msPerBatch: number };
      const previous = runs.at(-1);
      if (previous === undefined || run % 2 === 0) {
        ingest = await doIngest();
        ceiling = doRaw(Math.round(ingest.commitRows));
      } else {
        ceiling = doRaw(Math.round(previous.commitRows));
        ingest = await doIngest();
      }
      const perBatch = doRaw(o.batch);
      return { ...ingest, rawPerS: ceiling.perS, rawCommitMs: ceiling.msPerBatch, rawPerBatchPerS: perBatch.perS };
    });
    ctx.say(`  ingest ${fmt.int(figures.ingestPerS)}/s (commits of ${fmt.int(figures.commitRows)}), raw ${fmt.int(figures.rawPerS)}/s in commits of that size, ${fmt.int(figures.rawPerBatchPerS)}/s in commits of ${o.batch}; collector ${figures.collectorCores.toFixed(2)} cores`);
    runs.push(figures);
  }
  const m = (key: keyof IngestRun): number => median(runs.map((r) => r[key]));
  const summary = {
    runs: o.runs,
    results: total,
    agents: o.ingestAgents,
    batch: o.batch,
    inFlight: o.inFlight,
    resultBytes: docBytes,
    ingestResultsPerS: m('ingestPerS'),
    rawResultsPerS: m('rawPerS'),
    ratio: m('ingestPerS') / m('rawPerS'),
    rawPerAgentBatchResultsPerS: m('rawPerBatchPerS'),
    perRun: runs.map((r) => ({ ingest: Math.round(r.ingestPerS), raw: Math.round(r.rawPerS), rawPerAgentBatch: Math.round(r.rawPerBatchPerS) })),
    collectorCores: m('collectorCores'),
    loadGeneratorCores: m('loadCores'),
    collectorCommitShare: m('commitShare'),
    commit: { rows: m('commitRows'), collectorMs: m('commitMs'), rawMs: m('rawCommitMs') },
    ackMs: { p50: m('ackP50Ms'), p99: m('ackP99Ms') },
    loopDelayMs: { p99: m('loopDelayP99Ms'), max: m('loopDelayMaxMs') },
  };
  const rows: BenchRow[] = [
    {
      measure: `ingest results/s acked, batch ${o.batch} (${o.ingestAgents} agents, ${(docBytes / 1000).toFixed(1)} kB results) vs raw SQLite, transactions of the collector's commit size`,
      value: `${fmt.int(summary.ingestResultsPerS)}/s`,
      peer: `${fmt.int(summary.rawResultsPerS)}/s`,
      ratio: fmt.ratio(summary.ratio),
      goal: '>= 20 000/s; ratio >= 0.6',
    },
    {
      measure: `ingest batch ${o.batch} vs raw SQLite, one transaction per agent batch (no group commit)`,
      value: `${fmt.int(summary.ingestResultsPerS)}/s`,
      peer: `${fmt.int(summary.rawPerAgentBatchResultsPerS)}/s`,
      ratio: fmt.ratio(summary.ingestResultsPerS / summary.rawPerAgentBatchResultsPerS),
      goal: '',
    },
    {
      measure: `ingest batch ${o.batch}: collector CPU cores (load generator) · time in commit`,
      value: `${summary.collectorCores.toFixed(2)} (${summary.loadGeneratorCores.toFixed(2)}) · ${(summary.collectorCommitShare * 100).toFixed(0)}%`,
      peer: '',
      ratio: '',
      goal: '',
    },
    {
      measure: `ingest batch ${o.batch}: ms per group commit of ${fmt.int(summary.commit.rows)} results (queueing on the writer included) vs raw, same size`,
      value: fmt.ms(summary.commit.collectorMs),
      peer: fmt.ms(summary.commit.rawMs),
      ratio: fmt.ratio(summary.commit.collectorMs / summary.commit.rawMs),
      goal: '',
    },
    {
      measure: `ingest batch ${o.batch}: the collector's event-loop delay while ingesting at full rate, p99 / max ms`,
      value: `${fmt.ms(summary.loopDelayMs.p99)} / ${fmt.ms(summary.loopDelayMs.max)}`,
      peer: '',
      ratio: '',
      goal: 'p99 <= 50 ms',
    },
    {
      measure: `ingest batch ${o.batch}: send-to-ack ms, p50 / p99 (${o.inFlight} in flight per agent)`,
      value: `${fmt.ms(summary.ackMs.p50)} / ${fmt.ms(summary.ackMs.p99)}`,
      peer: '',
      ratio: '',
      goal: '',
    },
  ];
  return { rows, summary };
}

// ---------------------------------------------------------------------------------------------
// 2. /metrics at many agents vs /healthz

interface ScrapeFigures {
  agents: number;
  seedMs: number;
  startMs: number;
  scrapeMedianMs: number;
  scrapeP95Ms: number;
  healthzMedianMs: number;
  healthzP95Ms: number;
  bodyBytes: number;
  series: number;
}

async function scrapeAt(ctx: Context, agents: number, scrapes: number): Promise<ScrapeFigures> {
  return scoped('collector-bench', async (scope) => {
    const dir = scope.tempDir('sw-bench-metrics-');
    const db = join(dir, 'metrics.db');
    ctx.say(`metrics: seeding ${fmt.int(agents)} agents, one result each`);
    const seedStarted = performance.now();
    // NORMAL: seeding is set-up, not measured; it spares 20 000 fsyncs.
    const store = ctx.mods.store.openStore(db, { synchronous: 'NORMAL' });
    try {
      const now = Date.now();
      addAgents(ctx.mods, store, agents, now);
      const template = resultTemplate('agent-default');
      for (let i = 0; i < agents; i++) {
        const id = benchAgentId(i);
        const startedMs = now - 10 * 60_000 - (i % 600) * 1000;
        const result: MeasurementResult = {
          ...template,
          id: randomUUID(),
          startedAt: new Date(startedMs).toISOString(),
          finishedAt: new Date(startedMs + 27_000).toISOString(),
        };
        store.agents.touch([{ id, version: AGENT_VERSION, lastSeenAt: now }]);
        store.writes.insertFrames([ctx.mods.frameBatch.batchOfResults(id, now, [result])]);
      }
    } finally {
      store.close();
    }
    const seedMs = performance.now() - seedStarted;
    ctx.say(`metrics: starting the collector on ${fmt.int(agents)} agents`);
    const collector = await startCollector(ctx, scope, db, {}, 10 * 60_000);
    // The agents' latest results reach the gauges with the first maintenance.
    await untilReady(ctx, collector.url, 10 * 60_000);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    scope.defer(() => agent.destroy());
    const warm = await getOk(agent, `${collector.url}metrics`);
    await getOk(agent, `${collector.url}healthz`);
    const scrapeMs: number[] = [];
    const healthzMs: number[] = [];
    for (let i = 0; i < scrapes; i++) {
      ctx.signal?.throwIfAborted();
      scrapeMs.push((await getOk(agent, `${collector.url}metrics`)).ms);
      healthzMs.push((await getOk(agent, `${collector.url}healthz`)).ms);
    }
    const text = warm.body.toString();
    const series = text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
    return {
      agents,
      seedMs,
      startMs: collector.startMs,
      scrapeMedianMs: median(scrapeMs),
      scrapeP95Ms: percentile(scrapeMs, 95),
      healthzMedianMs: median(healthzMs),
      healthzP95Ms: percentile(healthzMs, 95),
      bodyBytes: warm.body.length,
      series,
    };
  });
}

async function benchMetrics(ctx: Context, o: { scrapeAgents: readonly number[]; scrapes: number }): Promise<{ rows: BenchRow[]; summary: object }> {
  const figures: ScrapeFigures[] = [];
  for (const agents of o.scrapeAgents) {
    ctx.signal?.throwIfAborted();
    const f = await scrapeAt(ctx, agents, o.scrapes);
    ctx.say(`  /metrics at ${fmt.int(agents)} agents: median ${fmt.ms(f.scrapeMedianMs)} ms, p95 ${fmt.ms(f.scrapeP95Ms)} ms, ${fmt.mb(f.bodyBytes)}`);
    figures.push(f);
  }
  const rows: BenchRow[] = figures.map((f) => ({
    measure: `/metrics ms median / p95, ${fmt.int(f.agents)} agents, idle after start-up maintenance (${fmt.int(f.series)} series, ${fmt.mb(f.bodyBytes)}) vs /healthz`,
    value: `${fmt.ms(f.scrapeMedianMs)} / ${fmt.ms(f.scrapeP95Ms)}`,
    peer: `${fmt.ms(f.healthzMedianMs)} / ${fmt.ms(f.healthzP95Ms)}`,
    ratio: fmt.ratio(f.scrapeMedianMs / f.healthzMedianMs),
    goal: f.agents >= 10_000 ? 'p95 <= 100 ms' : '',
  }));
  return { rows, summary: { scrapes: o.scrapes, state: 'idle, no agent connected, after the start-up maintenance (roll-ups, verdicts of every agent)', byAgents: figures } };
}

// ---------------------------------------------------------------------------------------------
// 3. /api/v1/series on a large database vs the same SQL

const SERIES_AGENTS = 500;
const SERIES_SPAN_DAYS = 399; // inside the default 400-day retention, so start-up deletes nothing
const SERIES_RANGE_MS = 30 * DAY_MS;
const LOAD_TX_ROWS = 50_000;
/** Results ingested at full rate while the series database's first maintenance runs. */
const STARTUP_LOAD_RESULTS = 100_000;

/** Rows that fit in the free space of the temp dir, with a margin; `rows` when they all fit. */
function rowsThatFit(ctx: Context, rows: number, bytesPerRow: number): number {
  const fs = statfsSync(tmpdir());
  const free = fs.bavail * fs.bsize;
  const reserve = 5e9; // leave the shared machine room
  const fixed = 2e9; // roll-ups (~250 B per agent-hour) and WAL
  const fit = Math.floor((free - reserve - fixed) / (bytesPerRow * 1.3));
  ctx.say(`${fmt.mb(free)} free in ${tmpdir()}; ~${fmt.mb(rows * bytesPerRow + fixed)} needed for ${fmt.int(rows)} rows`);
  if (fit >= rows) return rows;
  const scaled = Math.max(0, Math.floor(fit / 100_000) * 100_000);
  ctx.say(`NOTE: not enough space for ${fmt.int(rows)} rows; scaled down to ${fmt.int(scaled)}`);
  return scaled;
}

/** Bulk-loads `rows` results over SERIES_SPAN_DAYS, agents interleaved, ordered by time; returns ms. */
/** Loads `rows` results spread evenly over `spanDays` before `now`, round-robin over `agents`; returns ms taken. */
function bulkLoad(ctx: Context, db: string, o: { rows: number; agents: number; spanDays: number; now: number }): { ms: number; tokens: string[] } {
  const { rows, agents, spanDays, now } = o;
  const setup = ctx.mods.store.openStore(db);
  let tokens: string[];
  try {
    tokens = addAgents(ctx.mods, setup, agents, now - spanDays * DAY_MS - DAY_MS);
  } finally {
    setup.close();
  }
  const started = performance.now();
  const raw = new Database(db);
  try {
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = OFF');
    raw.pragma('cache_size = -524288'); // 512 MiB: the random-UUID primary key index stays in memory longer
    const insert = raw.prepare<ResultRow>(INSERT_RESULT);
    const load = raw.transaction((batch: readonly ResultRow[]) => {
      for (const row of batch) insert.run(...row);
    });
    const text = new ResultText(resultTemplate('compact'));
    const random = seededRandom(42);
    const baseDownload = Array.from({ length: agents }, (_, i) => (i % 3 === 2 ? 20 + random() * 60 : 30 + random() * 120));
    const baseLatency = Array.from({ length: agents }, () => 5 + random() * 50);
    const t0 = now - spanDays * DAY_MS;
    const stepMs = (spanDays * DAY_MS - 60_000) / rows;
    let lastReport = performance.now();
    for (let done = 0; done < rows; ) {
      ctx.signal?.throwIfAborted();
      const batch: ResultRow[] = [];
      const end = Math.min(rows, done + LOAD_TX_ROWS);
      for (let i = done; i < end; i++) {
        const a = i % agents;
        const agentId = benchAgentId(a);
        const id = randomUUID();
        const ts = Math.floor(t0 + i * stepMs);
        const down = Math.round((baseDownload[a] as number) * (0.7 + random() * 0.5) * 100) / 100;
        const up = Math.round(down * 0.4 * 100) / 100;
        const latency = Math.round((baseLatency[a] as number) * (0.8 + random() * 0.6) * 10) / 10;
        const doc = text.make({ id, startedMs: ts, downloadMbps: down, uploadMbps: up, latencyMs: latency });
        batch.push([id, agentId, ts, ts + 28_000, 'ok', down, up, latency, 1.7, 0, doc, null]);
      }
      load(batch);
      done = end;
      if (performance.now() - lastReport > 15_000 || done === rows) {
        lastReport = performance.now();
        const s = (lastReport - started) / 1000;
        ctx.say(`loaded ${fmt.int(done)} / ${fmt.int(rows)} rows (${fmt.int(done / s)} rows/s)`);
      }
    }
  } finally {
    raw.close();
  }
  return { ms: performance.now() - started, tokens };
}

interface SeriesQuery {
  agentId: string;
  from: number;
  to: number;
}

/** The SQL of `SqliteStore#series` for a whole-hour step, on a connection of its own. */
function sqlSeries(db: Database.Database): (q: SeriesQuery) => number {
  const state = db.prepare<[], { rolled_up_to: number | null }>('SELECT rolled_up_to, deleted_before FROM rollup_state WHERE id = 1');
  const hours = db.prepare<[string, number, number], unknown>(
    `SELECT hour, download_mbps_count AS count, download_mbps_min AS min, download_mbps_mean AS mean, download_mbps_median AS median,
       download_mbps_max AS max
     FROM rollups_hourly WHERE agent_id = ? AND hour >= ? AND hour < ? AND download_mbps_count > 0 ORDER BY hour`,
  );
  const values = db
    .prepare<[string, number, number], [number, number]>(
      'SELECT ts, download_mbps FROM results INDEXED BY results_agent_ts WHERE agent_id = ? AND ts >= ? AND ts < ? AND download_mbps IS NOT NULL ORDER BY ts',
    )
    .raw();
  const read = db.transaction((q: SeriesQuery): number => {
    const fromHour = Math.floor(q.from / HOUR_MS) * HOUR_MS;
    const toHour = Math.ceil(q.to / HOUR_MS) * HOUR_MS;
    const rolledUpTo = state.get()?.rolled_up_to ?? fromHour;
    const horizon = Math.min(Math.max(rolledUpTo, fromHour), toHour);
    return hours.all(q.agentId, fromHour, horizon).length + values.all(q.agentId, horizon, toHour).length;
  });
  return (q) => read(q);
}

async function benchSeries(ctx: Context, o: { seriesRows: number; queries: number }): Promise<{ rows: BenchRow[]; summary: object }> {
  return scoped('collector-bench', async (scope) => {
    const docBytes = Buffer.byteLength(JSON.stringify(resultTemplate('compact')));
    const rows = rowsThatFit(ctx, o.seriesRows, docBytes + 250);
    if (rows < 100_000) throw new Error(`not enough space in ${tmpdir()} for a meaningful series database`);
    const dir = scope.tempDir('sw-bench-series-');
    const db = join(dir, 'series.db');
    const loadNow = Date.now();
    ctx.say(`series: bulk-loading ${fmt.int(rows)} results (${SERIES_AGENTS} agents over ${SERIES_SPAN_DAYS} days, ${docBytes} B documents)`);
    const { ms: loadMs, tokens } = bulkLoad(ctx, db, { rows, agents: SERIES_AGENTS, spanDays: SERIES_SPAN_DAYS, now: loadNow });
    const fileBytes = statSync(db).size;
    ctx.say(`series: loaded in ${fmt.s(loadMs)}, ${fmt.mb(fileBytes)}; starting the collector (its first maintenance rolls up every hour, on its own thread)`);
    const collector = await startCollector(ctx, scope, db, { limits: THROUGHPUT_LIMITS }, 60_000);
    ctx.say(`series: collector listening after ${fmt.s(collector.startMs)}, /healthz 200 after ${fmt.s(collector.healthyMs)}`);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    scope.defer(() => agent.destroy());
    const warming = (await get(agent, `${collector.url}readyz`)).status === 503;
    // Full-rate ingest while the first maintenance works through the database.
    ctx.say(`series: ingesting ${fmt.int(STARTUP_LOAD_RESULTS)} results at full rate during the start-up maintenance`);
    const startupLoad = await loadDuring(ctx, scope, collector, dir, { tokens, total: STARTUP_LOAD_RESULTS, batch: 100, inFlight: 1 });
    const stillWarming = (await get(agent, `${collector.url}readyz`)).status === 503;
    ctx.say(
      `series: ${fmt.int(startupLoad.resultsPerS)} results/s, event-loop delay p99 ${fmt.ms(startupLoad.loopDelay.p99Ms)} ms (max ${fmt.ms(startupLoad.loopDelay.maxMs)}); ` +
        `start-up maintenance ${warming ? (stillWarming ? 'running throughout' : 'running at the start') : 'already done'}`,
    );
    const readyMs = await untilReady(ctx, collector.url, 60 * 60_000);
    ctx.say(`series: ready (verdicts computed) ${fmt.s(collector.healthyMs + readyMs)} after start`);
    const listeningAt = performance.now();

    const random = seededRandom(7);
    const lowest = loadNow - SERIES_SPAN_DAYS * DAY_MS + DAY_MS;
    const highest = loadNow - SERIES_RANGE_MS;
    const queries: SeriesQuery[] = Array.from({ length: o.queries }, () => {
      const from = Math.floor(lowest + random() * (highest - lowest));
      return { agentId: benchAgentId(Math.floor(random() * SERIES_AGENTS)), from, to: from + SERIES_RANGE_MS };
    });
    const url = (q: SeriesQuery): string =>
      `${collector.url}api/v1/series?agent=${q.agentId}&metric=download_mbps&from=${new Date(q.from).toISOString()}&to=${new Date(q.to).toISOString()}&step=1h`;
    const first = await getOk(agent, url(queries[0] as SeriesQuery), 10 * 60_000);
    const points = (JSON.parse(first.body.toString()) as { points: unknown[] }).points.length;
    ctx.say(`series: first call ${fmt.ms(first.ms)} ms, ${points} points`);

    const sqlDb = new Database(db, { readonly: true, fileMustExist: true });
    scope.defer(() => sqlDb.close());
    const sql = sqlSeries(sqlDb);
    const rollups = (sqlDb.prepare('SELECT count(*) AS n FROM rollups_hourly').get() as { n: number }).n;
    const apiMs: number[] = [];
    const sqlMs: number[] = [];
    let sqlRows = 0;
    const timingStart = performance.now();
    for (const q of queries) {
      ctx.signal?.throwIfAborted();
      apiMs.push((await getOk(agent, url(q))).ms);
      const started = performance.now();
      sqlRows += sql(q);
      sqlMs.push(performance.now() - started);
    }
    const timingEnd = performance.now();
    // The collector runs maintenance every 60 s after its start; say whether a tick fell inside the timing.
    const ticks = Math.floor((timingEnd - listeningAt) / 60_000) - Math.floor((timingStart - listeningAt) / 60_000);
    const state = `${ticks} maintenance tick(s) during the ${fmt.s(timingEnd - timingStart)} of timing (from ${fmt.s(timingStart - listeningAt)} after listening)`;
    ctx.say(`series: api p95 ${fmt.ms(percentile(apiMs, 95))} ms, sql p95 ${fmt.ms(percentile(sqlMs, 95))} ms; ${state}`);
    const summary = {
      rows,
      requestedRows: o.seriesRows,
      agents: SERIES_AGENTS,
      spanDays: SERIES_SPAN_DAYS,
      documentBytes: docBytes,
      loadS: loadMs / 1000,
      loadRowsPerS: rows / (loadMs / 1000),
      fileBytes,
      rollups,
      collectorStartS: collector.startMs / 1000,
      healthyMs: collector.healthyMs,
      readyS: (collector.healthyMs + readyMs) / 1000,
      startupIngest: {
        results: STARTUP_LOAD_RESULTS,
        resultsPerS: startupLoad.resultsPerS,
        loopDelayMs: startupLoad.loopDelay,
        maintenanceRunning: warming ? (stillWarming ? 'throughout' : 'at the start') : 'no',
      },
      firstCallMs: first.ms,
      queries: o.queries,
      pointsPerQuery: points,
      sqlRowsPerQuery: sqlRows / o.queries,
      apiMs: { p50: median(apiMs), p95: percentile(apiMs, 95), max: Math.max(...apiMs) },
      sqlMs: { p50: median(sqlMs), p95: percentile(sqlMs, 95), max: Math.max(...sqlMs) },
      state,
    };
    const rowsLabel = rows >= 1e6 ? `${rows / 1e6} M` : fmt.int(rows);
    const table: BenchRow[] = [
      {
        measure: `/api/v1/series ms p50 / p95, 30 d step 1h, ${rowsLabel} results (${SERIES_AGENTS} agents, ${SERIES_SPAN_DAYS} d) vs its SQL`,
        value: `${fmt.ms(summary.apiMs.p50)} / ${fmt.ms(summary.apiMs.p95)}`,
        peer: `${fmt.ms(summary.sqlMs.p50)} / ${fmt.ms(summary.sqlMs.p95)}`,
        ratio: fmt.ratio(summary.apiMs.p95 / summary.sqlMs.p95),
        goal: 'p95 <= 50 ms',
      },
      {
        measure: `collector start to /healthz 200 on ${rowsLabel} results`,
        value: `${fmt.ms(collector.healthyMs)} ms`,
        peer: '',
        ratio: '',
        goal: '<= 1 s',
      },
      {
        measure: `event-loop delay p99 / max ms, ingesting at full rate during the start-up maintenance on ${rowsLabel} results (${summary.startupIngest.maintenanceRunning})`,
        value: `${fmt.ms(startupLoad.loopDelay.p99Ms)} / ${fmt.ms(startupLoad.loopDelay.maxMs)}`,
        peer: `${fmt.int(startupLoad.resultsPerS)} results/s`,
        ratio: '',
        goal: 'p99 <= 50 ms',
      },
      {
        measure: `collector start to ready (first maintenance: ${fmt.int(rollups)} roll-ups, verdicts) on ${rowsLabel} results vs bulk load`,
        value: fmt.s(collector.healthyMs + readyMs),
        peer: `load ${fmt.s(loadMs)}`,
        ratio: fmt.ratio((collector.healthyMs + readyMs) / loadMs),
        goal: '',
      },
    ];
    return { rows: table, summary };
  });
}

// ---------------------------------------------------------------------------------------------

/**
 * Runs the collector benchmarks (see the file comment) and returns the table rows and a
 * summary per part. Takes minutes; with the default 10 M series rows, the series database
 * needs ~10 GB in the temp dir for the duration of that part.
 */
export async function benchCollector(options: CollectorBenchOptions): Promise<{ rows: BenchRow[]; summary: Record<string, unknown> }> {
  const parts = new Set(options.parts ?? COLLECTOR_BENCH_PARTS);
  const started = performance.now();
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const ctx: Context = {
    mods: await loadModules(),
    say: (line) => progress(`[collector-bench +${((performance.now() - started) / 1000).toFixed(0)}s] ${line}`),
    signal: options.signal,
    nodeArgs: options.collectorNodeArgs ?? [],
  };
  const rows: BenchRow[] = [];
  const summary: Record<string, unknown> = {};
  const timings: Record<string, number> = {};
  const part = async (name: CollectorBenchPart, fn: () => Promise<{ rows: BenchRow[]; summary: object }>): Promise<void> => {
    if (!parts.has(name)) return;
    const partStarted = performance.now();
    const out = await fn();
    rows.push(...out.rows);
    summary[name] = out.summary;
    timings[name] = Math.round((performance.now() - partStarted) / 100) / 10;
  };
  await part('ingest', async () => {
    const byBatch = { rows: [] as BenchRow[], summary: [] as object[] };
    for (const batch of options.batches ?? [100, 500]) {
      const out = await benchIngest(ctx, {
        runs: options.runs,
        ingestResults: options.ingestResults ?? 200_000,
        ingestAgents: options.ingestAgents ?? 1_000,
        batch,
        inFlight: options.inFlight ?? 1,
      });
      byBatch.rows.push(...out.rows);
      byBatch.summary.push(out.summary);
    }
    return { rows: byBatch.rows, summary: { byBatch: byBatch.summary } };
  });
  await part('metrics', () => benchMetrics(ctx, { scrapeAgents: options.scrapeAgents ?? [1_000, 10_000], scrapes: options.scrapes ?? 20 }));
  await part('series', () => benchSeries(ctx, { seriesRows: options.seriesRows, queries: options.seriesQueries ?? 200 }));
  await part('verdicts', () => benchVerdicts(ctx, { agents: options.verdictAgents ?? 1_000, runs: options.runs }));
  await part('postgres', () => benchPostgres(ctx, { runs: options.runs, results: options.postgresResults ?? 100_000, agents: options.ingestAgents ?? 1_000, batch: 100, inFlight: options.inFlight ?? 1 }));
  summary['partSeconds'] = timings;
  return { rows, summary };
}

// ---------------------------------------------------------------------------------------------
// 4. Verdict refresh on a month of a fleet testing every 15 minutes vs re-reading the window

const TESTS_PER_DAY = 96;
/** Results ingested at full rate while the collector refreshes verdicts every 5 s. */
const VERDICT_LOAD_RESULTS = 200_000;

async function benchVerdicts(ctx: Context, o: { agents: number; runs: number }): Promise<{ rows: BenchRow[]; summary: object }> {
  return scoped('collector-bench', async (scope) => {
    const docBytes = Buffer.byteLength(JSON.stringify(resultTemplate('compact')));
    const spanDays = 31;
    const rows = rowsThatFit(ctx, o.agents * TESTS_PER_DAY * spanDays, docBytes + 250);
    const dir = scope.tempDir('sw-bench-verdicts-');
    const db = join(dir, 'verdicts.db');
    const now = Date.now();
    ctx.say(`verdicts: bulk-loading ${fmt.int(rows)} results (${fmt.int(o.agents)} agents, ${TESTS_PER_DAY} a day for ${spanDays} days)`);
    const { tokens } = bulkLoad(ctx, db, { rows, agents: o.agents, spanDays, now });
    const store = ctx.mods.store.openStore(db);
    scope.defer(() => store.close());
    const config = ctx.mods.verdictConfig.DEFAULT_VERDICT_CONFIG;
    const longestMs = Math.max(...config.windows.map((w) => w.ms));
    const results = ctx.mods.sqliteCollectorStore.sqliteCollectorStore(store).results;
    const window = new ctx.mods.sampleWindow.SampleWindow(results, longestMs);
    // What the maintenance thread does at each pass: the window topped up, every verdict, and
    // the snapshot of what changed that goes to the serving thread.
    const windowNames = config.windows.map((w) => w.name);
    const differ = new ctx.mods.verdictSnapshot.VerdictDiffer(windowNames);
    const refresh = async (t: number): Promise<void> => {
      await window.update(t);
      differ.snapshot(ctx.mods.verdictSnapshot.computeVerdicts(store.agents.list(), window, t, config));
    };
    const timed = async (fn: () => Promise<void>): Promise<number> => {
      const started = performance.now();
      await fn();
      return performance.now() - started;
    };
    // A minute of the fleet between refreshes: agents / 15 new results.
    const text = new ResultText(resultTemplate('compact'));
    const minute = (t: number): void => {
      const perMinute = Math.ceil(o.agents / 15);
      for (let i = 0; i < perMinute; i++) {
        const id = randomUUID();
        const startedMs = t - 30_000;
        const result = JSON.parse(text.make({ id, startedMs, downloadMbps: 95 + (i % 20), uploadMbps: 40, latencyMs: 12 })) as MeasurementResult;
        store.writes.insertFrames([ctx.mods.frameBatch.batchOfResults(benchAgentId(i % o.agents), t, [result])]);
      }
    };
    ctx.say('verdicts: first refresh (reads the window)');
    const firstMs = await timed(() => refresh(now));
    const laterMs: number[] = [];
    const rereadMs: number[] = [];
    const agents = store.agents.list();
    for (let run = 0; run < o.runs; run++) {
      ctx.signal?.throwIfAborted();
      const t = now + (run + 1) * 60_000;
      minute(t);
      laterMs.push(await timed(() => refresh(t)));
      // The peer: the same verdicts from the window read again from the store.
      rereadMs.push(
        await timed(async () => {
          const fresh = new ctx.mods.sampleWindow.SampleWindow(results, longestMs);
          await fresh.update(t);
          new ctx.mods.verdictSnapshot.VerdictDiffer(windowNames).snapshot(ctx.mods.verdictSnapshot.computeVerdicts(agents, fresh, t, config));
        }),
      );
      ctx.say(`  refresh ${fmt.ms(laterMs.at(-1) as number)} ms, re-reading ${fmt.ms(rereadMs.at(-1) as number)} ms`);
    }
    store.close();

    // The collector on the same database, refreshing every 5 s on its maintenance thread while
    // ingesting at full rate: what a refresh costs the thread that serves agents.
    ctx.say(`verdicts: the collector on the same database, refreshing every 5 s, ingesting ${fmt.int(VERDICT_LOAD_RESULTS)} results at full rate`);
    const collector = await startCollector(ctx, scope, db, { limits: THROUGHPUT_LIMITS, maintenanceInterval: '5s' }, 60_000);
    await untilReady(ctx, collector.url, 30 * 60_000);
    const probe = new http.Agent({ keepAlive: true, maxSockets: 1 });
    scope.defer(() => probe.destroy());
    const passes = async (): Promise<number> => promValue((await getOk(probe, `${collector.url}metrics`)).body.toString(), 'speedwatch_collector_maintenance_seconds_count{part="verdicts"}');
    const passesBefore = await passes();
    const live = await loadDuring(ctx, scope, collector, dir, { tokens, total: VERDICT_LOAD_RESULTS, batch: 100, inFlight: 1 });
    const refreshesDuring = promValue(live.scrape, 'speedwatch_collector_maintenance_seconds_count{part="verdicts"}') - passesBefore;
    const refreshMsLive = (promValue(live.scrape, 'speedwatch_collector_maintenance_seconds_sum{part="verdicts"}') * 1000) / promValue(live.scrape, 'speedwatch_collector_maintenance_seconds_count{part="verdicts"}');
    ctx.say(`  ${fmt.int(live.resultsPerS)} results/s, ${refreshesDuring} refreshes during the load, event-loop delay p99 ${fmt.ms(live.loopDelay.p99Ms)} ms (max ${fmt.ms(live.loopDelay.maxMs)})`);
    const summary = {
      agents: o.agents,
      results: rows,
      testsInWindow: o.agents * TESTS_PER_DAY * 30,
      liveIngest: { results: VERDICT_LOAD_RESULTS, resultsPerS: live.resultsPerS, refreshesDuring, refreshMsOnThread: refreshMsLive, loopDelayMs: live.loopDelay },
      firstRefreshMs: firstMs,
      refreshMs: { median: median(laterMs), all: laterMs },
      rereadMs: { median: median(rereadMs), all: rereadMs },
      rssBytes: process.memoryUsage().rss,
    };
    const table: BenchRow[] = [
      {
        measure: `verdict refresh ms (every window and grouping), ${fmt.int(o.agents)} agents × ${TESTS_PER_DAY} tests a day, a minute after the last vs re-reading the window`,
        value: fmt.ms(summary.refreshMs.median),
        peer: fmt.ms(summary.rereadMs.median),
        ratio: fmt.ratio(summary.refreshMs.median / summary.rereadMs.median),
        goal: '',
      },
      { measure: 'verdict refresh: the first after start (reads the window) ms', value: fmt.ms(firstMs), peer: '', ratio: '', goal: '' },
      {
        measure: `event-loop delay p99 / max ms, ingesting at full rate during ${refreshesDuring} verdict refreshes at ${fmt.int(o.agents)} agents (on the maintenance thread, ${fmt.ms(refreshMsLive)} ms each)`,
        value: `${fmt.ms(live.loopDelay.p99Ms)} / ${fmt.ms(live.loopDelay.maxMs)}`,
        peer: `${fmt.int(live.resultsPerS)} results/s`,
        ratio: '',
        goal: 'p99 <= 50 ms',
      },
    ];
    return { rows: table, summary };
  });
}


// ---------------------------------------------------------------------------------------------
// 5. Ingest on PostgreSQL vs raw COPY into the same table

interface PostgresRun {
  ingestPerS: number;
  /** Results per group commit in the collector, mean. */
  commitRows: number;
  /** The store's own statement (claim ids, store rows) in transactions of the commit size, no collector. */
  statementPerS: number;
  /** COPY into `results` in transactions of the commit size: the ceiling. */
  copyPerS: number;
  collectorCores: number;
  ackP99Ms: number;
  loopDelayP99Ms: number;
}

/** `total` rows as an agent of `agents` would send them now, each agent's in runs of `agentBatch`. */
function benchRows(o: { agents: number; total: number; agentBatch: number }): ResultRow[] {
  const text = new ResultText(resultTemplate('agent-default'));
  const now = Date.now();
  return Array.from({ length: o.total }, (_, i): ResultRow => {
    const id = randomUUID();
    const ts = liveStartMs(now, Math.random);
    return [id, benchAgentId(Math.floor(i / o.agentBatch) % o.agents), ts, now, 'ok', 104.3, 43.8, 12.9, 1.7, 0, text.make({ id, startedMs: ts, downloadMbps: 104.3, uploadMbps: 43.8, latencyMs: 12.9 }), null];
  });
}

async function benchPostgres(ctx: Context, o: { runs: number; results: number; agents: number; batch: number; inFlight: number }): Promise<{ rows: BenchRow[]; summary: object }> {
  const measure = `PostgreSQL ingest results/s acked, batch ${o.batch} (${o.agents} agents) vs raw COPY into the same table, transactions of the collector's commit size`;
  const unavailable = ctx.mods.postgresCluster.postgresUnavailable();
  if (unavailable !== undefined) {
    ctx.say(`postgres: not measured: ${unavailable}`);
    return { rows: [{ measure, value: '-', peer: '-', ratio: '-', goal: `not measured: ${unavailable}` }], summary: { skipped: unavailable } };
  }
  const total = Math.ceil(o.results / o.batch) * o.batch;
  const runs: PostgresRun[] = [];
  for (let run = 0; run < o.runs; run++) {
    ctx.signal?.throwIfAborted();
    const figures = await scoped('postgres-bench', async (scope): Promise<PostgresRun> => {
      const dir = scope.tempDir('sw-bench-pg-');
      ctx.say(`postgres run ${run + 1}/${o.runs}: a cluster with fsync on`);
      const cluster = await ctx.mods.postgresCluster.startPostgresCluster({ durable: true });
      scope.defer(() => cluster.stop());
      const database = await cluster.createDatabase();
      const url = cluster.url(database);
      const store = await ctx.mods.postgresStore.openPostgresStore({ url, password: cluster.password });
      scope.defer(() => store.close());
      const tokens: string[] = [];
      for (let i = 0; i < o.agents; i++) {
        const token = ctx.mods.tokens.newToken();
        await store.agents.add({ id: benchAgentId(i), name: `Site ${i}`, siteKind: SITE_KINDS[i % SITE_KINDS.length] as SiteKind, technology: TECHS[i % TECHS.length] as Technology }, ctx.mods.tokens.hashToken(token), Date.now());
        tokens.push(token);
      }
      const passwordFile = join(dir, 'pg-password');
      writeFileSync(passwordFile, cluster.password, { mode: 0o600 });
      ctx.say(`postgres run ${run + 1}/${o.runs}: collector, ${o.agents} agents × ${o.inFlight} batches of ${o.batch} in flight, ${fmt.int(total)} results`);
      const collector = await startCollector(ctx, scope, join(dir, 'local.db'), { limits: THROUGHPUT_LIMITS, store: { kind: 'postgres', url, passwordFile } }, 60_000);
      const load = await loadDuring(ctx, scope, collector, dir, { tokens, total, batch: o.batch, inFlight: o.inFlight });
      const commits = promValue(load.scrape, 'speedwatch_collector_batch_commit_seconds_count');
      await collector.child.stop();
      const stored = await store.pool.query<{ n: string }>('SELECT (SELECT count(*) FROM results) + (SELECT count(*) FROM result_ids) AS n');
      if (Number(stored.rows[0]?.n) !== 2 * total) throw new Error(`${stored.rows[0]?.n ?? '?'} results and ids stored, expected ${total} of each`);
      const commitRows = Math.max(1, Math.round(total / commits));

      // The same rows, in transactions of the collector's mean commit: the store's statement, then raw COPY.
      const timedChunks = async (what: string, fn: (rows: ResultRow[]) => Promise<unknown>): Promise<number> => {
        const rows = benchRows({ agents: o.agents, total, agentBatch: o.batch });
        ctx.say(`postgres run ${run + 1}/${o.runs}: ${what}, ${fmt.int(total)} rows in transactions of ${fmt.int(commitRows)}`);
        let timedMs = 0;
        for (let at = 0; at < rows.length; at += commitRows) {
          const chunk = rows.slice(at, at + commitRows);
          const started = performance.now();
          await fn(chunk);
          timedMs += performance.now() - started;
        }
        return total / (timedMs / 1000);
      };
      const statementPerS = await timedChunks("the store's group-commit statement", (rows) => store.results.insertRows(rows));
      const client = await store.pool.connect();
      let copyPerS: number;
      try {
        copyPerS = await timedChunks('raw COPY into results', (rows) =>
          ctx.mods.postgresCopy.copyRows(client, 'results', ['id', 'agent_id', 'ts', 'received_at', 'status', 'download_mbps', 'upload_mbps', 'latency_ms', 'jitter_ms', 'loss_ratio', 'doc', 'busy'], rows),
        );
      } finally {
        client.release();
      }
      return { ingestPerS: load.resultsPerS, commitRows, statementPerS, copyPerS, collectorCores: load.collectorCores, ackP99Ms: load.outcome.ackP99Ms, loopDelayP99Ms: load.loopDelay.p99Ms };
    });
    ctx.say(`  PostgreSQL ingest ${fmt.int(figures.ingestPerS)}/s (commits of ${fmt.int(figures.commitRows)}), the store's statement ${fmt.int(figures.statementPerS)}/s, raw COPY ${fmt.int(figures.copyPerS)}/s`);
    runs.push(figures);
  }
  const m = (key: keyof PostgresRun): number => median(runs.map((r) => r[key]));
  const summary = {
    runs: o.runs,
    results: total,
    agents: o.agents,
    batch: o.batch,
    ingestResultsPerS: m('ingestPerS'),
    copyResultsPerS: m('copyPerS'),
    ratio: m('ingestPerS') / m('copyPerS'),
    statementResultsPerS: m('statementPerS'),
    commitRows: m('commitRows'),
    collectorCores: m('collectorCores'),
    ackP99Ms: m('ackP99Ms'),
    loopDelayP99Ms: m('loopDelayP99Ms'),
    perRun: runs.map((r) => ({ ingest: Math.round(r.ingestPerS), statement: Math.round(r.statementPerS), copy: Math.round(r.copyPerS), commitRows: r.commitRows })),
  };
  const rows: BenchRow[] = [
    { measure, value: `${fmt.int(summary.ingestResultsPerS)}/s`, peer: `${fmt.int(summary.copyResultsPerS)}/s`, ratio: fmt.ratio(summary.ratio), goal: '' },
    {
      measure: "PostgreSQL: the store's idempotent group-commit statement alone (result_ids claimed, rows stored), same transactions, vs raw COPY",
      value: `${fmt.int(summary.statementResultsPerS)}/s`,
      peer: `${fmt.int(summary.copyResultsPerS)}/s`,
      ratio: fmt.ratio(summary.statementResultsPerS / summary.copyResultsPerS),
      goal: '',
    },
    {
      measure: "PostgreSQL ingest: collector CPU cores · event-loop delay p99 ms · send-to-ack p99 ms",
      value: `${summary.collectorCores.toFixed(2)} · ${fmt.ms(summary.loopDelayP99Ms)} · ${fmt.ms(summary.ackP99Ms)}`,
      peer: '',
      ratio: '',
      goal: '',
    },
  ];
  return { rows, summary };
}

/** The rows as an aligned text table with a header line. */
export function formatBenchTable(rows: readonly BenchRow[]): string {
  const table = [['measure', 'value', 'peer', 'ratio', 'goal'], ...rows.map((r) => [r.measure, r.value, r.peer, r.ratio, r.goal])];
  const widths = (table[0] as string[]).map((_, i) => Math.max(...table.map((r) => (r[i] as string).length)));
  return table.map((row) => `${row.map((c, i) => c.padEnd(widths[i] as number)).join('  ')}`.trimEnd()).join('\n');
}

function positiveInteger(name: string, text: string): number {
  const value = Number(text.trim().replace(/_/g, ''));
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer (or a list of them), got ${JSON.stringify(text)}`);
  return value;
}

function envInteger(name: string, fallback: number): number {
  const text = process.env[name];
  return text === undefined || text === '' ? fallback : positiveInteger(name, text);
}

function envParts(): CollectorBenchPart[] | undefined {
  const text = process.env['BENCH_COLLECTOR_PARTS'];
  if (text === undefined || text === '') return undefined;
  const parts = text.split(',').map((p) => p.trim());
  for (const p of parts) {
    if (!(COLLECTOR_BENCH_PARTS as readonly string[]).includes(p)) throw new Error(`BENCH_COLLECTOR_PARTS: unknown part ${JSON.stringify(p)}; expected ${COLLECTOR_BENCH_PARTS.join(', ')}`);
  }
  return parts as CollectorBenchPart[];
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const abort = new AbortController();
  const onSignal = (): void => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const parts = envParts();
  const batches = process.env['BENCH_INGEST_BATCHES'];
  const nodeArgs = process.env['BENCH_COLLECTOR_NODE_ARGS'];
  benchCollector({
    runs: envInteger('BENCH_RUNS', 3),
    seriesRows: envInteger('BENCH_SERIES_ROWS', 10_000_000),
    ingestResults: envInteger('BENCH_INGEST_RESULTS', 200_000),
    verdictAgents: envInteger('BENCH_VERDICT_AGENTS', 1_000),
    postgresResults: envInteger('BENCH_PG_RESULTS', 100_000),
    ...(parts === undefined ? {} : { parts }),
    ...(batches === undefined || batches === '' ? {} : { batches: batches.split(',').map((b) => positiveInteger('BENCH_INGEST_BATCHES', b)) }),
    ...(nodeArgs === undefined || nodeArgs === '' ? {} : { collectorNodeArgs: nodeArgs.split(' ').filter((a) => a !== '') }),
    signal: abort.signal,
  }).then(
    ({ rows, summary }) => {
      process.stdout.write(`${formatBenchTable(rows)}\n`);
      process.stdout.write(`${JSON.stringify({ bench: 'collector', ...summary })}\n`);
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    },
    (err: unknown) => {
      process.stderr.write(`collector-bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    },
  );
}
