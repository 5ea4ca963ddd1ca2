/**
 * Which webhook must hear what after an evaluation. Per webhook and alert the store keeps the
 * last state the webhook was given (delivered or still queued); a notification is queued only
 * when that state changes: a firing alert the webhook has not heard fire with this startsAt,
 * or a resolution of one it heard (or was to hear) firing. An unchanged state, after a
 * re-evaluation or a restart, queues nothing. Pure.
 */
import type { AlertRecord } from './alert-evaluation.js';
import { webhookAlert } from './webhook-payload.js';
import type { NotificationStatus, WebhookAlert } from './webhook-payload.js';

/** The last state queued for one webhook and alert. */
export interface NotificationState {
  webhook: string;
  fingerprint: string;
  status: NotificationStatus;
  /** startsAt of the alert as queued, ms. */
  startsAt: number;
  /** Grows at every new state of this (webhook, alert). */
  seq: number;
  alert: WebhookAlert;
}

/** A new state to queue, replacing whatever was queued or delivered for this (webhook, alert). */
export interface NotificationUpsert {
  webhook: string;
  fingerprint: string;
  alertname: string;
  status: NotificationStatus;
  startsAt: number;
  seq: number;
  alert: WebhookAlert;
}

/**
 * `firing`: the alerts firing after the evaluation; `resolved`: those it resolved (with their
 * latest annotations). A webhook told of a firing alert that is no longer firing, and not in
 * `resolved` either (it was dropped while the collector was stopped), hears a resolution too.
 */
export function planNotifications(
  webhooks: readonly string[],
  firing: readonly AlertRecord[],
  resolved: readonly AlertRecord[],
  states: readonly NotificationState[],
  now: number,
): NotificationUpsert[] {
  const known = new Map(states.map((state) => [`${state.webhook}\u0000${state.fingerprint}`, state]));
  const firingNow = new Set(firing.map((alert) => alert.fingerprint));
  const latest = new Map(resolved.map((alert) => [alert.fingerprint, alert]));
  const out: NotificationUpsert[] = [];
  for (const webhook of webhooks) {
    for (const alert of firing) {
      const startsAt = alert.firedAt ?? alert.activeAt;
      const state = known.get(`${webhook}\u0000${alert.fingerprint}`);
      if (state?.status === 'firing' && state.startsAt === startsAt) continue;
      out.push({
        webhook,
        fingerprint: alert.fingerprint,
        alertname: alert.labels['alertname'] ?? '',
        status: 'firing',
        startsAt,
        seq: (state?.seq ?? 0) + 1,
        alert: webhookAlert(alert),
      });
    }
  }
  for (const state of states) {
    if (state.status !== 'firing' || firingNow.has(state.fingerprint) || !webhooks.includes(state.webhook)) continue;
    const record = latest.get(state.fingerprint);
    const endsAt = new Date(now).toISOString();
    const alert: WebhookAlert = record === undefined ? { ...state.alert, endsAt } : { ...webhookAlert(record, now), startsAt: state.alert.startsAt };
    out.push({
      webhook: state.webhook,
      fingerprint: state.fingerprint,
      alertname: alert.labels['alertname'] ?? '',
      status: 'resolved',
      startsAt: state.startsAt,
      seq: state.seq + 1,
      alert,
    });
  }
  return out;
}
