/**
 * The one way results are written: group commits of frame batches (frame-batch.ts), each
 * result's document cut out of the frame the agent sent. Ingest, tests and benchmarks all use
 * it. A commit either stores every new result of every batch or throws `SW_STORE_WRITE` and
 * stores nothing; with synchronous FULL it is durable when it returns, which is what an ack
 * promises.
 */
import type { Db } from './database.js';
import type { FrameBatch } from './frame-batch.js';
import { frameRows, frameUdp } from './frame-batch.js';
import type { UdpCandidate } from './latest-udp.js';
import { latestUdpValues, newestUdpPerAgent } from './latest-udp.js';
import type { ResultRow } from './result-row.js';
import type { ResultStatements } from './results-sql.js';
import { storeWrite } from './store-error.js';
import type { InsertOutcome } from './store-types.js';

const HOUR_MS = 3_600_000;

/** A batch's rows, and the UDP figures of those that have them. */
interface Group {
  rows: readonly ResultRow[];
  udp: readonly UdpCandidate[];
}

interface WriteStatements {
  horizon: { get(): { rolled_up_to: number | null } | undefined };
  markDirty: { run(agentId: string, hour: number): unknown };
}

export class ResultWrites {
  readonly #path: string;
  readonly #results: ResultStatements;
  readonly #s: WriteStatements;
  readonly #insertGroupsTx: { immediate(groups: readonly Group[]): InsertOutcome[] };

  constructor(db: Db, path: string, results: ResultStatements) {
    this.#path = path;
    this.#results = results;
    this.#s = {
      horizon: db.prepare<[], { rolled_up_to: number | null }>('SELECT rolled_up_to FROM rollup_state WHERE id = 1'),
      markDirty: db.prepare<[string, number]>('INSERT INTO dirty_hours (agent_id, hour) VALUES (?, ?) ON CONFLICT DO NOTHING'),
    };
    this.#insertGroupsTx = db.transaction((groups: readonly Group[]) => groups.map((group) => this.#insertRows(group)));
  }

  /**
   * Stores several agents' frame batches in ONE transaction (one fsync: group commit), an
   * outcome per batch in order. An id already stored, for this agent or another, or met earlier
   * in the same call, is a duplicate: acked, not stored again. A new result with a `udp`
   * section becomes its agent's latest_udp unless a newer one is kept.
   */
  insertFrames(batches: readonly FrameBatch[]): InsertOutcome[] {
    if (batches.length === 0) return [];
    // Rows are made before the transaction, so the write lock is held for the inserts only.
    const groups = batches.map((batch): Group => ({ rows: frameRows(batch), udp: frameUdp(batch) }));
    const total = groups.reduce((n, g) => n + g.rows.length, 0);
    return storeWrite(this.#path, `store ${total} results of ${groups.length} batches`, () => this.#insertGroupsTx.immediate(groups));
  }

  #insertRows({ rows, udp }: Group): InsertOutcome {
    const horizon = this.#s.horizon.get()?.rolled_up_to ?? null;
    const inserted: string[] = [];
    const duplicates: string[] = [];
    for (const row of rows) {
      if (this.#results.insert.run(...row).changes === 1) {
        inserted.push(row[0]);
        // A late result for an hour already rolled up: the next maintenance recomputes that hour.
        if (horizon !== null && row[2] < horizon) this.#s.markDirty.run(row[1], Math.floor(row[2] / HOUR_MS) * HOUR_MS);
      } else {
        duplicates.push(row[0]);
      }
    }
    if (udp.length > 0) {
      const stored = new Set(inserted);
      for (const c of newestUdpPerAgent(udp.filter((c) => stored.has(c.id)))) this.#results.upsertUdp.run(...latestUdpValues(c));
    }
    return { inserted, duplicates };
  }
}
