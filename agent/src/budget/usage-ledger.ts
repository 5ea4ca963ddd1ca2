/**
 * The data the box's tests used, kept in the data dir (`usage.jsonl`): one line a test with
 * its bytes by phase, appended and fsynced after each test, so a restart keeps the month's count.
 * What the budget planner estimates from and what `health` reports. Entries older than
 * KEEP_MS are dropped when the file is rewritten (at most once a day); a line torn by a power
 * cut is skipped (and counted), never fatal.
 */
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DataUsage, MeasurementResult, Phase } from '@speedwatch/shared';
import { PHASES, zonedMonth } from '@speedwatch/shared';
import { replaceFileDurably, syncDirectory, writeFully } from '../outbox/durable-fs.js';

export const USAGE_FILE = 'usage.jsonl';

/** Two months and a bit: this month and the last, in any zone. */
export const KEEP_MS = 64 * 86_400_000;

/** One test's traffic. */
export interface UsageEntry {
  /** When the test started, ms since the epoch. */
  atMs: number;
  /** Bytes by phase (received plus sent), as the result's `usage.phases`. */
  phases: Partial<Record<Phase, number>>;
  /** How long each throughput phase took, ms (the result's `usage.phaseMs`): what its bytes a ms are estimated over. */
  phaseMs?: { download?: number; upload?: number };
}

/** The bytes of one entry, all phases. */
export function entryBytes(entry: UsageEntry): number {
  return Object.values(entry.phases).reduce((sum, b) => sum + b, 0);
}

/**
 * The entry for a test's result: its `usage`, or, from a test process that died without one,
 * the throughput phases' payload over the time their samples cover (all that is known).
 */
export function entryOf(result: MeasurementResult): UsageEntry {
  const atMs = Date.parse(result.startedAt);
  const usage: DataUsage | undefined = result.usage;
  const phases: Partial<Record<Phase, number>> = usage !== undefined ? { ...usage.phases } : {};
  const phaseMs: { download?: number; upload?: number } = {};
  for (const phase of ['download', 'upload'] as const) {
    const t = result[phase];
    const ms = usage?.phaseMs?.[phase] ?? (t === undefined ? undefined : t.samplesMbps.length * t.sampleIntervalMs);
    if (ms !== undefined && ms > 0) phaseMs[phase] = ms;
    if (usage === undefined && t !== undefined) phases[phase] = t.totalBytes;
  }
  return { atMs, phases, ...(Object.keys(phaseMs).length === 0 ? {} : { phaseMs }) };
}

export interface LedgerLoad {
  entries: UsageEntry[];
  /** Lines that could not be read (a torn last line after a power cut). */
  skipped: number;
}

/** Parses the file's lines, oldest first; bad lines are skipped and counted. */
export function parseLedger(text: string): LedgerLoad {
  const entries: UsageEntry[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const entry = parseEntry(line);
    if (entry === undefined) skipped++;
    else entries.push(entry);
  }
  return { entries, skipped };
}

function parseEntry(line: string): UsageEntry | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { atMs, phases, phaseMs } = raw as Record<string, unknown>;
  if (typeof atMs !== 'number' || !Number.isFinite(atMs) || typeof phases !== 'object' || phases === null) return undefined;
  const out: Partial<Record<Phase, number>> = {};
  for (const [phase, bytes] of Object.entries(phases)) {
    if (!(PHASES as readonly string[]).includes(phase) || typeof bytes !== 'number' || !(bytes >= 0) || !Number.isFinite(bytes)) return undefined;
    out[phase as Phase] = bytes;
  }
  let times: { download?: number; upload?: number } | undefined;
  if (phaseMs !== undefined) {
    if (typeof phaseMs !== 'object' || phaseMs === null) return undefined;
    times = {};
    for (const [phase, ms] of Object.entries(phaseMs)) {
      if ((phase !== 'download' && phase !== 'upload') || typeof ms !== 'number' || !(ms > 0) || !Number.isFinite(ms)) return undefined;
      times[phase] = ms;
    }
  }
  return { atMs, phases: out, ...(times === undefined ? {} : { phaseMs: times }) };
}

/** Tests the ledger keeps whole in memory: what the planner estimates from (budget-planner.ts's HISTORY_TESTS). */
export const RECENT_TESTS = 10;

/**
 * The ledger in memory and on disk. `record` appends one test; `usedIn` sums a zone's month. In
 * memory only each test's time and total bytes (16 bytes a test: two months of 15-minute tests
 * are under 100 kB) and the last RECENT_TESTS tests whole. One writer (the daemon); calls are not
 * concurrent (tests never overlap).
 */
export class UsageLedger {
  readonly #dataDir: string;
  readonly #path: string;
  /** Each test's start and bytes, oldest first. */
  readonly #times: number[] = [];
  readonly #totals: number[] = [];
  readonly #recent: UsageEntry[] = [];
  #rewrittenAtMs: number;
  /** The file exists and its directory entry is durable. */
  #exists: boolean;

  private constructor(dataDir: string, nowMs: number, exists: boolean) {
    this.#dataDir = dataDir;
    this.#path = join(dataDir, USAGE_FILE);
    this.#rewrittenAtMs = nowMs;
    this.#exists = exists;
  }

  /** Reads `DATA_DIR/usage.jsonl` (none yet: an empty ledger). Throws only when the file exists and cannot be read. */
  static async open(dataDir: string, nowMs: number): Promise<{ ledger: UsageLedger; skipped: number }> {
    const ledger = new UsageLedger(dataDir, nowMs, true);
    const text = await ledger.#read();
    if (text === undefined) ledger.#exists = false;
    const { entries, skipped } = parseLedger(text ?? '');
    const kept = entries.filter((e) => e.atMs >= nowMs - KEEP_MS);
    for (const e of kept) ledger.#add(e);
    // A torn line or old entries: write the file clean now, so appends start on a new line.
    if (skipped > 0 || kept.length < entries.length || (text !== undefined && text !== '' && !text.endsWith('\n'))) await ledger.#write(kept, nowMs);
    return { ledger, skipped };
  }

  /** The last RECENT_TESTS tests, oldest first. */
  get recent(): readonly UsageEntry[] {
    return this.#recent;
  }

  /** Tests kept (two months). */
  get size(): number {
    return this.#times.length;
  }

  /** Bytes used in the calendar month holding `nowMs` in `timeZone`. */
  usedIn(nowMs: number, timeZone: string): { month: string; usedBytes: number } {
    const { month, startMs, endMs } = zonedMonth(nowMs, timeZone);
    let usedBytes = 0;
    for (let i = 0; i < this.#times.length; i++) {
      const at = this.#times[i] as number;
      if (at >= startMs && at < endMs) usedBytes += this.#totals[i] as number;
    }
    return { month, usedBytes: Math.round(usedBytes) };
  }

  /** Appends one test durably; drops tests older than KEEP_MS, rewriting the file at most once a day. */
  async record(entry: UsageEntry, nowMs: number): Promise<void> {
    this.#add(entry);
    const cutoff = nowMs - KEEP_MS;
    if (nowMs - this.#rewrittenAtMs > 86_400_000 && (this.#times[0] ?? nowMs) < cutoff) {
      let drop = 0;
      while (drop < this.#times.length && (this.#times[drop] as number) < cutoff) drop++;
      this.#times.splice(0, drop);
      this.#totals.splice(0, drop);
      // Appended, then the file rewritten without the old lines: a crash between leaves them, never loses the new one.
      await this.#append(entry);
      const { entries } = parseLedger((await this.#read()) ?? '');
      await this.#write(entries.filter((e) => e.atMs >= cutoff), nowMs);
      return;
    }
    await this.#append(entry);
  }

  #add(entry: UsageEntry): void {
    this.#times.push(entry.atMs);
    this.#totals.push(entryBytes(entry));
    this.#recent.push(entry);
    if (this.#recent.length > RECENT_TESTS) this.#recent.shift();
  }

  async #read(): Promise<string | undefined> {
    try {
      return await readFile(this.#path, 'utf8');
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async #append(entry: UsageEntry): Promise<void> {
    const file = await open(this.#path, 'a', 0o644);
    try {
      await writeFully(file, Buffer.from(`${JSON.stringify(entry)}\n`, 'utf8'));
      await file.sync();
    } finally {
      await file.close();
    }
    if (!this.#exists) {
      await syncDirectory(this.#dataDir);
      this.#exists = true;
    }
  }

  async #write(entries: readonly UsageEntry[], nowMs: number): Promise<void> {
    this.#rewrittenAtMs = nowMs;
    this.#exists = true;
    await replaceFileDurably(this.#path, entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
  }
}
