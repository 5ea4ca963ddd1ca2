/**
 * One maintenance pass, on whatever thread owns `store`'s connections (the collector's
 * maintenance thread, or the caller's in tests): roll-ups and retention in short steps, the
 * verdicts recomputed from the window of samples kept in memory, and the latest result of each
 * agent with new rows, for the serving thread's in-memory tables (every agent's at the first).
 */
import { getHeapStatistics } from 'node:v8';
import type { HeapInfo } from 'node:v8';
import type { LatestActivity } from '../store/result-queries.js';
import type { CollectorStore } from '../store/collector-store.js';
import { computeVerdicts, VerdictDiffer } from '../server/verdict-snapshot.js';
import type { VerdictSnapshot } from '../server/verdict-snapshot.js';
import type { VerdictConfig } from '../verdict/verdict-config.js';
import { SampleWindow } from '../verdict/sample-window.js';

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
  rolledUpHours: number;
  deletedResults: number;
  /** Why roll-ups or retention stopped early (they carry on at the next pass); the verdicts were still computed. */
  rollupError?: MaintenanceError;
  verdicts: VerdictSnapshot;
  /** Samples held in the verdict window after the pass. */
  samplesHeld: number;
  /** The latest result of each agent that has stored results since the last pass (of every agent at the first). */
  latest: LatestActivity[];
  /** Wall time of the roll-up part and of the verdict part, ms. */
  rollupMs: number;
  verdictMs: number;
  /** The V8 heap of the thread that ran the pass, bytes, at its end. */
  heap: { used: number; total: number };
}

function heapOf(stats: HeapInfo): { used: number; total: number } {
  return { used: stats.used_heap_size, total: stats.total_heap_size };
}

export function maintenanceError(err: unknown): MaintenanceError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const code = (err as { code?: unknown }).code;
  return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}), ...(err.stack === undefined ? {} : { stack: err.stack }) };
}

export class MaintenanceWork {
  readonly #store: CollectorStore;
  readonly #config: VerdictConfig;
  readonly #window: SampleWindow;
  readonly #differ: VerdictDiffer;

  constructor(store: CollectorStore, config: VerdictConfig) {
    this.#store = store;
    this.#config = config;
    this.#window = new SampleWindow(store.results, Math.max(...config.windows.map((w) => w.ms)));
    this.#differ = new VerdictDiffer(config.windows.map((w) => w.name));
  }

  /**
   * Runs a pass as of `now`; `pause` is awaited between steps (each step is one short
   * transaction), so that whoever shares the thread gets a turn. Throws (a StoreError) only
   * when the verdicts could not be computed.
   */
  async run(now: number, pause: () => Promise<void>): Promise<MaintenanceReport> {
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
    } catch (err) {
      rollupError = maintenanceError(err);
    }
    const verdictsStarted = performance.now();
    const agents = await this.#store.agents.list();
    const window = await this.#window.update(now);
    await pause();
    // Results reach the store through this collector's ingest, which keeps the serving thread's
    // tables current, but also from elsewhere (a restart's backlog, another collector): the
    // latest result of every agent whose rows are new is read again here.
    const active = agents.filter((a) => a.revokedAt === undefined && (window.agentsAdded?.has(a.id) ?? true));
    const latest = await this.#store.results.latestActivity(active.map((a) => a.id));
    await pause();
    const verdicts = this.#differ.snapshot(computeVerdicts(agents, this.#window, now, this.#config));
    const report: MaintenanceReport = {
      now,
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
    return report;
  }
}
