/**
 * The agents as the serving thread knows them: who holds which token, what each site is, and
 * when each agent was last heard from. Held in memory so that authenticating an upgrade, a
 * heartbeat's revocation check and the API's agent list never wait on the database; it follows
 * the database by polling `agent_changes.seq` (one row) and reloading when it moved, so a CLI
 * `agents add|revoke|rotate` takes effect within one poll. Liveness (version, last seen) is
 * kept here as it happens and written back in batches by whoever calls `takeTouches`.
 */
import type { Logger } from '@speedwatch/shared';
import type { AgentWithToken } from '../store/agent-registry.js';
import type { AgentRecord, AgentTouch } from '../store/store-types.js';

/** What the directory reads from the database (the store's agents, on the serving thread's connection). */
export interface AgentSource {
  listWithTokens(): Promise<AgentWithToken[]>;
  changeSeq(): Promise<number>;
}

interface Liveness {
  version?: string;
  lastSeenAt?: number;
  /** Not yet handed out by takeTouches. */
  dirty: boolean;
}

export class AgentDirectory {
  readonly #source: AgentSource;
  readonly #log: Logger;
  readonly #onReload: () => void;
  #byId = new Map<string, AgentRecord>();
  #byToken = new Map<string, AgentRecord>();
  readonly #live = new Map<string, Liveness>();
  #seq = -1;
  /** The last reload failed: logged once until one succeeds. */
  #failing = false;

  /** Refreshes asked while one runs wait for it, then share one more. */
  #chain: Promise<unknown> = Promise.resolve();
  #queued: Promise<boolean> | undefined;

  /**
   * Loads every agent; rejects with the StoreError if the database cannot be read. `onReload`
   * runs after each later reload (an agent added, revoked, rotated or edited).
   */
  static async load(source: AgentSource, logger: Logger, onReload: () => void = () => {}): Promise<AgentDirectory> {
    const directory = new AgentDirectory(source, logger, onReload);
    await directory.#reload(await source.changeSeq());
    return directory;
  }

  private constructor(source: AgentSource, logger: Logger, onReload: () => void) {
    this.#source = source;
    this.#log = logger;
    this.#onReload = onReload;
  }

  /**
   * Reloads if an agent was added, revoked, rotated or edited since the last load. A read
   * that fails (a locked or broken database) keeps the table as it is and is logged once;
   * resolves with whether the table changed. A refresh asked while another runs starts after
   * it, so it sees every change made before it was asked.
   */
  refresh(): Promise<boolean> {
    if (this.#queued !== undefined) return this.#queued;
    const queued = this.#chain.then(() => {
      this.#queued = undefined;
      return this.#refreshNow();
    });
    this.#queued = queued;
    this.#chain = queued;
    return queued;
  }

  async #refreshNow(): Promise<boolean> {
    try {
      const seq = await this.#source.changeSeq();
      if (seq === this.#seq) {
        this.#recovered();
        return false;
      }
      await this.#reload(seq);
      this.#recovered();
      this.#onReload();
      return true;
    } catch (err) {
      if (!this.#failing) this.#log.error({ event: 'agents-reload-failed', err }, 'cannot read the agents table; keeping the agents as last loaded, retrying at the next heartbeat');
      this.#failing = true;
      return false;
    }
  }

  /** The active agent holding this token hash, as last loaded. */
  byTokenHash(tokenHash: string): AgentRecord | undefined {
    return this.#byToken.get(tokenHash);
  }

  /**
   * As byTokenHash, but a miss first checks whether the agents table changed since the last
   * load (one single-row read), so an agent added a moment ago is let in at once rather than
   * at the next heartbeat. Failed attempts are rate-limited per address before they get here.
   */
  async authenticate(tokenHash: string): Promise<AgentRecord | undefined> {
    const known = this.#byToken.get(tokenHash);
    if (known !== undefined) return known;
    return (await this.refresh()) ? this.#byToken.get(tokenHash) : undefined;
  }

  /** The agent with this id (revoked ones included), with its liveness as of now. */
  get(id: string): AgentRecord | undefined {
    const agent = this.#byId.get(id);
    return agent === undefined ? undefined : this.#withLiveness(agent);
  }

  /** Every agent, revoked ones included, ordered by id, with liveness as of now. */
  list(): AgentRecord[] {
    return [...this.#byId.values()].map((agent) => this.#withLiveness(agent));
  }

  /** Records that the agent was heard from at `now` (and its version, at a hello). */
  seen(id: string, now: number, version?: string): void {
    const live = this.#live.get(id);
    if (live === undefined) {
      this.#live.set(id, version === undefined ? { lastSeenAt: now, dirty: true } : { version, lastSeenAt: now, dirty: true });
      return;
    }
    live.lastSeenAt = Math.max(live.lastSeenAt ?? now, now);
    if (version !== undefined) live.version = version;
    live.dirty = true;
  }

  /** The liveness recorded since the last call, to be written to the database. */
  takeTouches(): AgentTouch[] {
    const touches: AgentTouch[] = [];
    for (const [id, live] of this.#live) {
      if (!live.dirty || live.lastSeenAt === undefined) continue;
      live.dirty = false;
      touches.push(live.version === undefined ? { id, lastSeenAt: live.lastSeenAt } : { id, version: live.version, lastSeenAt: live.lastSeenAt });
    }
    return touches;
  }

  /** Touches that could not be written: handed out again next time. */
  returnTouches(touches: readonly AgentTouch[]): void {
    for (const t of touches) {
      const live = this.#live.get(t.id);
      if (live !== undefined) live.dirty = true;
    }
  }

  /**
   * Loads every agent. `seq` is the counter read before the load: a change made meanwhile moves
   * it past `seq`, so the next refresh loads again rather than missing it.
   */
  async #reload(seq: number): Promise<void> {
    const byId = new Map<string, AgentRecord>();
    const byToken = new Map<string, AgentRecord>();
    for (const { agent, tokenHash } of await this.#source.listWithTokens()) {
      byId.set(agent.id, agent);
      if (tokenHash !== undefined) byToken.set(tokenHash, agent);
    }
    this.#byId = byId;
    this.#byToken = byToken;
    this.#seq = seq;
    for (const id of this.#live.keys()) if (!byId.has(id)) this.#live.delete(id);
  }

  #recovered(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#log.info({ event: 'agents-reload-recovered' }, 'the agents table is readable again');
  }

  #withLiveness(agent: AgentRecord): AgentRecord {
    const live = this.#live.get(agent.id);
    if (live === undefined) return agent;
    const out: AgentRecord = { ...agent };
    if (live.version !== undefined) out.version = live.version;
    if (live.lastSeenAt !== undefined && live.lastSeenAt > (agent.lastSeenAt ?? Number.NEGATIVE_INFINITY)) out.lastSeenAt = live.lastSeenAt;
    return out;
  }
}
