/**
 * One maintenance pass, on whatever thread owns `store`'s connections (the collector's
 * maintenance thread, or the caller's in tests): roll-ups and retention in short steps, the
 * verdicts recomputed from the window of samples kept in memory, and the latest result of each
 * agent with new rows, for the serving thread's in-memory tables (every agent's at the first).
 *
 * With several collectors on one database (a store with `cluster`: PostgreSQL), a pass is one of
 * two kinds, as the serving thread asks:
 * - **leading**, by the collector holding the lease (`fence` given): the above, then the
 *   verdicts published in the database (fenced: nothing is written once the lease is lost) for
 *   the others, and the connections of collectors long dead deleted;
 * - **following**, by every other collector: no roll-ups and no window (its memory is given
 *   back when the collector stops leading); the verdicts the holder published since the last
 *   pass, as the same JSON text, and the latest result of each agent with rows stored since.
 * A single collector on SQLite always leads, and publishes nothing.
 */
import { createHash } from 'node:crypto';
import { getHeapStatistics } from 'node:v8';
import type { HeapInfo } from 'node:v8';
import type { LeaseFence } from '../cluster/lease.js';
import type { LatestActivity } from '../store/result-queries.js';
import type { ClusterStore, CollectorStore, PublishedVerdicts, ScanPosition } from '../store/collector-store.js';
import { computeVerdicts, VerdictDiffer } from '../server/verdict-snapshot.js';
import type { VerdictSnapshot } from '../server/verdict-snapshot.js';
import type { VerdictConfig } from '../verdict/verdict-config.js';
import type { AgentVerdict, GroupBy } from '../verdict/verdicts.js';
import { SampleWindow } from '../verdict/sample-window.js';
import type { WindowUpdate } from '../verdict/sample-window.js';

/** An error as it crosses to the serving thread to be logged. */
export interface MaintenanceError {
  code?: string;
  name: string;
  message: string;
  stack?: string;
}

export interface MaintenanceReport {
  /** `now` of the pass, ms. */
  now: number;
  /** Whether the pass led (roll-ups, window, verdicts computed) or followed (verdicts read as published). */
  role: 'leading' | 'following';
  rolledUpHours: number;
  deletedResults: number;
  /** Why roll-ups or retention stopped early (they carry on at the next pass); the verdicts were still computed. */
  rollupError?: MaintenanceError;
  /** Why a leading pass could not publish its verdicts (they are served here all the same; the next pass publishes all of them). */
  publishError?: MaintenanceError;
  /** The verdicts to serve from now on; absent when a following pass found nothing new published. */
  verdicts?: VerdictSnapshot;
  /** Samples held in the verdict window after the pass (0 when following). */
  samplesHeld: number;
  /** The latest result of each agent that has stored results since the last pass (of every agent at the first). */
  latest: LatestActivity[];
  /** Wall time of the roll-up part and of the verdict part, ms. */
  rollupMs: number;
  verdictMs: number;
  /** The V8 heap of the thread that ran the pass, bytes, at its end. */
  heap: { used: number; total: number };
}

/** How long the rows of a collector that died stay before the lease holder deletes them, ms. */
export const DEAD_COLLECTOR_MS = 10 * 60_000;

/** A time after every result: a scan from it reads no row and only returns the position now. */
const FAR_FUTURE_MS = 8.64e15;

function heapOf(stats: HeapInfo): { used: number; total: number } {
  return { used: stats.used_heap_size, total: stats.total_heap_size };
}

export function maintenanceError(err: unknown): MaintenanceError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const code = (err as { code?: unknown }).code;
  return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}), ...(err.stack === undefined ? {} : { stack: err.stack }) };
}

/** What a following pass keeps between passes. */
interface Following {
  /** The publication last read (0: none yet). */
  seq: number;
  /** Where the scan for agents with new rows stopped; undefined before the first pass. */
  position: ScanPosition | undefined;
  /** Every grouping's verdicts as published, by `groupBy\0window`: each pass reads only those that changed, the serving thread takes all. */
  groups: Map<string, VerdictSnapshot['groups'][number]>;
}

/** What a leading pass keeps between passes. */
interface Leading {
  window: SampleWindow;
  differ: VerdictDiffer;
  /** A digest of each grouping's JSON as last published, by `groupBy\0window` (empty: publish all). */
  published: Map<string, string>;
}

const groupKey = (g: { groupBy: string; window: string }): string => `${g.groupBy}\u0000${g.window}`;

export class MaintenanceWork {
  readonly #store: CollectorStore;
  readonly #config: VerdictConfig;
  /** The leading state: the window and what was last sent; undefined while following. */
  #leading: Leading | undefined;
  #following: Following | undefined;

  constructor(store: CollectorStore, config: VerdictConfig) {
    this.#store = store;
    this.#config = config;
  }

  /**
   * Runs a pass as of `now`; `pause` is awaited between steps (each step is one short
   * transaction), so that whoever shares the thread gets a turn. `fence`: this collector holds
   * the lease (a leading pass); ignored without a cluster (SQLite always leads). Throws (a
   * StoreError) only when the verdicts could not be computed or read.
   */
  async run(now: number, pause: () => Promise<void>, fence?: LeaseFence): Promise<MaintenanceReport> {
    const cluster = this.#store.cluster;
    if (cluster !== undefined && fence === undefined) return this.#follow(cluster, now, pause);
    return this.#lead(now, pause, cluster === undefined ? undefined : { cluster, fence: fence as LeaseFence });
  }

  async #lead(now: number, pause: () => Promise<void>, shared: { cluster: ClusterStore; fence: LeaseFence } | undefined): Promise<MaintenanceReport> {
    this.#following = undefined;
    const leading = (this.#leading ??= {
      window: new SampleWindow(this.#store.results, Math.max(...this.#config.windows.map((w) => w.ms))),
      differ: new VerdictDiffer(this.#config.windows.map((w) => w.name)),
      published: new Map(),
    });
    const started = performance.now();
    let rolledUpHours = 0;
    let deletedResults = 0;
    let rollupError: MaintenanceError | undefined;
    try {
      for await (const step of this.#store.rollups.steps(now)) {
        rolledUpHours += step.rolledUpHours;
        deletedResults += step.deletedResults;
        await pause();
      }
      if (shared !== undefined) await shared.cluster.connections.prune(DEAD_COLLECTOR_MS);
    } catch (err) {
      rollupError = maintenanceError(err);
    }
    const verdictsStarted = performance.now();
    let verdicts: VerdictSnapshot;
    let window: WindowUpdate;
    let latest: LatestActivity[];
    try {
      const agents = await this.#store.agents.list();
      window = await leading.window.update(now);
      await pause();
      // Results reach the store through this collector's ingest, which keeps the serving thread's
      // tables current, but also from elsewhere (a restart's backlog, another collector): the
      // latest result of every agent whose rows are new is read again here.
      const active = agents.filter((a) => a.revokedAt === undefined && (window.agentsAdded?.has(a.id) ?? true));
      latest = await this.#store.results.latestActivity(active.map((a) => a.id));
      await pause();
      verdicts = leading.differ.snapshot(computeVerdicts(agents, leading.window, now, this.#config));
    } catch (err) {
      // The window may be half updated: the next pass starts it again.
      this.#leading = undefined;
      throw err;
    }
    let publishError: MaintenanceError | undefined;
    if (shared !== undefined) {
      // Only the groupings whose JSON changed (all of them when the differ starts afresh).
      const digests = new Map(verdicts.groups.map((g) => [groupKey(g), createHash('sha1').update(g.json).digest('base64')]));
      const full = verdicts.full || leading.published.size === 0;
      const groups = full ? verdicts.groups : verdicts.groups.filter((g) => leading.published.get(groupKey(g)) !== digests.get(groupKey(g)));
      try {
        await shared.cluster.verdicts.publish(shared.fence, { ...verdicts, full, groups });
        leading.published = digests;
      } catch (err) {
        // What was not published must be published in full next time (the differ thinks it was sent).
        leading.differ = new VerdictDiffer(this.#config.windows.map((w) => w.name));
        leading.published = new Map();
        publishError = maintenanceError(err);
      }
    }
    const report: MaintenanceReport = {
      now,
      role: 'leading',
      rolledUpHours,
      deletedResults,
      latest,
      verdicts,
      samplesHeld: window.held,
      rollupMs: verdictsStarted - started,
      verdictMs: performance.now() - verdictsStarted,
      heap: heapOf(getHeapStatistics()),
    };
    if (rollupError !== undefined) report.rollupError = rollupError;
    if (publishError !== undefined) report.publishError = publishError;
    return report;
  }

  async #follow(cluster: ClusterStore, now: number, pause: () => Promise<void>): Promise<MaintenanceReport> {
    // The window's memory (41 bytes a test) goes with the lead.
    this.#leading = undefined;
    const following = (this.#following ??= { seq: 0, position: undefined, groups: new Map() });
    const started = performance.now();
    const published = await cluster.verdicts.read(following.seq);
    await pause();
    // The agents with rows stored since the last pass, by anyone; all of them at the first.
    const agents = await this.#store.agents.list();
    let newRows: Set<string> | undefined;
    if (following.position === undefined) {
      following.position = await this.#store.results.scanVerdictRows(FAR_FUTURE_MS, undefined, () => {});
    } else {
      const seen = new Set<string>();
      following.position = await this.#store.results.scanVerdictRows(0, following.position, (row) => seen.add(row[1]));
      newRows = seen;
    }
    const active = agents.filter((a) => a.revokedAt === undefined && (newRows?.has(a.id) ?? true));
    const latest = await this.#store.results.latestActivity(active.map((a) => a.id));
    const report: MaintenanceReport = {
      now,
      role: 'following',
      rolledUpHours: 0,
      deletedResults: 0,
      latest,
      samplesHeld: 0,
      rollupMs: 0,
      verdictMs: performance.now() - started,
      heap: heapOf(getHeapStatistics()),
    };
    if (published !== undefined) {
      if (published.full) following.groups.clear();
      for (const g of published.groups) following.groups.set(groupKey(g), { groupBy: g.groupBy as GroupBy, window: g.window, json: g.json });
      report.verdicts = snapshotOf(published, [...following.groups.values()]);
      following.seq = published.seq;
    }
    return report;
  }
}

/** The published verdicts as the serving thread takes them (VerdictService.apply), with every grouping's. */
function snapshotOf(published: PublishedVerdicts, groups: VerdictSnapshot['groups']): VerdictSnapshot {
  const agents: VerdictSnapshot['agents'] = [];
  const removed: string[] = [];
  for (const { agentId, json } of published.agents) {
    if (json === null) {
      removed.push(agentId);
      continue;
    }
    // Written by the holder's VerdictDiffer from computed verdicts.
    const states = (JSON.parse(json) as AgentVerdict[]).map((v): [string, string] => [v.window, v.verdict]);
    agents.push({ agentId, json, states });
  }
  return {
    computedAt: published.computedAt,
    full: published.full,
    agents,
    removed,
    groups,
  };
}
