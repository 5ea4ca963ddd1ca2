/**
 * The alerts' state shared by several collectors on one PostgreSQL database (tables `alerts`,
 * `alert_notifications` and `alert_evaluations`, migration 4 of postgres-migrations.ts), for
 * the collector that holds the lease: whichever collector holds it next continues from the same
 * pending and firing alerts and the same per-route outbox. The alerts read synchronously
 * (AlertReads): this keeps a copy of the tables in memory, loaded by `refresh()` (when this
 * collector takes the lease, and at each maintenance pass on the others, for their
 * `/api/v1/alerts`) and after each write. Every write is fenced (checkFence): it goes through
 * only while this collector holds the lease, else rejects with `SW_LEASE_LOST` and nothing is
 * written.
 *
 * Delivery is at least once across a change of holder: a notification that the old holder sent
 * but could not mark delivered before it died is sent again by the next one, as after a
 * restart of a single collector.
 */
import type { LeaseFence } from '../cluster/lease.js';
import { StoreError } from '../store/store-error.js';
import type { AlertChanges, AlertRecord } from './alert-evaluation.js';
import type { AlertReads, AlertWrites, DueNotification, NotificationDelivery, NotificationKey, RouteBacklog } from './alert-store.js';
import type { NotificationPayload } from './digest.js';
import type { NotificationState, NotificationUpsert } from './notification-plan.js';
import type { NotificationStatus } from './webhook-payload.js';

/** An `alerts` row. */
export interface StoredAlertRow {
  fingerprint: string;
  alertname: string;
  /** JSON object. */
  labels: string;
  /** JSON object. */
  annotations: string;
  state: 'pending' | 'firing';
  value: number | null;
  activeAt: number;
  firedAt: number | null;
  confirmRequestedAt: number | null;
}

/** An `alert_notifications` row. */
export interface StoredNotificationRow {
  route: string;
  fingerprint: string;
  alertname: string;
  status: NotificationStatus;
  startsAt: number;
  /** JSON of the NotificationPayload. */
  alert: string;
  seq: number;
  deliveredAt: number | null;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
}

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

export class SharedAlertStore implements AlertReads, AlertWrites {
  readonly #tables: AlertTables;
  readonly #fence: () => LeaseFence | undefined;
  #alerts: StoredAlertRow[] = [];
  #notifications: StoredNotificationRow[] = [];
  #evaluatedAt: number | undefined;

  /** `fence`: this collector's lease while it holds it (undefined otherwise: writes are refused). */
  constructor(tables: AlertTables, fence: () => LeaseFence | undefined) {
    this.#tables = tables;
    this.#fence = fence;
  }

  /** Loads the tables into memory; rejects with the StoreError when they cannot be read. */
  async refresh(): Promise<void> {
    const loaded = await this.#tables.load();
    this.#alerts = loaded.alerts;
    this.#notifications = loaded.notifications;
    this.#evaluatedAt = loaded.evaluatedAt;
  }

  /** When the alerts were last evaluated (by whichever collector held the lease), as of the last refresh. */
  evaluatedAt(): number | undefined {
    return this.#evaluatedAt;
  }

  // AlertReads: as AlertStore's on SQLite (alert-store.ts), from the copy in memory.

  loadAlerts(): AlertRecord[] {
    return this.#alerts.map((row) => {
      const alert: AlertRecord = {
        fingerprint: row.fingerprint,
        labels: JSON.parse(row.labels) as Record<string, string>,
        annotations: JSON.parse(row.annotations) as Record<string, string>,
        state: row.state,
        value: row.value ?? Number.NaN,
        activeAt: row.activeAt,
      };
      if (row.firedAt !== null) alert.firedAt = row.firedAt;
      if (row.confirmRequestedAt !== null) alert.confirmRequestedAt = row.confirmRequestedAt;
      return alert;
    });
  }

  notificationStates(): NotificationState[] {
    return this.#notifications.map((row) => ({
      route: row.route,
      fingerprint: row.fingerprint,
      status: row.status,
      startsAt: row.startsAt,
      seq: row.seq,
      get alert() {
        return JSON.parse(row.alert) as NotificationPayload;
      },
    }));
  }

  due(now: number): DueNotification[] {
    return this.#notifications
      .filter((row) => row.deliveredAt === null && row.nextAttemptAt <= now)
      .sort((a, b) => byString(a.route, b.route) || byString(a.alertname, b.alertname) || byString(a.fingerprint, b.fingerprint))
      .map((row) => ({
        route: row.route,
        fingerprint: row.fingerprint,
        alertname: row.alertname,
        status: row.status,
        seq: row.seq,
        attempts: row.attempts,
        alert: JSON.parse(row.alert) as NotificationPayload,
      }));
  }

  backlog(): Map<string, RouteBacklog> {
    const out = new Map<string, RouteBacklog & { lastAt: number }>();
    for (const row of this.#notifications) {
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
    return [...this.#notifications]
      .sort((a, b) => byString(a.fingerprint, b.fingerprint) || byString(a.route, b.route))
      .map((row) => ({
        route: row.route,
        fingerprint: row.fingerprint,
        alertname: row.alertname,
        status: row.status,
        attempts: row.attempts,
        nextAttemptAt: row.nextAttemptAt,
        ...(row.deliveredAt === null ? {} : { deliveredAt: row.deliveredAt }),
        ...(row.lastError === null ? {} : { lastError: row.lastError }),
      }));
  }

  // AlertWrites: each one fenced, then the copy reloaded from what was committed.

  async alertCommit(changes: AlertChanges, upserts: readonly NotificationUpsert[], now: number): Promise<void> {
    await this.#tables.commit(this.#fenceOrThrow(), changes, upserts, now);
    await this.refresh();
  }

  async alertsDelivered(keys: readonly NotificationKey[], now: number, attempts: number): Promise<void> {
    if (keys.length === 0) return;
    await this.#tables.delivered(this.#fenceOrThrow(), keys, now, attempts);
    await this.refresh();
  }

  async alertsFailed(keys: readonly NotificationKey[], failure: { attempts: number; nextAttemptAt: number; error: string }): Promise<void> {
    if (keys.length === 0) return;
    await this.#tables.failed(this.#fenceOrThrow(), keys, failure);
    await this.refresh();
  }

  async forgetRoutes(keep: readonly string[]): Promise<number> {
    const dropped = await this.#tables.forgetRoutes(this.#fenceOrThrow(), keep);
    await this.refresh();
    return dropped;
  }

  #fenceOrThrow(): LeaseFence {
    const fence = this.#fence();
    if (fence === undefined) throw new StoreError('SW_LEASE_LOST', 'this collector does not hold the lease: another collector evaluates and delivers the alerts; nothing was written');
    return fence;
  }
}
