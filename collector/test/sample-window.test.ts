/**
 * SampleWindow (src/verdict/sample-window.ts) against a real SQLite file: the first update
 * loads the window in ts order; later updates read only the rows stored since (also those of a
 * second connection, as the writer thread's) and merge late rows into place, equal timestamps
 * keeping arrival order; samples are evicted at exactly `now - span`; growth past the initial
 * capacity loses nothing; and after any sequence of inserts, retention deletes and updates, the
 * columns equal a fresh full read of the store.
 */
import { RESULT_STATUSES, seededRandom } from '@speedwatch/shared';
import type { ResultStatus } from '@speedwatch/shared';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { SqliteStore } from '../src/store/sqlite-store.js';
import type { VerdictSample } from '../src/store/store-types.js';
import { sampleColumns } from '../src/verdict/sample-columns.js';
import type { SampleColumns } from '../src/verdict/sample-columns.js';
import { SampleWindow } from '../src/verdict/sample-window.js';
import { sqliteCollectorStore } from '../src/store/sqlite-collector-store.js';
import { freshStore, makeResult, open, storeResults } from './store-util.js';
import type { ResultSpec } from './store-util.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** A Monday, 00:00 UTC. */
const T0 = Date.UTC(2026, 0, 5);

// ---- helpers -------------------------------------------------------------------------------

function addAgents(store: SqliteStore, ...ids: string[]): void {
  for (const id of ids) store.agents.add({ id, name: `Site ${id}`, siteKind: 'school', technology: 'fixed' }, `hash-of-${id}`, T0 - DAY);
}

/** Columns as plain arrays: agent ids and status names resolved, NaN (no figure) as null. */
interface Plain {
  ts: number[];
  agent: string[];
  status: string[];
  downloadMbps: (number | null)[];
  uploadMbps: (number | null)[];
  latencyMs: (number | null)[];
}

function plain(c: SampleColumns): Plain {
  const n = c.length;
  const figures = (a: Float64Array) => Array.from(a.subarray(0, n), (v) => (Number.isNaN(v) ? null : v));
  return {
    ts: Array.from(c.ts.subarray(0, n)),
    agent: Array.from(c.agent.subarray(0, n), (a) => c.agentIds[a] ?? `<no agent ${a}>`),
    status: Array.from(c.status.subarray(0, n), (s) => RESULT_STATUSES[s] ?? `<no status ${s}>`),
    downloadMbps: figures(c.downloadMbps),
    uploadMbps: figures(c.uploadMbps),
    latencyMs: figures(c.latencyMs),
  };
}

/** What the window should hold: every stored result with ts >= from, read afresh with SQL of the test's own. */
function freshRead(path: string, from: number): Plain {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db
      .prepare<[number], { agent_id: string; ts: number; status: string; download_mbps: number | null; upload_mbps: number | null; latency_ms: number | null }>(
        'SELECT agent_id, ts, status, download_mbps, upload_mbps, latency_ms FROM results WHERE ts >= ? ORDER BY ts, rowid',
      )
      .all(from);
    const samples: VerdictSample[] = rows.map((r) => ({
      agentId: r.agent_id,
      ts: r.ts,
      status: r.status as ResultStatus,
      ...(r.download_mbps === null ? {} : { downloadMbps: r.download_mbps }),
      ...(r.upload_mbps === null ? {} : { uploadMbps: r.upload_mbps }),
      ...(r.latency_ms === null ? {} : { latencyMs: r.latency_ms }),
    }));
    return plain(sampleColumns(samples));
  } finally {
    db.close();
  }
}

/** Where two column sets first differ (index and both samples), or undefined: a short failure message. */
function firstDifference(got: Plain, want: Plain): string | undefined {
  const fields = Object.keys(want) as (keyof Plain)[];
  const sample = (p: Plain, i: number) => JSON.stringify(fields.map((f) => p[f][i]));
  for (let i = 0; i < Math.max(got.ts.length, want.ts.length); i++) {
    if (fields.some((f) => got[f][i] !== want[f][i])) return `at ${i} of ${want.ts.length}: got ${sample(got, i)}, want ${sample(want, i)} (held ${got.ts.length})`;
  }
  return undefined;
}

/** The download figures held, in order: the tests tag samples with them. */
function downloads(window: SampleWindow): (number | null)[] {
  return plain(window.columns()).downloadMbps;
}

// ---- tests ---------------------------------------------------------------------------------

describe('SampleWindow', () => {
  it('loads at the first update every result with ts >= now - span, by ts, with agents, statuses and NaN for absent figures', async () => {
    const { store } = freshStore();
    addAgents(store, 'a', 'b');
    const now = T0 + 10 * DAY;
    const from = now - DAY;
    storeResults(store, 
      'a',
      [
        makeResult(now - 2 * HOUR, { downloadMbps: 95.5, uploadMbps: 41, latencyMs: 12 }),
        makeResult(from - 1, { downloadMbps: 1, uploadMbps: 1, latencyMs: 1 }), // 1 ms before the window
        makeResult(now + HOUR, { downloadMbps: 80, uploadMbps: 30, latencyMs: 15 }), // in the future: held
      ],
      now,
    );
    storeResults(store, 
      'b',
      [
        makeResult(now - 3 * HOUR, { status: 'failed' }),
        makeResult(from, { status: 'partial', downloadMbps: 20, latencyMs: 40 }), // exactly at the start: held
        makeResult(now - 2 * HOUR, { status: 'partial', uploadMbps: 5 }), // same ts as a's first, stored later
      ],
      now,
    );
    const window = new SampleWindow(sqliteCollectorStore(store).results, DAY);
    expect(window.columns().length).toBe(0);

    expect(await window.update(now)).toEqual({ added: 5, evicted: 0, held: 5 });
    const columns = window.columns();
    expect(plain(columns)).toEqual({
      ts: [from, now - 3 * HOUR, now - 2 * HOUR, now - 2 * HOUR, now + HOUR],
      agent: ['b', 'b', 'a', 'b', 'a'],
      status: ['partial', 'failed', 'ok', 'partial', 'ok'],
      downloadMbps: [20, null, 95.5, null, 80],
      uploadMbps: [null, null, 41, 5, 30],
      latencyMs: [40, null, 12, null, 15],
    });
    // Every column is a view of exactly `length` samples; absent figures are NaN (not 0).
    for (const field of ['agent', 'ts', 'status', 'downloadMbps', 'uploadMbps', 'latencyMs'] as const) expect(columns[field].length).toBe(5);
    expect([columns.downloadMbps[1], columns.uploadMbps[1], columns.latencyMs[1]].every(Number.isNaN)).toBe(true);
    expect([...columns.agentIds].sort()).toEqual(['a', 'b']);
    expect(plain(columns)).toEqual(freshRead(store.path, from));
  });

  it('reads at later updates only the rows stored since, from any connection, merging late ones into place with ties in arrival order', async () => {
    const { store, path } = freshStore();
    addAgents(store, 'a', 'b');
    const now = T0 + 10 * DAY;
    const window = new SampleWindow(sqliteCollectorStore(store).results, DAY);
    // The download figure tags each sample.
    storeResults(store, 'a', [makeResult(now - 10 * HOUR, { downloadMbps: 1 }), makeResult(now - 6 * HOUR, { downloadMbps: 2 }), makeResult(now - 2 * HOUR, { downloadMbps: 3 })], now);
    expect(await window.update(now)).toMatchObject({ added: 3, evicted: 0, held: 3 });
    // Later updates name the agents whose rows they read (none here).
    expect(await window.update(now)).toEqual({ added: 0, evicted: 0, held: 3, agentsAdded: new Set() });

    // The collector's writer thread stores through its own connection to the same file.
    const writer = open(path);
    storeResults(writer, 
      'b',
      [
        makeResult(now - 1 * HOUR, { downloadMbps: 4 }), // newer than every sample held
        makeResult(now - 8 * HOUR, { downloadMbps: 5 }), // late: between 1 and 2
        makeResult(now - 2 * HOUR, { downloadMbps: 6 }), // ties 3 (held): after it
        makeResult(now - 12 * HOUR, { downloadMbps: 7 }), // late: before everything
        makeResult(now - 2 * HOUR, { downloadMbps: 8 }), // ties 3 and 6: after both
      ],
      now,
    );
    expect(await window.update(now)).toEqual({ added: 5, evicted: 0, held: 8, agentsAdded: new Set(['b']) });
    expect(downloads(window)).toEqual([7, 1, 5, 2, 3, 6, 8, 4]);
    expect(plain(window.columns()).agent).toEqual(['b', 'a', 'b', 'a', 'a', 'b', 'b', 'b']);

    storeResults(store, 
      'a',
      [
        makeResult(now - 8 * HOUR, { downloadMbps: 9 }), // late, ties 5 (held): after it
        makeResult(now - DAY - 1, { downloadMbps: 10 }), // older than the window: not read
        makeResult(now, { downloadMbps: 11 }),
        makeResult(now - 8 * HOUR, { downloadMbps: 12 }), // ties 5 and 9: after both
      ],
      now,
    );
    expect(await window.update(now)).toMatchObject({ added: 3, evicted: 0, held: 11 });
    expect(downloads(window)).toEqual([7, 1, 5, 9, 12, 2, 3, 6, 8, 4, 11]);

    // In order, tying the newest sample held (no merge needed): appended after it.
    storeResults(writer, 'b', [makeResult(now, { downloadMbps: 13 }), makeResult(now + MINUTE, { downloadMbps: 14 })], now);
    expect(await window.update(now)).toMatchObject({ added: 2, evicted: 0, held: 13 });
    expect(downloads(window)).toEqual([7, 1, 5, 9, 12, 2, 3, 6, 8, 4, 11, 13, 14]);

    // A lone late row: older than the newest sample held, though in order within its own batch.
    storeResults(writer, 'b', [makeResult(now - 4 * HOUR, { downloadMbps: 15 })], now);
    expect(await window.update(now)).toMatchObject({ added: 1, evicted: 0, held: 14 });
    expect(downloads(window)).toEqual([7, 1, 5, 9, 12, 2, 15, 3, 6, 8, 4, 11, 13, 14]);
    expect(plain(window.columns())).toEqual(freshRead(store.path, now - DAY));
  });

  it('evicts exactly the samples with ts < now - span as now advances', async () => {
    const { store } = freshStore();
    addAgents(store, 'a');
    const now0 = T0 + DAY;
    const window = new SampleWindow(sqliteCollectorStore(store).results, HOUR);
    storeResults(store, 
      'a',
      [
        makeResult(now0 - HOUR, { downloadMbps: 1 }),
        makeResult(now0 - 30 * MINUTE, { downloadMbps: 2 }),
        makeResult(now0 - 30 * MINUTE, { downloadMbps: 3 }),
        makeResult(now0 - 1, { downloadMbps: 4 }),
      ],
      now0,
    );
    expect(await window.update(now0)).toMatchObject({ added: 4, evicted: 0, held: 4 });
    expect(await window.update(now0 + 1)).toMatchObject({ added: 0, evicted: 1, held: 3 });
    expect(downloads(window)).toEqual([2, 3, 4]);
    // The two at now0 - 30 min are exactly at the window's start: kept, then gone 1 ms later.
    expect(await window.update(now0 + 30 * MINUTE)).toMatchObject({ added: 0, evicted: 0, held: 3 });
    const now = now0 + 30 * MINUTE + 1;
    expect(await window.update(now)).toMatchObject({ added: 0, evicted: 2, held: 1 });
    expect(downloads(window)).toEqual([4]);

    // A row stored now but already older than the window is not read; one at its start is.
    storeResults(store, 'a', [makeResult(now - HOUR - 1, { downloadMbps: 5 }), makeResult(now - HOUR, { downloadMbps: 6 }), makeResult(now, { downloadMbps: 7 })], now);
    expect(await window.update(now)).toMatchObject({ added: 2, evicted: 0, held: 3 });
    expect(downloads(window)).toEqual([6, 4, 7]);
    expect(plain(window.columns())).toEqual(freshRead(store.path, now - HOUR));

    // Everything leaves; the window then fills again.
    const later = now0 + 3 * HOUR;
    expect(await window.update(later)).toMatchObject({ added: 0, evicted: 3, held: 0 });
    expect(window.columns().length).toBe(0);
    storeResults(store, 'a', [makeResult(later - MINUTE, { downloadMbps: 8 })], later);
    expect(await window.update(later)).toMatchObject({ added: 1, evicted: 0, held: 1 });
    expect(downloads(window)).toEqual([8]);
  });

  it('reads a row stored after the retention delete removed old rows (rowids are not reused)', async () => {
    const { store } = freshStore({ retentionDays: 1 });
    addAgents(store, 'a');
    const now = T0 + 10 * DAY;
    const window = new SampleWindow(sqliteCollectorStore(store).results, HOUR);
    // The newest row (largest rowid) is older than the retention.
    storeResults(store, 'a', [makeResult(now - 5 * DAY, { downloadMbps: 1 }), makeResult(now - MINUTE, { downloadMbps: 2 }), makeResult(now - 5 * DAY, { downloadMbps: 3 })], now);
    expect(await window.update(now)).toMatchObject({ added: 1, evicted: 0, held: 1 });
    expect(store.rollups.maintain(now).deletedResults).toBeGreaterThanOrEqual(1);
    storeResults(store, 'a', [makeResult(now, { downloadMbps: 4 })], now);
    expect(await window.update(now)).toMatchObject({ added: 1, evicted: 0, held: 2 });
    store.rollups.maintain(now);
    storeResults(store, 'a', [makeResult(now + 1, { downloadMbps: 5 })], now);
    expect(await window.update(now)).toMatchObject({ added: 1, evicted: 0, held: 3 });
    expect(downloads(window)).toEqual([2, 4, 5]);
  });

  it('keeps every sample when it grows past its initial capacity', async () => {
    const { store } = freshStore();
    addAgents(store, 'a', 'b', 'c');
    const random = seededRandom(7);
    const now = T0 + 40 * DAY;
    const span = 30 * DAY;
    const window = new SampleWindow(sqliteCollectorStore(store).results, span);
    for (let batch = 0; batch < 5; batch++) {
      // Random ts across the window: most of each batch is late against the one before.
      const results = Array.from({ length: 1_000 }, (_, i) => makeResult(now - Math.floor(random() * span), { downloadMbps: batch * 1_000 + i }));
      storeResults(store, ['a', 'b', 'c'][batch % 3] as string, results, now);
      expect(await window.update(now)).toMatchObject({ added: 1_000, evicted: 0, held: (batch + 1) * 1_000 });
    }
    const expected = freshRead(store.path, now - span);
    expect(expected.ts).toHaveLength(5_000);
    expect(plain(window.columns())).toEqual(expected);
    // All at once, at a first update.
    const another = new SampleWindow(sqliteCollectorStore(store).results, span);
    expect(await another.update(now)).toEqual({ added: 5_000, evicted: 0, held: 5_000 });
    expect(plain(another.columns())).toEqual(expected);
  });

  // Regression: `#append` may compact the held samples to the front in the middle of an update
  // (buffer full, at most half in use after evictions); the new rows must still be found as the
  // last ones, counted, and merged into ts order.
  it('keeps order and counts when an update fills the buffer after evictions (compaction mid-update)', async () => {
    const { store } = freshStore();
    addAgents(store, 'a');
    const random = seededRandom(11);
    const now0 = T0 + DAY;
    const window = new SampleWindow(sqliteCollectorStore(store).results, HOUR);
    storeResults(store, 'a', Array.from({ length: 1_000 }, (_, i) => makeResult(now0 - HOUR + i * SECOND, { downloadMbps: i })), now0);
    expect(await window.update(now0)).toMatchObject({ added: 1_000, evicted: 0, held: 1_000 });
    // 600 samples leave: 400 held, at the end of a 1 024-sample buffer.
    const now = now0 + 600 * SECOND;
    expect(await window.update(now)).toMatchObject({ added: 0, evicted: 600, held: 400 });
    // 700 rows at random ts in the window: the buffer fills, is compacted, then grows.
    storeResults(store, 'a', Array.from({ length: 700 }, (_, i) => makeResult(now - Math.floor(random() * HOUR), { downloadMbps: 10_000 + i })), now);
    expect(await window.update(now)).toMatchObject({ added: 700, evicted: 0, held: 1_100 });
    expect(plain(window.columns())).toEqual(freshRead(store.path, now - HOUR));
  });

  it.each([1, 2, 3])('equals a fresh read after every update of a random sequence of inserts, retention deletes and updates (seed %i)', async (seed) => {
    const random = seededRandom(seed);
    const int = (n: number) => Math.floor(random() * n);
    // Retention (2 days) longer than the span (1 day), as in production: a deleted row has left the window.
    const { store, path } = freshStore({ retentionDays: 2 });
    const writer = open(path, { retentionDays: 2 });
    const agents = ['a', 'b', 'c', 'd'];
    addAgents(store, ...agents);
    const span = DAY;
    let now = T0 + 10 * DAY;
    const window = new SampleWindow(sqliteCollectorStore(store).results, span);
    const usedTs: number[] = [];
    /** ts of the rows stored since the last update. */
    let stored: number[] = [];
    let heldBefore = 0;

    const randomTs = (): number => {
      const r = random();
      if (r < 0.1) return now - span - 1 - int(2 * DAY); // older than the window (some than the retention)
      if (r < 0.2) return now + int(6 * HOUR); // in the future
      if (r < 0.3 && usedTs.length > 0) return usedTs[int(usedTs.length)] as number; // a tie
      if (r < 0.55) return now - int(span); // late
      return now - int(15 * MINUTE);
    };
    const randomSpec = (): ResultSpec => {
      const status = RESULT_STATUSES[int(RESULT_STATUSES.length)] as ResultStatus;
      const spec: ResultSpec = { status };
      if (status === 'failed' && random() < 0.7) return spec;
      if (random() < 0.9) spec.downloadMbps = int(100_000) / 100;
      if (random() < 0.8) spec.uploadMbps = int(50_000) / 100;
      if (random() < 0.9) spec.latencyMs = 1 + int(5_000) / 10;
      return spec;
    };

    for (let step = 0; step < 30; step++) {
      for (let batches = int(3); batches > 0; batches--) {
        const results = Array.from({ length: 1 + int(250) }, () => {
          const ts = randomTs();
          stored.push(ts);
          usedTs.push(ts);
          return makeResult(ts, randomSpec());
        });
        storeResults(random() < 0.5 ? store : writer, agents[int(agents.length)] as string, results, now);
      }
      if (random() < 0.25) store.rollups.maintain(now);
      // Advance now; sometimes so that a stored ts lands exactly on the window's start, or 1 ms before it.
      const onEdge = (usedTs[int(usedTs.length)] ?? 0) + span + int(2);
      now = random() < 0.15 && onEdge > now ? onEdge : now + int(4 * HOUR);

      const from = now - span;
      const update = await window.update(now);
      const fresh = freshRead(store.path, from);
      const held = plain(window.columns());
      const difference = firstDifference(held, fresh);
      if (difference !== undefined) expect.fail(`step ${step}: columns differ from a fresh read ${difference}`);
      expect(held).toEqual(fresh);
      expect(update.added, `added at step ${step}`).toBe(stored.filter((ts) => ts >= from).length);
      expect(update.held).toBe(fresh.ts.length);
      expect(update.evicted, `evicted at step ${step}`).toBe(heldBefore + update.added - update.held);
      heldBefore = update.held;
      stored = [];
    }
  });
});
