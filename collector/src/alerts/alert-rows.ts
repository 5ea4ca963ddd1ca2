/**
 * The alerts' rows as both stores read them (alert-store.ts on SQLite, shared-alert-store.ts on
 * PostgreSQL), and what they become. The tables' columns are snake_case; both stores' queries
 * alias them to these names, so that one mapper serves both.
 */
import type { AlertRecord } from './alert-evaluation.js';
import type { DueNotification, NotificationDelivery } from './alert-store.js';
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

/** The row of a pending or firing alert (a NaN value is stored as null); `alertname` is its label's. */
export function storedAlertRowOf(alert: AlertRecord): StoredAlertRow {
  return {
    fingerprint: alert.fingerprint,
    alertname: alert.labels['alertname'] ?? '',
    labels: JSON.stringify(alert.labels),
    annotations: JSON.stringify(alert.annotations),
    state: alert.state,
    value: Number.isFinite(alert.value) ? alert.value : null,
    activeAt: alert.activeAt,
    firedAt: alert.firedAt ?? null,
    confirmRequestedAt: alert.confirmRequestedAt ?? null,
  };
}

/** The row of a newly queued state: undelivered, no attempt made, due at `now` (ms). */
export function storedNotificationRowOf(u: NotificationUpsert, now: number): StoredNotificationRow {
  return {
    route: u.route,
    fingerprint: u.fingerprint,
    alertname: u.alertname,
    status: u.status,
    startsAt: u.startsAt,
    alert: JSON.stringify(u.alert),
    seq: u.seq,
    deliveredAt: null,
    attempts: 0,
    nextAttemptAt: now,
    lastError: null,
  };
}

/** A pending or firing alert from its row (a null value is NaN: no value yet). */
export function alertRecordOf(row: Omit<StoredAlertRow, 'alertname'>): AlertRecord {
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
}

/** The last state queued for a (route, alert), from its row. */
export function notificationStateOf(row: Pick<StoredNotificationRow, 'route' | 'fingerprint' | 'status' | 'startsAt' | 'seq' | 'alert'>): NotificationState {
  return {
    route: row.route,
    fingerprint: row.fingerprint,
    status: row.status,
    startsAt: row.startsAt,
    seq: row.seq,
    // Parsed only when needed (a resolution): most rows are firing alerts with nothing new to say.
    get alert() {
      return JSON.parse(row.alert) as NotificationPayload;
    },
  };
}

/** A notification due for delivery, from its row. */
export function dueNotificationOf(row: Pick<StoredNotificationRow, 'route' | 'fingerprint' | 'alertname' | 'status' | 'seq' | 'attempts' | 'alert'>): DueNotification {
  return {
    route: row.route,
    fingerprint: row.fingerprint,
    alertname: row.alertname,
    status: row.status,
    seq: row.seq,
    attempts: row.attempts,
    alert: JSON.parse(row.alert) as NotificationPayload,
  };
}

/** What became of a (route, alert) notification, from its row. */
export function notificationDeliveryOf(
  row: Pick<StoredNotificationRow, 'route' | 'fingerprint' | 'alertname' | 'status' | 'attempts' | 'deliveredAt' | 'nextAttemptAt' | 'lastError'>,
): NotificationDelivery {
  return {
    route: row.route,
    fingerprint: row.fingerprint,
    alertname: row.alertname,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt,
    ...(row.deliveredAt === null ? {} : { deliveredAt: row.deliveredAt }),
    ...(row.lastError === null ? {} : { lastError: row.lastError }),
  };
}
