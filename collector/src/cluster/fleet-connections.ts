/**
 * The agents' connections across several collectors on one database. Each collector knows its
 * own connections as they open and close; once a heartbeat (`beat`) it writes those that changed
 * since, with its presence, in one transaction (store/postgres/postgres-connections.ts), then
 * reads every live collector's. From that:
 * - which agents are connected anywhere in the fleet (the API's `connected`, the alerts'
 *   disconnected rule, which agents' series the lease holder carries in /metrics);
 * - which of its own connections another collector has registered since: an agent connected
 *   twice (through a load balancer, or reconnecting through another collector while its old
 *   connection is still open here). The connection registered last wins; the collector holding
 *   the older one closes it (close code 4003, "replaced") within a heartbeat of learning it.
 *
 * A collector that dies stops counting when its presence expires (three heartbeats after its
 * last beat); its agents reconnect through another collector meanwhile.
 */
import type { Logger } from '@speedwatch/shared';
import type { AgentConnection, CollectorPresence, ConnectionStore } from '../store/collector-store.js';

export interface FleetConnectionsOptions {
  store: ConnectionStore;
  self: CollectorPresence;
  /** How long this collector's presence lasts after each beat, ms (three heartbeats). */
  presenceMs: number;
  logger: Logger;
}

export class FleetConnections {
  readonly #o: FleetConnectionsOptions;
  #self: CollectorPresence;
  /** This collector's connections now: agent id → connection number. */
  readonly #local = new Map<string, number>();
  /** What the database holds of this collector's, as of the last beat that committed. */
  #written = new Map<string, number>();
  /** The last beat failed: the next one writes back this collector's rows that may have gone meanwhile. */
  #reassert = false;
  /** Every live collector's connections as last read: agent id → collector id. */
  #fleet = new Map<string, string>();
  #beating: Promise<string[]> | undefined;
  #failing = false;

  constructor(options: FleetConnectionsOptions) {
    this.#o = options;
    this.#self = { ...options.self };
  }

  get id(): string {
    return this.#self.id;
  }

  /** Where this collector serves, written with its presence (known once it listens). */
  set url(url: string) {
    this.#self = { ...this.#self, url };
  }

  connected(agentId: string, conn: number): void {
    this.#local.set(agentId, conn);
  }

  disconnected(agentId: string, conn: number): void {
    if (this.#local.get(agentId) === conn) this.#local.delete(agentId);
  }

  /** Agents connected anywhere in the fleet: here now, or to another live collector as of the last beat. */
  connectedIds(): Set<string> {
    const ids = new Set(this.#fleet.keys());
    for (const id of this.#local.keys()) ids.add(id);
    return ids;
  }

  /** True when the agent is connected here now, or to another live collector as of the last beat. */
  isConnected(agentId: string): boolean {
    return this.#local.has(agentId) || this.#fleet.has(agentId);
  }

  /** Which other collector holds the agent's connection as of the last beat, else this one if it does. */
  holderOf(agentId: string): string | undefined {
    return this.#fleet.get(agentId) ?? (this.#local.has(agentId) ? this.#self.id : undefined);
  }

  /**
   * Writes what changed and reads the fleet's connections (one beat at a time: a beat asked for
   * while one runs joins it). Resolves with the agents connected here whose connection another
   * collector has registered since (to be closed); never rejects: a failure is logged once and
   * the next beat tries again.
   */
  beat(): Promise<string[]> {
    this.#beating ??= this.#beatOnce().finally(() => {
      this.#beating = undefined;
    });
    return this.#beating;
  }

  async #beatOnce(): Promise<string[]> {
    const local = new Map(this.#local);
    const opened: AgentConnection[] = [];
    const reassert: AgentConnection[] = [];
    for (const [agentId, conn] of local) {
      if (this.#written.get(agentId) !== conn) opened.push({ agentId, conn });
      else if (this.#reassert) reassert.push({ agentId, conn });
    }
    const closed: AgentConnection[] = [];
    for (const [agentId, conn] of this.#written) if (local.get(agentId) !== conn) closed.push({ agentId, conn });
    let rows: [string, string][];
    try {
      await this.#o.store.beat(this.#self, this.#o.presenceMs, opened, closed, reassert);
      this.#written = local;
      this.#reassert = false;
      rows = await this.#o.store.list();
    } catch (err) {
      this.#reassert = true;
      if (!this.#failing) this.#o.logger.warn({ event: 'connections-beat-failed', err }, 'could not record or read the fleet\'s connections; will retry at the next heartbeat');
      this.#failing = true;
      return [];
    }
    if (this.#failing) this.#o.logger.info({ event: 'connections-beat-recovered' }, 'the fleet\'s connections are recorded again');
    this.#failing = false;
    // This collector's own rows are known better from #local (they lag it by a beat).
    this.#fleet = new Map(rows.filter(([, collector]) => collector !== this.#self.id));
    const replaced: string[] = [];
    for (const [agentId, conn] of local) {
      // Still the same connection here, and another collector registered one after it.
      if (this.#fleet.has(agentId) && this.#local.get(agentId) === conn) replaced.push(agentId);
    }
    return replaced;
  }

  /** Removes this collector and its connections from the database (a clean stop); never rejects. */
  async leave(): Promise<void> {
    await this.#beating;
    try {
      await this.#o.store.leave(this.#self.id);
    } catch (err) {
      this.#o.logger.warn({ event: 'connections-leave-failed', err }, 'could not remove this collector\'s connections; they stop counting when its presence expires');
    }
  }
}
