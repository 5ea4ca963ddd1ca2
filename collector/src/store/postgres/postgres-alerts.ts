/**
 * The alerts' tables on PostgreSQL (migration 4), with SQLite's semantics (alerts/alert-store.ts)
 * statement for statement; every write is one transaction that first checks the lease
 * (checkFence). Read and kept in memory by alerts/shared-alert-store.ts.
 */
import type { LeaseFence } from '../../cluster/lease.js';
import type { AlertChanges } from '../../alerts/alert-evaluation.js';
import type { NotificationKey } from '../../alerts/alert-store.js';
import type { NotificationUpsert } from '../../alerts/notification-plan.js';
import type { AlertTables, StoredAlertRow, StoredNotificationRow } from '../../alerts/shared-alert-store.js';
import type { PgDb } from './postgres-db.js';
import { checkFence } from './postgres-leases.js';

export class PgAlerts implements AlertTables {
  readonly #db: PgDb;

  constructor(db: PgDb) {
    this.#db = db;
  }

  async load(): Promise<{ alerts: StoredAlertRow[]; notifications: StoredNotificationRow[]; evaluatedAt: number | undefined }> {
    return this.#db.reading('read the alerts', async (client) => {
      const alerts = await client.query<StoredAlertRow>(
        `SELECT fingerprint, alertname, labels, annotations, state, value, active_at AS "activeAt", fired_at AS "firedAt", confirm_requested_at AS "confirmRequestedAt"
         FROM alerts ORDER BY fingerprint`,
      );
      const notifications = await client.query<StoredNotificationRow>(
        `SELECT route, fingerprint, alertname, status, starts_at AS "startsAt", alert, seq, delivered_at AS "deliveredAt", attempts,
           next_attempt_at AS "nextAttemptAt", last_error AS "lastError"
         FROM alert_notifications`,
      );
      const evaluated = await client.query<{ evaluated_at: number }>('SELECT evaluated_at FROM alert_evaluations WHERE id = 1');
      return { alerts: alerts.rows, notifications: notifications.rows, evaluatedAt: evaluated.rows[0]?.evaluated_at };
    });
  }

  async commit(fence: LeaseFence, changes: AlertChanges, upserts: readonly NotificationUpsert[], now: number): Promise<void> {
    await this.#db.writing('store alerts', async (client) => {
      await checkFence(client, fence);
      if (changes.removed.length > 0) await client.query('DELETE FROM alerts WHERE fingerprint = ANY($1::text[])', [changes.removed.map((a) => a.fingerprint)]);
      for (const alert of changes.changed) {
        await client.query(
          `INSERT INTO alerts (fingerprint, alertname, labels, annotations, state, value, active_at, fired_at, confirm_requested_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (fingerprint) DO UPDATE SET labels = excluded.labels, annotations = excluded.annotations, state = excluded.state,
             value = excluded.value, active_at = excluded.active_at, fired_at = excluded.fired_at,
             confirm_requested_at = excluded.confirm_requested_at, updated_at = excluded.updated_at`,
          [
            alert.fingerprint,
            alert.labels['alertname'] ?? '',
            JSON.stringify(alert.labels),
            JSON.stringify(alert.annotations),
            alert.state,
            Number.isFinite(alert.value) ? alert.value : null,
            alert.activeAt,
            alert.firedAt ?? null,
            alert.confirmRequestedAt ?? null,
            now,
          ],
        );
      }
      for (const u of upserts) {
        await client.query(
          `INSERT INTO alert_notifications (route, fingerprint, alertname, status, starts_at, alert, seq, delivered_at, attempts, next_attempt_at, last_error)
           VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 0, $8, NULL)
           ON CONFLICT (route, fingerprint) DO UPDATE SET alertname = excluded.alertname, status = excluded.status,
             starts_at = excluded.starts_at, alert = excluded.alert, seq = excluded.seq, delivered_at = NULL, attempts = 0,
             next_attempt_at = excluded.next_attempt_at, last_error = NULL`,
          [u.route, u.fingerprint, u.alertname, u.status, u.startsAt, JSON.stringify(u.alert), u.seq, now],
        );
      }
      await client.query(
        'INSERT INTO alert_evaluations (id, evaluated_at, holder) VALUES (1, $1, $2) ON CONFLICT (id) DO UPDATE SET evaluated_at = excluded.evaluated_at, holder = excluded.holder',
        [now, fence.holder],
      );
    });
  }

  async delivered(fence: LeaseFence, keys: readonly NotificationKey[], now: number, attempts: number): Promise<void> {
    await this.#db.writing('mark alert notifications delivered', async (client) => {
      await checkFence(client, fence);
      for (const key of keys) {
        // A delivered resolution is final: nothing about that alert is left to say.
        await client.query("DELETE FROM alert_notifications WHERE route = $1 AND fingerprint = $2 AND seq = $3 AND status = 'resolved'", [key.route, key.fingerprint, key.seq]);
        await client.query(
          'UPDATE alert_notifications SET delivered_at = $1, attempts = attempts + $2, last_error = NULL WHERE route = $3 AND fingerprint = $4 AND seq = $5',
          [now, attempts, key.route, key.fingerprint, key.seq],
        );
      }
    });
  }

  async failed(fence: LeaseFence, keys: readonly NotificationKey[], failure: { attempts: number; nextAttemptAt: number; error: string }): Promise<void> {
    await this.#db.writing('record failed alert notifications', async (client) => {
      await checkFence(client, fence);
      for (const key of keys) {
        await client.query(
          `UPDATE alert_notifications SET attempts = $1, next_attempt_at = $2, last_error = $3
           WHERE route = $4 AND fingerprint = $5 AND seq = $6 AND delivered_at IS NULL`,
          [failure.attempts, failure.nextAttemptAt, failure.error, key.route, key.fingerprint, key.seq],
        );
      }
    });
  }

  async forgetRoutes(fence: LeaseFence, keep: readonly string[]): Promise<number> {
    return this.#db.writing('drop notifications of removed routes', async (client) => {
      await checkFence(client, fence);
      const { rowCount } = await client.query('DELETE FROM alert_notifications WHERE NOT (route = ANY($1::text[]))', [keep]);
      return rowCount ?? 0;
    });
  }
}
