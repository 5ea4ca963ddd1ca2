/**
 * What the collector needs of its store, as one asynchronous interface with two implementations:
 * SQLite, the embedded default (sqlite-collector-store.ts, over the synchronous SqliteStore and
 * its rooms), and PostgreSQL (postgres/postgres-store.ts), for a fleet past one box
 * (docs/operations.md, "PostgreSQL"). Both pass one suite, collector/test/store-contract.test.ts.
 *
 * Every method resolves once its work is committed (writes) or read; failures reject with a
 * StoreError (`SW_STORE_WRITE`, `SW_STORE_READ`, `SW_STORE_ARGUMENT`, `SW_STORE_CURSOR`,
 * `SW_AGENT_EXISTS`). Times are ms since the epoch.
 */
import type { AlertTables } from '../alerts/shared-alert-store.js';
import type { LeaseFence, LeaseSource } from '../cluster/lease.js';
import type { AreaUnit } from './area-units.js';
import type { LoadedHealth } from './agent-health.js';
import type { AgentWithToken } from './agent-registry.js';
import type { CodeState, Redemption } from './enrollment-codes.js';
import type { FrameBatch } from './frame-batch.js';
import type { LatestActivity } from './result-queries.js';
import type { MaintenanceOutcome } from './rollups.js';
import type { StoreSpec } from './store-spec.js';
import type { AgentHealthRecord, AgentRecord, AgentTouch, InsertOutcome, NewAgent, ResultQuery, SeriesMetric, SeriesPoint, StoredResult, VerdictRow } from './store-types.js';

export type StoreKind = 'sqlite' | 'postgres';

/**
 * Where the verdict window's incremental scan stopped, opaque to callers: SQLite's is the last
 * rowid read, PostgreSQL's the snapshot the rows were read in (`xmin:xmax:xip…`).
 */
export type ScanPosition = string;

export interface CollectorStore {
  readonly kind: StoreKind;
  /** Where the data is, for messages and logs: a file path, or `postgres://user@host:port/db` (never a password). */
  readonly location: string;
  /** How to open another connection to the same store: what worker threads are given. */
  readonly spec: StoreSpec;
  readonly agents: AgentStore;
  readonly enrollment: EnrollmentStore;
  readonly health: HealthStore;
  readonly areaUnits: AreaUnitStore;
  readonly results: ResultStore;
  readonly rollups: RollupStore;
  /**
   * What several collectors on this store share (PostgreSQL); undefined for a store that one
   * collector has to itself (SQLite).
   */
  readonly cluster: ClusterStore | undefined;
  /** Bytes the data takes: the SQLite file and its WAL, or the PostgreSQL database. */
  sizeBytes(): Promise<number>;
  /** Releases the connections; later calls reject. Closing twice is harmless. */
  close(): Promise<void>;
}

/**
 * What several collectors on one database share to work as one fleet (PostgreSQL; SQLite has
 * none: one collector to a file). docs/operations.md, "Several collectors".
 */
export interface ClusterStore {
  /** Leases for the work done once for the fleet (cluster/lease.ts). */
  readonly leases: LeaseSource;
  /** Which collector holds each agent's connection (cluster/fleet-connections.ts). */
  readonly connections: ConnectionStore;
  /** The verdicts the lease holder computed, for the others to serve the same. */
  readonly verdicts: VerdictPublication;
  /** The alerts' state and outbox, written only by the lease holder (alerts/shared-alert-store.ts). */
  readonly alerts: AlertTables;
}

/** A collector as the others see it. */
export interface CollectorPresence {
  /** Unique per process start: `HOST/PID/RANDOM`. */
  id: string;
  /** Where it serves, for people reading `collectors`. */
  url: string;
  /** When it started, ms since the epoch. */
  startedAt: number;
}

/** An agent's connection as its collector numbers it. */
export interface AgentConnection {
  agentId: string;
  conn: number;
}

export interface ConnectionStore {
  /**
   * One heartbeat of `self`, one transaction: its presence until `presenceMs` from now (the
   * database's clock), its connections `opened` (they replace any other's row for the agent:
   * the newest wins) and `closed` (removed only if still its own), and `reassert` written back
   * where the agent has no row (after a failed beat).
   */
  beat(self: CollectorPresence, presenceMs: number, opened: readonly AgentConnection[], closed: readonly AgentConnection[], reassert?: readonly AgentConnection[]): Promise<void>;
  /** Every connection of a collector whose presence has not expired: [agent id, collector id]. */
  list(): Promise<[agentId: string, collector: string][]>;
  /** Removes a collector and its connections (a clean stop). */
  leave(collectorId: string): Promise<void>;
  /** Removes collectors whose presence expired over `deadForMs` ago, and their connections; resolves with the connections removed. */
  prune(deadForMs: number): Promise<number>;
}

/** Verdicts as one holder's pass leaves them: what changed, as the JSON served (VerdictSnapshot). */
export interface VerdictsToPublish {
  computedAt: number;
  /** Every agent with verdicts is in `agents` and every grouping in `groups` (the holder's first pass): the others have none. */
  full: boolean;
  agents: readonly { agentId: string; json: string }[];
  removed: readonly string[];
  /** Per grouping and window, its group verdicts' JSON: those that changed (all when `full`). */
  groups: readonly { groupBy: string; window: string; json: string }[];
}

/** What was published since a reader's last read. */
export interface PublishedVerdicts {
  /** The publication's number; pass it to the next read. */
  seq: number;
  computedAt: number;
  /** The collector that computed them. */
  holder: string;
  /** True when `agents` is every agent with verdicts (a first read): replace, do not merge. */
  full: boolean;
  /** Agents whose verdicts changed since the seq asked for; `json` null: none any more. */
  agents: { agentId: string; json: string | null }[];
  /** The groupings and windows whose verdicts changed since the seq asked for (all when `full`). */
  groups: { groupBy: string; window: string; json: string }[];
}

export interface VerdictPublication {
  /** Publishes under the lease (SW_LEASE_LOST, nothing written, when `fence` no longer holds it); resolves with its seq. */
  publish(fence: LeaseFence, verdicts: VerdictsToPublish): Promise<number>;
  /** What was published after `afterSeq` (0: everything), or undefined when nothing was (or nothing ever). */
  read(afterSeq: number): Promise<PublishedVerdicts | undefined>;
}

/** The agents' registry: identity (token hashes, revocation, pause) and liveness. */
export interface AgentStore {
  /** Registers an agent with the hash of its token; `SW_AGENT_EXISTS` if the id is taken. */
  add(agent: NewAgent, tokenHash: string, now: number): Promise<AgentRecord>;
  get(id: string): Promise<AgentRecord | undefined>;
  /** The active agent holding this token hash. */
  byTokenHash(tokenHash: string): Promise<AgentRecord | undefined>;
  /** All agents, revoked ones included, ordered by id. */
  list(): Promise<AgentRecord[]>;
  /** All agents with their token hashes (none for the revoked), for the in-memory directory. */
  listWithTokens(): Promise<AgentWithToken[]>;
  /** False if there is no such active agent. */
  revoke(id: string, now: number): Promise<boolean>;
  /** Replaces a site's description (not its id, token or history); false if there is no such agent. */
  edit(id: string, site: Omit<NewAgent, 'id'>): Promise<boolean>;
  /** Pauses (`at` the time) or resumes (`at` undefined) agents, one transaction; the ids whose state changed. */
  setPaused(ids: readonly string[], at: number | undefined): Promise<string[]>;
  /** Replaces the token hash; false if there is no such active agent. */
  rotate(id: string, tokenHash: string): Promise<boolean>;
  /** Versions and last-seen times, one transaction; never moves a last-seen time back; unknown ids skipped. */
  touch(touches: readonly AgentTouch[]): Promise<void>;
  /** Moves whenever an agent is added, revoked, rotated, edited, paused or resumed (by anyone). */
  changeSeq(): Promise<number>;
}

export interface EnrollmentStore {
  /**
   * Issues a code (by its hash) for `agentId`, valid until `expiresAt`, first adding the agent
   * when `add` is given (`SW_AGENT_EXISTS` if its id is taken), one transaction; the agent's
   * earlier unused codes end now.
   */
  issue(agentId: string, codeHash: string, now: number, expiresAt: number, add?: { agent: NewAgent; tokenHash: string }): Promise<void>;
  /** Uses the code: on success the agent's token hash becomes `tokenHash`. Of two racing, one wins. */
  redeem(codeHash: string, tokenHash: string, now: number): Promise<Redemption>;
  /** Each agent's newest code, for `agents list`. */
  latestByAgent(): Promise<Map<string, CodeState>>;
}

export interface HealthStore {
  /** Keeps each agent's report, never an older over a newer; unknown agents are skipped. One transaction. */
  save(records: readonly AgentHealthRecord[]): Promise<void>;
  /** Every stored report that still passes validation, by agent id, and the agents whose row did not. */
  list(): Promise<LoadedHealth>;
}

export interface AreaUnitStore {
  /** Adds or replaces units by code, one transaction. */
  upsert(units: readonly AreaUnit[]): Promise<void>;
  /** Every unit by code. */
  all(): Promise<Map<string, AreaUnit>>;
}

export interface ResultStore {
  /**
   * Stores several agents' frame batches in one transaction (group commit), an outcome per batch
   * in order. Idempotent by result id across batches, calls and collectors: an id already stored
   * (for this agent or another), or met earlier in the same call, is a duplicate, acked and not
   * stored again. Durable when it resolves; on failure nothing of the call is stored. The
   * agents must be in the registry (ingest writes only authenticated agents' batches): SQLite
   * refuses another agent's with SW_STORE_WRITE (a foreign key), PostgreSQL does not check.
   */
  insertFrames(batches: readonly FrameBatch[]): Promise<InsertOutcome[]>;
  /**
   * Results with `from <= ts < to`, ordered by (ts, id), `limit` (1..10 000) per page;
   * `nextCursor` when more follow. A cursor the store did not issue: `SW_STORE_CURSOR`.
   */
  page(query: ResultQuery): Promise<{ results: StoredResult[]; nextCursor?: string }>;
  /** The agent's latest `limit` results, newest first (by ts, then id). */
  recent(agentId: string, limit: number): Promise<StoredResult[]>;
  /** For each listed agent with a result: its latest result's figures, and its latest download. */
  latestActivity(agentIds: readonly string[]): Promise<LatestActivity[]>;
  /**
   * Passes `visit` each result with `ts >= from`: without `after`, all of them in ts order;
   * with it, only those stored since that position (in the order stored). Resolves with the
   * position to pass next time; no row is passed twice or missed across calls.
   */
  scanVerdictRows(from: number, after: ScanPosition | undefined, visit: (row: VerdictRow) => void): Promise<ScanPosition>;
  /** Passes `visit` each result with `from <= ts < to`, in ts order (a report's range). */
  scanVerdictRowsBetween(from: number, to: number, visit: (row: VerdictRow) => void): Promise<void>;
  /** The time before which retention dropped raw results (a range starting earlier is incomplete), if it ever did. */
  deletedBefore(): Promise<number | undefined>;
}

export interface RollupStore {
  /**
   * Points for buckets of `stepMs` aligned to the epoch, only buckets with data, ascending;
   * whole-hour steps from the hourly roll-ups (hours not rolled up yet from raw results), other
   * steps from raw results with exact medians.
   */
  series(agentId: string, metric: SeriesMetric, from: number, to: number, stepMs: number): Promise<SeriesPoint[]>;
  /**
   * Maintenance as of `now` in short steps, each its own transaction: roll-ups of complete
   * hours, late hours recomputed, retention. Stop iterating to pause; the next call carries on.
   */
  steps(now: number): AsyncGenerator<MaintenanceOutcome, void, void>;
  /** Every step at once (the CLI, tests). */
  maintain(now: number): Promise<MaintenanceOutcome>;
}

/** Runs every step of `rollups.steps(now)` and sums what they did. */
export async function maintainAll(steps: AsyncIterable<MaintenanceOutcome>): Promise<MaintenanceOutcome> {
  const total: MaintenanceOutcome = { rolledUpHours: 0, deletedResults: 0 };
  for await (const step of steps) {
    total.rolledUpHours += step.rolledUpHours;
    total.deletedResults += step.deletedResults;
  }
  return total;
}
