/**
 * The alerts' state in the collector's SQLite file (tables `alerts` and
 * `alert_notifications`, created by migration 2 in store/migrations.ts, routed by migration 9),
 * on a connection of its own: the pending and firing alerts, so a restart keeps `for` progress
 * (and a confirmation asked for) and does not fire twice; and per route the last state queued
 * and whether it was delivered, which is both the outbox that survives a restart and the record
 * that keeps an unchanged state from being sent again.
 *
 * Open it after `openStore` has migrated the file. Every method is synchronous; a failure is a
 * StoreError (`SW_STORE_OPEN`, `SW_STORE_READ`, `SW_STORE_WRITE`) with the SQLite error as cause.
 * The running collector reads through its serving thread's connection (`AlertReads`) and writes
 * through the store writer thread (`AlertWrites`), so that no write waits on the event loop.
 */
import Database from 'better-sqlite3';
import { StoreError, reasonOf, storeRead, storeWrite } from '../store/store-error.js';
import type { AlertChanges, AlertRecord } from './alert-evaluation.js';
import { alertRecordOf, dueNotificationOf, notificationDeliveryOf, notificationStateOf, storedAlertRowOf, storedNotificationRowOf } from './alert-rows.js';
import type { StoredAlertRow, StoredNotificationRow } from './alert-rows.js';
import type { NotificationPayload } from './digest.js';
import type { NotificationState, NotificationUpsert } from './notification-plan.js';
import type { NotificationStatus } from './webhook-payload.js';

/** How long a statement waits for another connection's lock (the results writer) before failing. */
const BUSY_TIMEOUT_MS = 5_000;

/** A notification due for delivery. */
export interface DueNotification {
  /** The route's key (routeKey, or webhookKey for an entry of `alerts.webhooks`). */
  route: string;
  fingerprint: string;
  alertname: string;
  status: NotificationStatus;
  seq: number;
  /** Attempts already made for this state, in earlier rounds. */
  attempts: number;
  alert: NotificationPayload;
}

/** Identifies one queued state: a newer state of the same (route, alert) has a higher seq. */
export type NotificationKey = Pick<DueNotification, 'route' | 'fingerprint' | 'seq'>;

/** What became of one (route, alert) notification: its latest state queued and its delivery. */
export interface NotificationDelivery {
  route: string;
  fingerprint: string;
  alertname: string;
  /** The state the route is to hear. */
  status: NotificationStatus;
  /** Attempts made for this state (the delivering one included, once delivered). */
  attempts: number;
  /** ms; absent while undelivered. */
  deliveredAt?: number;
  /** ms; when an undelivered one is tried again. */
  nextAttemptAt: number;
  /** The latest failure, e.g. `SW_WEBHOOK_STATUS: POST https://hooks.example.org/…: HTTP 500`; absent once delivered. */
  lastError?: string;
}

export interface RouteBacklog {
  /** Notifications not delivered yet. */
  undelivered: number;
  /** The latest delivery failure among them, e.g. `SW_WEBHOOK_STATUS: HTTP 500 …`. */
  lastError?: string;
}

type Db = Database.Database;

/** What the alerts read: synchronous, cheap reads of their own tables. */
export type AlertReads = Pick<AlertStore, 'loadAlerts' | 'notificationStates' | 'due' | 'backlog' | 'deliveries'>;

/** What the alerts write, asynchronously (the collector runs them on the store writer thread). */
export interface AlertWrites {
  alertCommit(changes: AlertChanges, upserts: readonly NotificationUpsert[], now: number): Promise<void>;
  /** `attempts`: the POSTs of the round that delivered them, the delivering one included. */
  alertsDelivered(keys: readonly NotificationKey[], now: number, attempts: number): Promise<void>;
  alertsFailed(keys: readonly NotificationKey[], failure: { attempts: number; nextAttemptAt: number; error: string }): Promise<void>;
  /** Drops what is queued for routes (keys) not in `keep`; resolves with the rows dropped. */
  forgetRoutes(keep: readonly string[]): Promise<number>;
}

/** The writes of `store`, run on the calling thread: for tests and embedding. */
export function alertWritesOn(store: AlertStore): AlertWrites {
  return {
    alertCommit: async (changes, upserts, now) => store.commit(changes, upserts, now),
    alertsDelivered: async (keys, now, attempts) => store.markDelivered(keys, now, attempts),
    alertsFailed: async (keys, failure) => store.markFailed(keys, failure),
    forgetRoutes: async (keep) => store.forgetRoutes(keep),
  };
}

/** Opens a connection to the collector's database at `path`, already migrated by `openStore`. */
export function openAlertStore(path: string): AlertStore {
  let db: Db;
  try {
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS, fileMustExist: true });
  } catch (cause) {
    throw new StoreError('SW_STORE_OPEN', `cannot open database ${path} for alerts: ${reasonOf(cause)}`, { cause });
  }
  try {
    // Notifications marked delivered must stay delivered after a power cut, or they are sent twice.
    db.pragma('synchronous = FULL');
    const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('alerts', 'alert_notifications')").all();
    if (tables.length !== 2) {
      throw new StoreError('SW_STORE_OPEN', `database ${path} has no alert tables: open it with openStore first, which migrates it`);
    }
    return new AlertStore(db, path);
  } catch (cause) {
    db.close();
    if (cause instanceof StoreError) throw cause;
    throw new StoreError('SW_STORE_OPEN', `cannot open database ${path} for alerts: ${reasonOf(cause)}`, { cause });
  }
}

type Statements = ReturnType<typeof prepareStatements>;

export class AlertStore {
  readonly #db: Db;
  readonly #path: string;
  readonly #s: Statements;
  readonly #commitTx: Database.Transaction<(evaluation: AlertChanges, upserts: readonly NotificationUpsert[], now: number) => void>;
  readonly #deliveredTx: Database.Transaction<(keys: readonly NotificationKey[], now: number, attempts: number) => void>;
  readonly #failedTx: Database.Transaction<(keys: readonly NotificationKey[], failure: { attempts: number; nextAttemptAt: number; error: string }) => void>;

  /** Use `openAlertStore`. */
  constructor(db: Db, path: string) {
    this.#db = db;
    this.#path = path;
    this.#s = prepareStatements(db);
    this.#commitTx = db.transaction((evaluation, upserts, now) => {
      for (const alert of evaluation.removed) this.#s.deleteAlert.run(alert.fingerprint);
      for (const alert of evaluation.changed) this.#s.upsertAlert.run({ ...storedAlertRowOf(alert), updatedAt: now });
      for (const u of upserts) this.#s.upsertNotification.run(storedNotificationRowOf(u, now));
    });
    this.#deliveredTx = db.transaction((keys, now, attempts) => {
      for (const key of keys) {
        // A delivered resolution is final: nothing about that alert is left to say.
        this.#s.deleteResolved.run(key.route, key.fingerprint, key.seq);
        this.#s.markDelivered.run(now, attempts, key.route, key.fingerprint, key.seq);
      }
    });
    this.#failedTx = db.transaction((keys, failure) => {
      for (const key of keys) this.#s.markFailed.run(failure.attempts, failure.nextAttemptAt, failure.error, key.route, key.fingerprint, key.seq);
    });
  }

  /** Pending and firing alerts as last written. */
  loadAlerts(): AlertRecord[] {
    return this.#read('read alerts', () => this.#s.alerts.all()).map(alertRecordOf);
  }

  /** The last state queued for every (route, alert), delivered or not. */
  notificationStates(): NotificationState[] {
    return this.#read('read alert notifications', () => this.#s.notifications.all()).map(notificationStateOf);
  }

  /** Writes an evaluation's changes and the notifications it queues, in one transaction. */
  commit(evaluation: AlertChanges, upserts: readonly NotificationUpsert[], now: number): void {
    if (evaluation.removed.length === 0 && evaluation.changed.length === 0 && upserts.length === 0) return;
    this.#write('store alerts', () => this.#commitTx.immediate(evaluation, upserts, now));
  }

  /** Undelivered notifications whose next attempt is due at `now`, by route, alert name and fingerprint. */
  due(now: number): DueNotification[] {
    return this.#read('read due alert notifications', () => this.#s.due.all(now)).map(dueNotificationOf);
  }

  /**
   * Marks these states delivered (a resolution is removed) after `attempts` POSTs in the
   * delivering round, added to those of earlier rounds; a state replaced since (higher seq) is left alone.
   */
  markDelivered(keys: readonly NotificationKey[], now: number, attempts = 1): void {
    this.#write('mark alert notifications delivered', () => this.#deliveredTx.immediate(keys, now, attempts));
  }

  /** Records a failed round: `attempts` is the new total, `nextAttemptAt` when to try again (ms). */
  markFailed(keys: readonly NotificationKey[], failure: { attempts: number; nextAttemptAt: number; error: string }): void {
    this.#write('record failed alert notifications', () => this.#failedTx.immediate(keys, failure));
  }

  /** Drops what is queued for routes (keys) no longer configured; returns the rows dropped. */
  forgetRoutes(keep: readonly string[]): number {
    return this.#write('drop notifications of removed routes', () => {
      const known = this.#s.routes.all().map((row) => row.route);
      let dropped = 0;
      for (const route of known) if (!keep.includes(route)) dropped += this.#s.forgetRoute.run(route).changes;
      return dropped;
    });
  }

  /** Per route with undelivered notifications: how many, and the latest failure. */
  backlog(): Map<string, RouteBacklog> {
    const out = new Map<string, RouteBacklog>();
    for (const row of this.#read('read the alert notification backlog', () => this.#s.backlog.all())) {
      out.set(row.route, row.last_error === null ? { undelivered: row.undelivered } : { undelivered: row.undelivered, lastError: row.last_error });
    }
    return out;
  }

  /** Every (route, alert) notification kept: undelivered ones, the delivered firing states and the latest digests. */
  deliveries(): NotificationDelivery[] {
    return this.#read('read alert notification deliveries', () => this.#s.deliveries.all()).map(notificationDeliveryOf);
  }

  /** Closes this connection; closing twice is harmless. */
  close(): void {
    if (this.#db.open) this.#db.close();
  }

  #write<T>(what: string, fn: () => T): T {
    return storeWrite(this.#path, what, fn);
  }

  #read<T>(what: string, fn: () => T): T {
    return storeRead(this.#path, what, fn);
  }
}

/** The columns of a row as alert-rows.ts names them (the same aliases as PostgreSQL's, postgres-alerts.ts). */
const ALERT_COLUMNS = 'fingerprint, labels, annotations, state, value, active_at AS "activeAt", fired_at AS "firedAt", confirm_requested_at AS "confirmRequestedAt"';

function prepareStatements(db: Db) {
  return {
    alerts: db.prepare<[], Omit<StoredAlertRow, 'alertname'>>(`SELECT ${ALERT_COLUMNS} FROM alerts ORDER BY fingerprint`),
    upsertAlert: db.prepare<[StoredAlertRow & { updatedAt: number }]>(
      `INSERT INTO alerts (fingerprint, alertname, labels, annotations, state, value, active_at, fired_at, confirm_requested_at, updated_at)
       VALUES (@fingerprint, @alertname, @labels, @annotations, @state, @value, @activeAt, @firedAt, @confirmRequestedAt, @updatedAt)
       ON CONFLICT (fingerprint) DO UPDATE SET labels = excluded.labels, annotations = excluded.annotations, state = excluded.state,
         value = excluded.value, active_at = excluded.active_at, fired_at = excluded.fired_at,
         confirm_requested_at = excluded.confirm_requested_at, updated_at = excluded.updated_at`,
    ),
    deleteAlert: db.prepare<[string]>('DELETE FROM alerts WHERE fingerprint = ?'),
    notifications: db.prepare<[], Pick<StoredNotificationRow, 'route' | 'fingerprint' | 'status' | 'startsAt' | 'seq' | 'alert'>>(
      'SELECT route, fingerprint, status, starts_at AS "startsAt", seq, alert FROM alert_notifications',
    ),
    upsertNotification: db.prepare<[StoredNotificationRow]>(
      `INSERT INTO alert_notifications (route, fingerprint, alertname, status, starts_at, alert, seq, delivered_at, attempts, next_attempt_at, last_error)
       VALUES (@route, @fingerprint, @alertname, @status, @startsAt, @alert, @seq, @deliveredAt, @attempts, @nextAttemptAt, @lastError)
       ON CONFLICT (route, fingerprint) DO UPDATE SET alertname = excluded.alertname, status = excluded.status,
         starts_at = excluded.starts_at, alert = excluded.alert, seq = excluded.seq, delivered_at = NULL, attempts = 0,
         next_attempt_at = excluded.next_attempt_at, last_error = NULL`,
    ),
    due: db.prepare<[number], Pick<StoredNotificationRow, 'route' | 'fingerprint' | 'alertname' | 'status' | 'seq' | 'attempts' | 'alert'>>(
      `SELECT route, fingerprint, alertname, status, seq, attempts, alert FROM alert_notifications
       WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY route, alertname, fingerprint`,
    ),
    deleteResolved: db.prepare<[string, string, number]>(
      "DELETE FROM alert_notifications WHERE route = ? AND fingerprint = ? AND seq = ? AND status = 'resolved'",
    ),
    markDelivered: db.prepare<[number, number, string, string, number]>(
      'UPDATE alert_notifications SET delivered_at = ?, attempts = attempts + ?, last_error = NULL WHERE route = ? AND fingerprint = ? AND seq = ?',
    ),
    deliveries: db.prepare<[], Pick<StoredNotificationRow, 'route' | 'fingerprint' | 'alertname' | 'status' | 'attempts' | 'deliveredAt' | 'nextAttemptAt' | 'lastError'>>(
      `SELECT route, fingerprint, alertname, status, attempts, delivered_at AS "deliveredAt", next_attempt_at AS "nextAttemptAt", last_error AS "lastError"
       FROM alert_notifications
       ORDER BY fingerprint, route`,
    ),
    markFailed: db.prepare<[number, number, string, string, string, number]>(
      `UPDATE alert_notifications SET attempts = ?, next_attempt_at = ?, last_error = ?
       WHERE route = ? AND fingerprint = ? AND seq = ? AND delivered_at IS NULL`,
    ),
    routes: db.prepare<[], { route: string }>('SELECT DISTINCT route FROM alert_notifications'),
    forgetRoute: db.prepare<[string]>('DELETE FROM alert_notifications WHERE route = ?'),
    backlog: db.prepare<[], { route: string; undelivered: number; last_error: string | null }>(
      `SELECT route, count(*) AS undelivered,
         (SELECT last_error FROM alert_notifications l WHERE l.route = n.route AND l.delivered_at IS NULL AND l.last_error IS NOT NULL
          ORDER BY l.next_attempt_at DESC LIMIT 1) AS last_error
       FROM alert_notifications n WHERE delivered_at IS NULL GROUP BY route`,
    ),
  };
}
