/**
 * Which route must hear what after an evaluation. Per route and alert the store keeps the last
 * state the route was given (delivered or still queued); a notification is queued only when
 * that state changes: a firing alert the route takes and has not heard fire with this
 * startsAt, or a resolution of one it heard (or was to hear) firing. An unchanged state, after
 * a re-evaluation or a restart, queues nothing. A digest route instead gets one digest a day:
 * when the day's digest time has passed and its row holds an earlier one (a collector that was
 * stopped at that time catches up when it starts). A route with no digest yet gets its first at
 * the first digest time of a day it is evaluated on: at once if that time has passed today. Pure.
 */
import type { AlertRecord } from './alert-evaluation.js';
import { DIGEST, digestSlot, routeMatcher } from './alert-routes.js';
import type { LocalTime, RouteMatch } from './alert-routes.js';
import { buildDigest } from './digest.js';
import type { NotificationPayload } from './digest.js';
import { webhookAlert } from './webhook-payload.js';
import type { NotificationStatus, WebhookAlert } from './webhook-payload.js';

/** The last state queued for one route and alert (or the route's digest). */
export interface NotificationState {
  route: string;
  fingerprint: string;
  status: NotificationStatus;
  /** startsAt of the alert as queued (the digest's time for a digest), ms. */
  startsAt: number;
  /** Grows at every new state of this (route, alert). */
  seq: number;
  alert: NotificationPayload;
}

/** A new state to queue, replacing whatever was queued or delivered for this (route, alert). */
export interface NotificationUpsert {
  route: string;
  fingerprint: string;
  alertname: string;
  status: NotificationStatus;
  startsAt: number;
  seq: number;
  alert: NotificationPayload;
}

/** A route as the plan sees it: its outbox key, what it takes, and its digest time for a digest route. */
export interface PlanRoute {
  key: string;
  /** Absent: every alert (an entry of `alerts.webhooks`). */
  match?: Readonly<RouteMatch>;
  digestAt?: LocalTime;
}

/**
 * `firing`: the alerts firing after the evaluation; `resolved`: those it resolved (with their
 * latest annotations). A route told of a firing alert that is no longer firing, and not in
 * `resolved` either (it was dropped while the collector was stopped), hears a resolution too.
 * `timeZone` places the digests' times.
 */
export function planNotifications(
  routes: readonly PlanRoute[],
  firing: readonly AlertRecord[],
  resolved: readonly AlertRecord[],
  states: readonly NotificationState[],
  now: number,
  timeZone: string,
): NotificationUpsert[] {
  const known = new Map(states.map((state) => [`${state.route}\u0000${state.fingerprint}`, state]));
  const firingNow = new Set(firing.map((alert) => alert.fingerprint));
  const latest = new Map(resolved.map((alert) => [alert.fingerprint, alert]));
  const out: NotificationUpsert[] = [];
  const areaKeys = new Map<string, string>();
  for (const route of routes) {
    const matches = route.match === undefined ? undefined : routeMatcher(route.match, areaKeys);
    const takes = (alert: AlertRecord): boolean => matches === undefined || matches(alert.labels);
    if (route.digestAt !== undefined) {
      const { at: slot, today } = digestSlot(route.digestAt, now, timeZone);
      const state = known.get(`${route.key}\u0000${DIGEST}`);
      if (state === undefined ? !today : state.startsAt >= slot) continue;
      out.push({ route: route.key, fingerprint: DIGEST, alertname: DIGEST, status: 'firing', startsAt: slot, seq: (state?.seq ?? 0) + 1, alert: buildDigest(firing, takes, slot) });
      continue;
    }
    for (const alert of firing) {
      if (!takes(alert)) continue;
      const startsAt = alert.firedAt ?? alert.activeAt;
      const state = known.get(`${route.key}\u0000${alert.fingerprint}`);
      if (state?.status === 'firing' && state.startsAt === startsAt) continue;
      out.push({
        route: route.key,
        fingerprint: alert.fingerprint,
        alertname: alert.labels['alertname'] ?? '',
        status: 'firing',
        startsAt,
        seq: (state?.seq ?? 0) + 1,
        alert: webhookAlert(alert),
      });
    }
  }
  const alertRoutes = new Set(routes.filter((r) => r.digestAt === undefined).map((r) => r.key));
  for (const state of states) {
    if (state.status !== 'firing' || state.fingerprint === DIGEST || firingNow.has(state.fingerprint) || !alertRoutes.has(state.route)) continue;
    const record = latest.get(state.fingerprint);
    const endsAt = new Date(now).toISOString();
    const before = state.alert as WebhookAlert;
    // The facts as they were when it fired, when the record no longer has them (loaded from the store, not evaluated since).
    const alert: WebhookAlert =
      record === undefined
        ? { ...before, endsAt }
        : { ...webhookAlert(record, now), startsAt: before.startsAt, ...(record.facts === undefined && before.facts !== undefined ? { facts: before.facts } : {}) };
    out.push({
      route: state.route,
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
