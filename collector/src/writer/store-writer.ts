/**
 * Every write the serving thread needs, as asynchronous calls: results (group commits of frame
 * batches), agents' liveness and health, and the alerts' state. The collector process runs them on a
 * thread of their own (worker-store-writer.ts) with its own SQLite connection, so that a commit
 * in progress, or a lock held by another process, never stops the event loop that serves the
 * agents, the API and /metrics. In-process uses (tests, embedding) can write on the calling
 * thread with `inlineStoreWriter`. A store whose calls never stop the event loop (PostgreSQL's
 * pool) takes the writes directly from the serving thread: `directStoreWriter`.
 */
import type { AlertStore, AlertWrites, NotificationKey } from '../alerts/alert-store.js';
import type { AlertChanges } from '../alerts/alert-evaluation.js';
import type { NotificationUpsert } from '../alerts/notification-plan.js';
import type { Redemption } from '../store/enrollment-codes.js';
import type { FrameBatch } from '../store/frame-batch.js';
import type { CollectorStore } from '../store/collector-store.js';
import type { SqliteStore } from '../store/sqlite-store.js';
import { StoreError } from '../store/store-error.js';
import type { AgentHealthRecord, AgentTouch, InsertOutcome, NewAgent } from '../store/store-types.js';
import type { ThreadHeap } from './store-writer-protocol.js';

/** The writes, as the thread that owns the connections runs them (synchronously). */
export interface WriteOps {
  /** Keeps a batch under `handle` until commitStaged names it. */
  stage(handle: number, batch: FrameBatch): void;
  /**
   * One transaction of the staged batches named, an outcome per batch in order; they are
   * released whether or not it commits. A handle not staged here (the thread restarted since)
   * throws SW_STORE_WRITE, nothing stored.
   */
  commitStaged(handles: readonly number[]): InsertOutcome[];
  /** Agents' versions and last-seen times, one transaction. */
  touch(touches: readonly AgentTouch[]): void;
  /** Pauses (`at` set) or resumes agents; returns the ids whose state changed. */
  setPaused(ids: readonly string[], at: number | undefined): string[];
  /** Uses an enrollment code (by its hash); when it is good, the agent's token hash becomes `tokenHash`. */
  redeemEnrollment(codeHash: string, tokenHash: string, now: number): Redemption;
  /**
   * Issues an enrollment code (by its hash) for `agentId`, first adding the agent when `add`
   * is given (`SW_AGENT_EXISTS` if its id is taken), one transaction; the agent's earlier unused
   * codes end.
   */
  issueEnrollment(issue: EnrollmentIssue): void;
  /** Agents' latest health reports, one transaction. */
  saveHealth(records: readonly AgentHealthRecord[]): void;
  /** An alert evaluation's changes and the notifications it queues, one transaction. */
  alertCommit(changes: AlertChanges, upserts: readonly NotificationUpsert[], now: number): void;
  /** Marks notifications delivered after `attempts` POSTs in the round that delivered them. */
  alertsDelivered(keys: readonly NotificationKey[], now: number, attempts: number): void;
  alertsFailed(keys: readonly NotificationKey[], failure: { attempts: number; nextAttemptAt: number; error: string }): void;
  /** Drops what is queued for routes (keys) not in `keep`; returns the rows dropped. */
  forgetRoutes(keep: readonly string[]): number;
}

/** A code to store, and the site to add first when it is new (with a token hash nobody is given: the code sets the real one). */
export interface EnrollmentIssue {
  add?: { agent: NewAgent; tokenHash: string };
  agentId: string;
  codeHash: string;
  now: number;
  expiresAt: number;
}

/** WriteOps whose calls may resolve later: what a thread runs over an asynchronous store (PostgreSQL). */
export type AsyncWriteOps = { stage: WriteOps['stage'] } & { [K in WriteOp]: (...args: Parameters<WriteOps[K]>) => ReturnType<WriteOps[K]> | Promise<ReturnType<WriteOps[K]>> };

/** The writes called and answered (staging is one-way). */
export type WriteOp = Exclude<keyof WriteOps, 'stage'>;

/**
 * The writes as the serving thread calls them. Each resolves once committed (durable with
 * synchronous FULL) and rejects with a StoreError when nothing of it was stored.
 */
export type StoreWriter = { [K in WriteOp]: (...args: Parameters<WriteOps[K]>) => Promise<ReturnType<WriteOps[K]>> } & {
  /**
   * Hands a validated batch to the writer ahead of its commit and returns its handle for
   * commitStaged. Ingest stages each frame as it is validated: copying a whole commit's
   * frames to the writer thread at commit time stopped the event loop for 50-95 ms.
   */
  stage(batch: FrameBatch): number;
  /** The V8 heap of the thread the writes run on, when it is a thread of its own. */
  heap?(): ThreadHeap | undefined;
  /** Waits for writes in progress and releases the writer. */
  close(): Promise<void>;
};

/** The write operations on one connection's store and alert store. */
export function writeOps(store: SqliteStore, alerts: AlertStore): WriteOps {
  const staged = new Map<number, FrameBatch>();
  return {
    stage: (handle, batch) => {
      staged.set(handle, batch);
    },
    commitStaged: (handles) => {
      const batches = handles.map((handle) => staged.get(handle));
      for (const handle of handles) staged.delete(handle);
      const missing = handles.filter((_, i) => batches[i] === undefined);
      if (missing.length > 0) throw new StoreError('SW_STORE_WRITE', `staged batches ${missing.join(', ')} are not known to this writer (it restarted since they were staged); nothing stored`);
      return store.writes.insertFrames(batches as FrameBatch[]);
    },
    touch: (touches) => store.agents.touch(touches),
    setPaused: (ids, at) => store.agents.setPaused(ids, at),
    redeemEnrollment: (codeHash, tokenHash, now) => store.enrollment.redeem(codeHash, tokenHash, now),
    issueEnrollment: ({ add, agentId, codeHash, now, expiresAt }) =>
      store.transaction(() => {
        if (add !== undefined) store.agents.add(add.agent, add.tokenHash, now);
        store.enrollment.issue(agentId, codeHash, now, expiresAt);
      }),
    saveHealth: (records) => store.health.save(records),
    alertCommit: (changes, upserts, now) => alerts.commit(changes, upserts, now),
    alertsDelivered: (keys, now, attempts) => alerts.markDelivered(keys, now, attempts),
    alertsFailed: (keys, failure) => alerts.markFailed(keys, failure),
    forgetRoutes: (keep) => alerts.forgetRoutes(keep),
  };
}

/**
 * Writes on the calling thread, each call awaited in turn. With SQLite's synchronous writes the
 * event loop waits for each commit: for tests and embedding. Takes the synchronous or the
 * asynchronous operations alike.
 */
export function inlineStoreWriter(ops: AsyncWriteOps): StoreWriter {
  const call =
    <K extends WriteOp>(op: K) =>
    async (...args: Parameters<WriteOps[K]>): Promise<ReturnType<WriteOps[K]>> =>
      (ops[op] as unknown as (...a: Parameters<WriteOps[K]>) => ReturnType<WriteOps[K]> | Promise<ReturnType<WriteOps[K]>>)(...args);
  let nextHandle = 0;
  return {
    stage: (batch) => {
      const handle = nextHandle++;
      ops.stage(handle, batch);
      return handle;
    },
    commitStaged: call('commitStaged'),
    touch: call('touch'),
    setPaused: call('setPaused'),
    redeemEnrollment: call('redeemEnrollment'),
    issueEnrollment: call('issueEnrollment'),
    saveHealth: call('saveHealth'),
    alertCommit: call('alertCommit'),
    alertsDelivered: call('alertsDelivered'),
    alertsFailed: call('alertsFailed'),
    forgetRoutes: call('forgetRoutes'),
    close: async () => {},
  };
}

/** Alert writes for a thread that does not do them (they are done where the store's alerts live): each rejects with SW_STORE_WRITE. */
export function alertWritesElsewhere(location: string): AlertWrites {
  const refuse = async (): Promise<never> => {
    throw new StoreError('SW_STORE_WRITE', `the alerts' state of ${location} is written by the lease holder's serving thread, not by the store writer`);
  };
  return { alertCommit: refuse, alertsDelivered: refuse, alertsFailed: refuse, forgetRoutes: refuse };
}

/** The write operations on a CollectorStore (PostgreSQL on the writer thread), with the alerts' writes to `alerts`. */
export function asyncWriteOps(store: CollectorStore, alerts: AlertWrites): AsyncWriteOps {
  const staged = new Map<number, FrameBatch>();
  return {
    stage: (handle, batch) => {
      staged.set(handle, batch);
    },
    commitStaged: async (handles) => {
      const batches = handles.map((handle) => staged.get(handle));
      for (const handle of handles) staged.delete(handle);
      const missing = handles.filter((_, i) => batches[i] === undefined);
      if (missing.length > 0) throw new StoreError('SW_STORE_WRITE', `staged batches ${missing.join(', ')} are not known to this writer (it restarted since they were staged); nothing stored`);
      return store.results.insertFrames(batches as FrameBatch[]);
    },
    touch: (touches) => store.agents.touch(touches),
    setPaused: (ids, at) => store.agents.setPaused(ids, at),
    redeemEnrollment: (codeHash, tokenHash, now) => store.enrollment.redeem(codeHash, tokenHash, now),
    issueEnrollment: ({ add, agentId, codeHash, now, expiresAt }) => store.enrollment.issue(agentId, codeHash, now, expiresAt, add),
    saveHealth: (records) => store.health.save(records),
    alertCommit: (changes, upserts, now) => alerts.alertCommit(changes, upserts, now),
    alertsDelivered: (keys, now, attempts) => alerts.alertsDelivered(keys, now, attempts),
    alertsFailed: (keys, failure) => alerts.alertsFailed(keys, failure),
    forgetRoutes: (keep) => alerts.forgetRoutes(keep),
  };
}

/**
 * Writes straight to a store whose calls do not stop the event loop (PostgreSQL: network I/O on
 * a pool), from the calling thread, with the alerts' writes to `alerts`: for tests and embedding
 * (the collector process runs them on its writer thread, WorkerStoreWriter). Each commit is one
 * transaction of the store and resolves once it has committed.
 */
export function directStoreWriter(store: CollectorStore, alerts: AlertWrites): StoreWriter {
  return inlineStoreWriter(asyncWriteOps(store, alerts));
}
