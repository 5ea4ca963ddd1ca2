/**
 * The alerts' state shared by several collectors on one PostgreSQL database (tables `alerts`,
 * `alert_notifications` and `alert_evaluations`, migration 4 of postgres-migrations.ts), for
 * the collector that holds the lease: whichever collector holds it next continues from the same
 * pending and firing alerts and the same per-route outbox. The alerts read synchronously
 * (AlertReads): this keeps a copy of the tables in memory, loaded by `refresh()` (when this
 * collector takes the lease, and at each maintenance pass on the others, for their
 * `/api/v1/alerts`). Every write is fenced (checkFence): it goes through
 * only while this collector holds the lease, else rejects with `SW_LEASE_LOST` and nothing is
 * written; once committed it is applied to the copy as the statements applied it to the tables
 * (a reload of thousands of alerts after each write would cost more than the write).
 *
 * Delivery is at least once across a change of holder: a notification that the old holder sent
 * but could not mark delivered before it died is sent again by the next one, as after a
 * restart of a single collector.
 */
import type { LeaseFence } from '../cluster/lease.js';
import { StoreError } from '../store/store-error.js';
import type { AlertChanges, AlertRecord } from './alert-evaluation.js';
import { alertRecordOf, dueNotificationOf, notificationDeliveryOf, notificationStateOf, storedAlertRowOf, storedNotificationRowOf } from './alert-rows.js';
import type { StoredAlertRow, StoredNotificationRow } from './alert-rows.js';
import type { AlertReads, AlertWrites, DueNotification, NotificationDelivery, NotificationKey, RouteBacklog } from './alert-store.js';
import type { NotificationState, NotificationUpsert } from './notification-plan.js';

/** The alerts' tables in a shared database; each write checks `fence` in its transaction. */
export interface AlertTables {
  load(): Promise<{ alerts: StoredAlertRow[]; notifications: StoredNotificationRow[]; evaluatedAt: number | undefined }>;
  /** An evaluation's changes and the notifications it queues, and when it ran, one transaction. */
  commit(fence: LeaseFence, changes: AlertChanges, upserts: readonly NotificationUpsert[], now: number): Promise<void>;
  delivered(fence: LeaseFence, keys: readonly NotificationKey[], now: number, attempts: number): Promise<void>;
  failed(fence: LeaseFence, keys: readonly NotificationKey[], failure: { attempts: number; nextAttemptAt: number; error: string }): Promise<void>;
  /** Drops what is queued for routes not in `keep`; resolves with the rows dropped. */
  forgetRoutes(fence: LeaseFence, keep: readonly string[]): Promise<number>;
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A notification's key: its route and alert. */
const keyOf = (n: { route: string; fingerprint: string }): string => `${n.route}\u0000${n.fingerprint}`;

export class SharedAlertStore implements AlertReads, AlertWrites {
  readonly #tables: AlertTables;
  readonly #fence: () => LeaseFence | undefined;
  /** By fingerprint. */
  #alerts = new Map<string, StoredAlertRow>();
  /** By `route\0fingerprint`. */
  #notifications = new Map<string, StoredNotificationRow>();
  #evaluatedAt: number | undefined;

  /** `fence`: this collector's lease while it holds it (undefined otherwise: writes are refused). */
  constructor(tables: AlertTables, fence: () => LeaseFence | undefined) {
    this.#tables = tables;
    this.#fence = fence;
  }

  /** Loads the tables into memory; rejects with the StoreError when they cannot be read. */
  async refresh(): Promise<void> {
    const loaded = await this.#tables.load();
    this.#alerts = new Map(loaded.alerts.map((row) => [row.fingerprint, row]));
    this.#notifications = new Map(loaded.notifications.map((row) => [keyOf(row), row]));
    this.#evaluatedAt = loaded.evaluatedAt;
  }

  /** When the alerts were last evaluated (by whichever collector held the lease), as of the last refresh. */
  evaluatedAt(): number | undefined {
    return this.#evaluatedAt;
  }

  // AlertReads: as AlertStore's on SQLite (alert-store.ts), from the copy in memory.

  loadAlerts(): AlertRecord[] {
    return [...this.#alerts.values()].sort((a, b) => byString(a.fingerprint, b.fingerprint)).map(alertRecordOf);
  }

  notificationStates(): NotificationState[] {
    return [...this.#notifications.values()].map(notificationStateOf);
  }

  due(now: number): DueNotification[] {
    return [...this.#notifications.values()]
      .filter((row) => row.deliveredAt === null && row.nextAttemptAt <= now)
      .sort((a, b) => byString(a.route, b.route) || byString(a.alertname, b.alertname) || byString(a.fingerprint, b.fingerprint))
      .map(dueNotificationOf);
  }

  backlog(): Map<string, RouteBacklog> {
    const out = new Map<string, RouteBacklog & { lastAt: number }>();
    for (const row of this.#notifications.values()) {
      if (row.deliveredAt !== null) continue;
      const seen = out.get(row.route) ?? { undelivered: 0, lastAt: Number.NEGATIVE_INFINITY };
      seen.undelivered++;
      if (row.lastError !== null && row.nextAttemptAt > seen.lastAt) {
        seen.lastAt = row.nextAttemptAt;
        seen.lastError = row.lastError;
      }
      out.set(row.route, seen);
    }
    return new Map([...out].map(([route, { undelivered, lastError }]) => [route, lastError === undefined ? { undelivered } : { undelivered, lastError }]));
  }

  deliveries(): NotificationDelivery[] {
    return [...this.#notifications.values()]
      .sort((a, b) => byString(a.fingerprint, b.fingerprint) || byString(a.route, b.route))
      .map(notificationDeliveryOf);
  }

  // AlertWrites: each one fenced, then applied to the copy as PgAlerts' statements applied it.

  async alertCommit(changes: AlertChanges, upserts: readonly NotificationUpsert[], now: number): Promise<void> {
    await this.#tables.commit(this.#fenceOrThrow(), changes, upserts, now);
    for (const alert of changes.removed) this.#alerts.delete(alert.fingerprint);
    for (const alert of changes.changed) {
      const row = storedAlertRowOf(alert);
      // An update leaves the name as it was: the same labels name the same alert.
      this.#alerts.set(alert.fingerprint, { ...row, alertname: this.#alerts.get(alert.fingerprint)?.alertname ?? row.alertname });
    }
    for (const u of upserts) this.#notifications.set(keyOf(u), storedNotificationRowOf(u, now));
    this.#evaluatedAt = now;
  }

  async alertsDelivered(keys: readonly NotificationKey[], now: number, attempts: number): Promise<void> {
    if (keys.length === 0) return;
    await this.#tables.delivered(this.#fenceOrThrow(), keys, now, attempts);
    for (const key of keys) {
      const row = this.#notifications.get(keyOf(key));
      if (row === undefined || row.seq !== key.seq) continue;
      // A delivered resolution is final: its row goes.
      if (row.status === 'resolved') this.#notifications.delete(keyOf(key));
      else this.#notifications.set(keyOf(key), { ...row, deliveredAt: now, attempts: row.attempts + attempts, lastError: null });
    }
  }

  async alertsFailed(keys: readonly NotificationKey[], failure: { attempts: number; nextAttemptAt: number; error: string }): Promise<void> {
    if (keys.length === 0) return;
    await this.#tables.failed(this.#fenceOrThrow(), keys, failure);
    for (const key of keys) {
      const row = this.#notifications.get(keyOf(key));
      if (row === undefined || row.seq !== key.seq || row.deliveredAt !== null) continue;
      this.#notifications.set(keyOf(key), { ...row, attempts: failure.attempts, nextAttemptAt: failure.nextAttemptAt, lastError: failure.error });
    }
  }

  async forgetRoutes(keep: readonly string[]): Promise<number> {
    const dropped = await this.#tables.forgetRoutes(this.#fenceOrThrow(), keep);
    const kept = new Set(keep);
    for (const [key, row] of this.#notifications) if (!kept.has(row.route)) this.#notifications.delete(key);
    return dropped;
  }

  #fenceOrThrow(): LeaseFence {
    const fence = this.#fence();
    if (fence === undefined) throw new StoreError('SW_LEASE_LOST', 'this collector does not hold the lease: another collector evaluates and delivers the alerts; nothing was written');
    return fence;
  }
}
