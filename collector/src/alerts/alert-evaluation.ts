/**
 * Pending and firing, as Prometheus decides them: an alert whose condition holds is pending
 * from the first evaluation that sees it (`activeAt`) and fires at the first evaluation at
 * least its `for` duration later (`firedAt`, the notification's startsAt); when the condition
 * stops holding, a pending alert is dropped and a firing one is resolved. A condition that
 * asks for confirmation (SpeedwatchSiteBelowTarget with `alerts.confirmBelowTarget`) fires
 * only when the `confirm` gate says so (confirmation.ts). Pure: the previous alerts come from
 * the store, the conditions from alert-rules.ts.
 */
import type { Labels } from './alert-fingerprint.js';
import type { AlertCondition, AlertFacts, ConditionSet } from './alert-rules.js';

export type AlertState = 'pending' | 'firing';

export interface AlertRecord {
  fingerprint: string;
  labels: Labels;
  annotations: Readonly<Record<string, string>>;
  state: AlertState;
  /** The condition's figure at the latest evaluation (see AlertCondition.value). */
  value: number;
  /** When the condition was first seen holding, ms. */
  activeAt: number;
  /** When the alert fired, ms; set only when firing. */
  firedAt?: number;
  /** The figures behind the annotations, for messages to people; absent on an alert loaded from the store and not evaluated since. */
  facts?: AlertFacts;
  /** When the confirmation test was asked for (SpeedwatchSiteBelowTarget, `alerts.confirm`), ms; set only while pending. */
  confirmRequestedAt?: number;
}

export interface Evaluation {
  /** Pending and firing alerts after this evaluation, firing first, then by alert name and fingerprint. */
  alerts: AlertRecord[];
  /** New alerts, and alerts whose state or annotations changed: what to write. */
  changed: AlertRecord[];
  /** Alerts whose condition no longer holds (pending ones dropped, firing ones resolved): what to delete. */
  removed: AlertRecord[];
  /** Alerts that fired at this evaluation. */
  fired: AlertRecord[];
  /** Alerts that were firing and are resolved at this evaluation (`now`). */
  resolved: AlertRecord[];
}

/** What of an evaluation is written to the store. */
export type AlertChanges = Pick<Evaluation, 'changed' | 'removed'>;

/**
 * What to do with a pending alert whose `for` has passed and whose condition asks for
 * confirmation: `request` a confirmation test (it stays pending, `confirmRequestedAt` now),
 * `wait` for the one asked for, `hold` (stay pending, not asking yet), `fire`, or `restart` its
 * pending period (the confirmation met the target).
 */
export type ConfirmDecision = 'request' | 'wait' | 'hold' | 'fire' | 'restart';

/** Decides for a condition with `confirm` set; `previous` is the alert as it stands (pending). */
export type ConfirmGate = (condition: AlertCondition, previous: AlertRecord | undefined, now: number) => ConfirmDecision;

export function evaluateAlerts(previous: readonly AlertRecord[], conditions: ConditionSet, now: number, confirm?: ConfirmGate): Evaluation {
  const before = new Map(previous.map((alert) => [alert.fingerprint, alert]));
  const alerts: AlertRecord[] = [];
  const changed: AlertRecord[] = [];
  const fired: AlertRecord[] = [];
  const seen = new Set<string>();

  for (const condition of conditions.active) {
    if (seen.has(condition.fingerprint)) continue;
    seen.add(condition.fingerprint);
    const old = before.get(condition.fingerprint);
    let activeAt = old?.activeAt ?? now;
    let firing = old?.state === 'firing' || now - activeAt >= condition.forMs;
    let confirmRequestedAt: number | undefined;
    if (firing && old?.state !== 'firing' && condition.confirm !== undefined && confirm !== undefined) {
      const decision = confirm(condition, old, now);
      if (decision !== 'fire') firing = false;
      if (decision === 'request') confirmRequestedAt = now;
      else if (decision === 'wait') confirmRequestedAt = old?.confirmRequestedAt ?? now;
      else if (decision === 'restart') activeAt = now;
    }
    const next: AlertRecord = {
      fingerprint: condition.fingerprint,
      labels: condition.labels,
      annotations: condition.annotations,
      state: firing ? 'firing' : 'pending',
      value: condition.value,
      activeAt,
      facts: condition.facts,
    };
    if (firing) next.firedAt = old?.firedAt ?? now;
    if (confirmRequestedAt !== undefined) next.confirmRequestedAt = confirmRequestedAt;
    alerts.push(next);
    if (firing && old?.state !== 'firing') fired.push(next);
    if (
      old === undefined ||
      old.state !== next.state ||
      old.activeAt !== next.activeAt ||
      old.confirmRequestedAt !== next.confirmRequestedAt ||
      !sameAnnotations(old.annotations, next.annotations)
    ) {
      changed.push(next);
    }
  }

  const removed: AlertRecord[] = [];
  const resolved: AlertRecord[] = [];
  for (const old of previous) {
    if (seen.has(old.fingerprint)) continue;
    if (conditions.heldFingerprints.has(old.fingerprint) || conditions.heldAlertnames.has(old.labels['alertname'] ?? '')) {
      alerts.push(old);
      continue;
    }
    removed.push(old);
    if (old.state === 'firing') resolved.push(old);
  }
  alerts.sort(byDisplayOrder);
  return { alerts, changed, removed, fired, resolved };
}

/** Firing before pending, then by alert name, then by fingerprint. */
export function byDisplayOrder(a: AlertRecord, b: AlertRecord): number {
  if (a.state !== b.state) return a.state === 'firing' ? -1 : 1;
  const nameA = a.labels['alertname'] ?? '';
  const nameB = b.labels['alertname'] ?? '';
  if (nameA !== nameB) return nameA < nameB ? -1 : 1;
  return a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0;
}

function sameAnnotations(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
