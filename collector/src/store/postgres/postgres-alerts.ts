/**
 * The alerts' tables on PostgreSQL (migration 4), with SQLite's semantics (alerts/alert-store.ts),
 * each of its per-row statements taking all the rows at once; every write is one transaction
 * that first checks the lease (checkFence). Read and kept in memory by
 * alerts/shared-alert-store.ts.
 */
import type { LeaseFence } from '../../cluster/lease.js';
import type { AlertChanges } from '../../alerts/alert-evaluation.js';
import type { NotificationKey } from '../../alerts/alert-store.js';
import type { NotificationUpsert } from '../../alerts/notification-plan.js';
import type { StoredAlertRow, StoredNotificationRow } from '../../alerts/alert-rows.js';
import type { AlertTables } from '../../alerts/shared-alert-store.js';
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
    // Each statement takes all its rows at once (a mass outage changes thousands of alerts); the
    // last of two rows for one key wins, as SQLite's statements one after the other leave it.
    const changed = [...new Map(changes.changed.map((a) => [a.fingerprint, a])).values()];
    const queued = [...new Map(upserts.map((u) => [`${u.route}\u0000${u.fingerprint}`, u])).values()];
    await this.#db.writing('store alerts', async (client) => {
      await checkFence(client, fence);
      if (changes.removed.length > 0) await client.query('DELETE FROM alerts WHERE fingerprint = ANY($1::text[])', [changes.removed.map((a) => a.fingerprint)]);
      if (changed.length > 0) {
        await client.query(
          `INSERT INTO alerts (fingerprint, alertname, labels, annotations, state, value, active_at, fired_at, confirm_requested_at, updated_at)
           SELECT t.*, $10::int8 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::int8[], $8::int8[], $9::int8[]) AS t
           ON CONFLICT (fingerprint) DO UPDATE SET labels = excluded.labels, annotations = excluded.annotations, state = excluded.state,
             value = excluded.value, active_at = excluded.active_at, fired_at = excluded.fired_at,
             confirm_requested_at = excluded.confirm_requested_at, updated_at = excluded.updated_at`,
          [
            changed.map((a) => a.fingerprint),
            changed.map((a) => a.labels['alertname'] ?? ''),
            changed.map((a) => JSON.stringify(a.labels)),
            changed.map((a) => JSON.stringify(a.annotations)),
            changed.map((a) => a.state),
            changed.map((a) => (Number.isFinite(a.value) ? a.value : null)),
            changed.map((a) => a.activeAt),
            changed.map((a) => a.firedAt ?? null),
            changed.map((a) => a.confirmRequestedAt ?? null),
            now,
          ],
        );
      }
      if (queued.length > 0) {
        await client.query(
          `INSERT INTO alert_notifications (route, fingerprint, alertname, status, starts_at, alert, seq, delivered_at, attempts, next_attempt_at, last_error)
           SELECT t.route, t.fingerprint, t.alertname, t.status, t.starts_at, t.alert, t.seq, NULL, 0, $8::int8, NULL
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::int8[]) AS t (route, fingerprint, alertname, status, starts_at, alert, seq)
           ON CONFLICT (route, fingerprint) DO UPDATE SET alertname = excluded.alertname, status = excluded.status,
             starts_at = excluded.starts_at, alert = excluded.alert, seq = excluded.seq, delivered_at = NULL, attempts = 0,
             next_attempt_at = excluded.next_attempt_at, last_error = NULL`,
          [
            queued.map((u) => u.route),
            queued.map((u) => u.fingerprint),
            queued.map((u) => u.alertname),
            queued.map((u) => u.status),
            queued.map((u) => u.startsAt),
            queued.map((u) => JSON.stringify(u.alert)),
            queued.map((u) => u.seq),
            now,
          ],
        );
      }
      await client.query(
        'INSERT INTO alert_evaluations (id, evaluated_at, holder) VALUES (1, $1, $2) ON CONFLICT (id) DO UPDATE SET evaluated_at = excluded.evaluated_at, holder = excluded.holder',
        [now, fence.holder],
      );
    });
  }

  async delivered(fence: LeaseFence, keys: readonly NotificationKey[], now: number, attempts: number): Promise<void> {
    const [routes, fingerprints, seqs] = keyColumns(keys);
    await this.#db.writing('mark alert notifications delivered', async (client) => {
      await checkFence(client, fence);
      // A delivered resolution is final: nothing about that alert is left to say.
      await client.query(
        `DELETE FROM alert_notifications n USING unnest($1::text[], $2::text[], $3::int8[]) AS k (route, fingerprint, seq)
         WHERE n.route = k.route AND n.fingerprint = k.fingerprint AND n.seq = k.seq AND n.status = 'resolved'`,
        [routes, fingerprints, seqs],
      );
      await client.query(
        `UPDATE alert_notifications n SET delivered_at = $4, attempts = n.attempts + $5, last_error = NULL
         FROM unnest($1::text[], $2::text[], $3::int8[]) AS k (route, fingerprint, seq)
         WHERE n.route = k.route AND n.fingerprint = k.fingerprint AND n.seq = k.seq`,
        [routes, fingerprints, seqs, now, attempts],
      );
    });
  }

  async failed(fence: LeaseFence, keys: readonly NotificationKey[], failure: { attempts: number; nextAttemptAt: number; error: string }): Promise<void> {
    const [routes, fingerprints, seqs] = keyColumns(keys);
    await this.#db.writing('record failed alert notifications', async (client) => {
      await checkFence(client, fence);
      await client.query(
        `UPDATE alert_notifications n SET attempts = $4, next_attempt_at = $5, last_error = $6
         FROM unnest($1::text[], $2::text[], $3::int8[]) AS k (route, fingerprint, seq)
         WHERE n.route = k.route AND n.fingerprint = k.fingerprint AND n.seq = k.seq AND n.delivered_at IS NULL`,
        [routes, fingerprints, seqs, failure.attempts, failure.nextAttemptAt, failure.error],
      );
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

/** Notification keys as three parallel columns, for unnest. */
function keyColumns(keys: readonly NotificationKey[]): [string[], string[], number[]] {
  return [keys.map((k) => k.route), keys.map((k) => k.fingerprint), keys.map((k) => k.seq)];
}
