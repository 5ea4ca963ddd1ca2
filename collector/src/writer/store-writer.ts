/**
 * Every write the serving thread needs, as asynchronous calls: results (group commits of frame
 * batches), agents' liveness, and the alerts' state. The collector process runs them on a
 * thread of their own (worker-store-writer.ts) with its own SQLite connection, so that a commit
 * in progress, or a lock held by another process, never stops the event loop that serves the
 * agents, the API and /metrics. In-process uses (tests, embedding) can write on the calling
 * thread with `inlineStoreWriter`.
 */
import type { AlertStore, NotificationKey } from '../alerts/alert-store.js';
import type { AlertChanges } from '../alerts/alert-evaluation.js';
import type { NotificationUpsert } from '../alerts/notification-plan.js';
import type { FrameBatch } from '../store/frame-batch.js';
import type { SqliteStore } from '../store/sqlite-store.js';
import type { AgentTouch, InsertOutcome } from '../store/store-types.js';

/** The writes, as the thread that owns the connections runs them (synchronously). */
export interface WriteOps {
  /** One transaction: every batch, an outcome per batch in order (store/result-writes.ts). */
  results(batches: readonly FrameBatch[]): InsertOutcome[];
  /** Agents' versions and last-seen times, one transaction. */
  touch(touches: readonly AgentTouch[]): void;
  /** An alert evaluation's changes and the notifications it queues, one transaction. */
  alertCommit(changes: AlertChanges, upserts: readonly NotificationUpsert[], now: number): void;
  alertsDelivered(keys: readonly NotificationKey[], now: number): void;
  alertsFailed(keys: readonly NotificationKey[], failure: { attempts: number; nextAttemptAt: number; error: string }): void;
  /** Drops what is queued for webhooks not in `keep`; returns the rows dropped. */
  forgetWebhooks(keep: readonly string[]): number;
}

export type WriteOp = keyof WriteOps;

/**
 * The writes as the serving thread calls them. Each resolves once committed (durable with
 * synchronous FULL) and rejects with a StoreError when nothing of it was stored.
 */
export type StoreWriter = { [K in WriteOp]: (...args: Parameters<WriteOps[K]>) => Promise<ReturnType<WriteOps[K]>> } & {
  /** Waits for writes in progress and releases the writer. */
  close(): Promise<void>;
};

/** The write operations on one connection's store and alert store. */
export function writeOps(store: SqliteStore, alerts: AlertStore): WriteOps {
  return {
    results: (batches) => store.writes.insertFrames(batches),
    touch: (touches) => store.agents.touch(touches),
    alertCommit: (changes, upserts, now) => alerts.commit(changes, upserts, now),
    alertsDelivered: (keys, now) => alerts.markDelivered(keys, now),
    alertsFailed: (keys, failure) => alerts.markFailed(keys, failure),
    forgetWebhooks: (keep) => alerts.forgetWebhooks(keep),
  };
}

/** Writes on the calling thread: the event loop waits for each commit. For tests and embedding. */
export function inlineStoreWriter(ops: WriteOps): StoreWriter {
  const call =
    <K extends WriteOp>(op: K) =>
    async (...args: Parameters<WriteOps[K]>): Promise<ReturnType<WriteOps[K]>> =>
      (ops[op] as (...a: Parameters<WriteOps[K]>) => ReturnType<WriteOps[K]>)(...args);
  return {
    results: call('results'),
    touch: call('touch'),
    alertCommit: call('alertCommit'),
    alertsDelivered: call('alertsDelivered'),
    alertsFailed: call('alertsFailed'),
    forgetWebhooks: call('forgetWebhooks'),
    close: async () => {},
  };
}
