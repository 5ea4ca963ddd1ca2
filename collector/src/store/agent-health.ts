/**
 * The `agent_health` table: each agent's latest health report (migration "fleet health"). The
 * store writer saves the reports that arrived since its last save, once per heartbeat; the
 * serving thread loads them all at start. A report is stored as the JSON of the validated
 * message and validated again when loaded: a row that no longer passes is skipped, not trusted.
 */
import { healthSchema, ValidationError } from '@speedwatch/shared';
import type { Db } from './database.js';
import { storeRead, storeWrite } from './store-error.js';
import type { AgentHealthRecord } from './store-types.js';

/** A row of `agent_health`. */
export interface HealthRow {
  agent_id: string;
  received_at: number;
  skew_ms: number;
  report: string;
}

/** What `list` found: the reports that passed validation, and the agents whose row did not. */
export interface LoadedHealth {
  records: AgentHealthRecord[];
  unreadable: string[];
}

function prepare(db: Db) {
  return {
    // Only agents that exist, and never an older report over a newer one (two writers' saves may cross).
    save: db.prepare<[{ agentId: string; receivedAt: number; skewMs: number; report: string }]>(
      `INSERT INTO agent_health (agent_id, received_at, skew_ms, report)
       SELECT @agentId, @receivedAt, @skewMs, @report WHERE EXISTS (SELECT 1 FROM agents WHERE id = @agentId)
       ON CONFLICT (agent_id) DO UPDATE SET received_at = excluded.received_at, skew_ms = excluded.skew_ms, report = excluded.report
       WHERE excluded.received_at >= agent_health.received_at`,
    ),
    list: db.prepare<[], HealthRow>('SELECT agent_id, received_at, skew_ms, report FROM agent_health ORDER BY agent_id'),
  };
}

export class AgentHealthTable {
  readonly #path: string;
  readonly #s: ReturnType<typeof prepare>;
  readonly #saveTx: (records: readonly AgentHealthRecord[]) => void;

  constructor(db: Db, path: string) {
    this.#path = path;
    this.#s = prepare(db);
    this.#saveTx = db.transaction((records: readonly AgentHealthRecord[]) => {
      for (const r of records) this.#s.save.run({ agentId: r.agentId, receivedAt: r.receivedAt, skewMs: Math.round(r.skewMs), report: JSON.stringify(r.report) });
    });
  }

  /** Keeps each agent's report (replacing an older one), in one transaction; unknown agents are skipped. */
  save(records: readonly AgentHealthRecord[]): void {
    if (records.length === 0) return;
    storeWrite(this.#path, `record the health of ${records.length} agents`, () => this.#saveTx(records));
  }

  /** Every stored report, ordered by agent id. */
  list(): LoadedHealth {
    return loadHealth(storeRead(this.#path, 'load the agents\' health', () => this.#s.list.all()));
  }
}

/** Stored health rows, each validated again: the reports that pass, and the agents whose row does not. */
export function loadHealth(rows: readonly HealthRow[]): LoadedHealth {
  const out: LoadedHealth = { records: [], unreadable: [] };
  for (const row of rows) {
    try {
      const { type: _type, ...report } = healthSchema.parse({ ...(JSON.parse(row.report) as object), type: 'health' });
      out.records.push({ agentId: row.agent_id, receivedAt: row.received_at, skewMs: row.skew_ms, report });
    } catch (err) {
      if (!(err instanceof ValidationError) && !(err instanceof SyntaxError)) throw err;
      out.unreadable.push(row.agent_id);
    }
  }
  return out;
}
