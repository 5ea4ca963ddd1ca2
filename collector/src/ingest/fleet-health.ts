/**
 * The agents' latest health reports as the serving thread knows them: loaded from the
 * database at start, replaced by each `health` message, and handed to the store writer in
 * batches (`takeDirty`, once per heartbeat: at most one write per agent however often it
 * reports). Reads for the API, the metrics and the alerts come from here, never the database.
 */
import type { AgentHealthRecord } from '../store/store-types.js';

interface Entry {
  record: AgentHealthRecord;
  /** Not yet handed out by takeDirty. */
  dirty: boolean;
}

export class FleetHealth {
  readonly #latest = new Map<string, Entry>();

  /** Reports read from the database (at start): kept unless a newer one arrived meanwhile. */
  load(records: readonly AgentHealthRecord[]): void {
    for (const record of records) {
      const known = this.#latest.get(record.agentId);
      if (known === undefined || known.record.receivedAt < record.receivedAt) this.#latest.set(record.agentId, { record, dirty: false });
    }
  }

  /** A report that just arrived: it replaces the agent's previous one and waits for the next write. */
  record(record: AgentHealthRecord): void {
    const known = this.#latest.get(record.agentId);
    if (known !== undefined && known.record.receivedAt > record.receivedAt) return;
    this.#latest.set(record.agentId, { record, dirty: true });
  }

  get(agentId: string): AgentHealthRecord | undefined {
    return this.#latest.get(agentId)?.record;
  }

  /** Every agent's latest report, by agent id. */
  all(): ReadonlyMap<string, AgentHealthRecord> {
    return new Map([...this.#latest].map(([id, entry]) => [id, entry.record]));
  }

  /** The reports that arrived since the last call, one per agent, to be written to the database. */
  takeDirty(): AgentHealthRecord[] {
    const out: AgentHealthRecord[] = [];
    for (const entry of this.#latest.values()) {
      if (!entry.dirty) continue;
      entry.dirty = false;
      out.push(entry.record);
    }
    return out;
  }

  /** Reports that could not be written: handed out again next time, unless a newer one replaced them. */
  returnDirty(records: readonly AgentHealthRecord[]): void {
    for (const record of records) {
      const entry = this.#latest.get(record.agentId);
      if (entry !== undefined && entry.record === record) entry.dirty = true;
    }
  }

  /** Forgets an agent (revoked). */
  remove(agentId: string): void {
    this.#latest.delete(agentId);
  }
}
